# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_COMPILE := $(BIN)/pip-compile --quiet --strip-extras --no-header --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

.PHONY: run test test-postgres check serve bench lock

# Serve the forum with demo content on http://127.0.0.1:8000 (SQLite in the checkout),
# with the background worker beside it (mail goes to this console); Ctrl-C stops both.
# A new member's first FORUM_APPROVAL_POSTS posts wait for a moderator's approval.
FORUM_APPROVAL_POSTS ?= 2
run: $(VENV)/.run-deps
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=1 $(BIN)/python manage.py load_demo
	DJANGO_DEBUG=1 FORUM_APPROVAL_POSTS=$(FORUM_APPROVAL_POSTS) \
		scripts/with-worker $(BIN)/python manage.py runserver 127.0.0.1:8000

# Lint, migrations check and the whole test suite (its browser tests need Chromium,
# its cache tests a throwaway Redis).
test: $(VENV)/.dev-deps check
	scripts/install-debian-packages chromium redis-server
	scripts/with-redis $(BIN)/pytest -n auto

# The same suite on a throwaway PostgreSQL cluster.
test-postgres: $(VENV)/.dev-deps
	scripts/install-debian-packages chromium postgresql redis-server
	scripts/with-postgres scripts/with-redis $(BIN)/pytest -n auto

check: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

# Production serving, locally: gunicorn as forum/gunicorn.conf.py says (2 workers of
# 8 threads), static files by whitenoise, against whatever DATABASE_URL says (default:
# the SQLite file in the checkout), and the background worker as a process of its own.
# Without DJANGO_SECRET_KEY a throwaway key is made up.
serve: $(VENV)/.run-deps
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py migrate --no-input
	scripts/with-worker $(BIN)/gunicorn -c forum/gunicorn.conf.py --bind 127.0.0.1:8000 \
		--access-logfile -

serve: export DJANGO_SECRET_KEY ?= $(shell $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))")
serve: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,localhost
serve: export DJANGO_HTTPS ?= 0

# Hostile post bodies (each answered within 2 s), then big threads measured against
# the performance targets (writes bench/results.json), then a whole forum of 133,000
# posts (bench/scale.py; built once into bench/.cache/, which `--fresh` rebuilds), and
# the background rebuild of its busiest member's 16,000 bylines (bench/bylines.py), and
# a reply into a topic 1,000 members watch and an inbox of 10,000 (bench/notifications.py),
# and searches of the whole forum (bench/search.py).
# Uses wrk (Debian package) for the gunicorn figures and PostgreSQL when installed.
# `make bench BENCH_FLAGS=--quick` for shorter runs.
BENCH_FLAGS ?=
bench: $(VENV)/.dev-deps
	scripts/install-debian-packages wrk
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/run.py $(BENCH_FLAGS)
	$(BIN)/python bench/scale.py $(BENCH_FLAGS)
	$(BIN)/python bench/bylines.py
	$(BIN)/python bench/notifications.py $(BENCH_FLAGS)
	$(BIN)/python bench/search.py $(BENCH_FLAGS)

# Re-pin every dependency after changing pyproject.toml.
lock: $(VENV)/.dev-deps
	$(PIP_COMPILE) -o requirements/base.txt pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements/dev.txt pyproject.toml

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-deps: requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.run-deps
