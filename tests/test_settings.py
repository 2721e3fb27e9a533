"""Settings come from the environment; production refuses to start half-configured."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def settings_of(**env: str) -> subprocess.CompletedProcess:
    """Import forum.settings in a fresh interpreter with exactly these variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    clean.pop("REDIS_URL", None)
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(settings.DEBUG, d['ENGINE'], d.get('OPTIONS', {}).get('transaction_mode'), "
        "settings.CACHES['default']['BACKEND'], settings.ALLOWED_HOSTS)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "forum.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = settings_of()

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_development_defaults_to_sqlite_with_immediate_transactions():
    result = settings_of(DJANGO_DEBUG="1")

    assert result.stdout.split(" ", 4) == [
        "True",
        "django.db.backends.sqlite3",
        "IMMEDIATE",
        "django.core.cache.backends.locmem.LocMemCache",
        "['127.0.0.1', 'localhost']\n",
    ]


def test_production_from_the_environment():
    result = settings_of(
        DJANGO_SECRET_KEY="k" * 50,
        DJANGO_ALLOWED_HOSTS="forum.example.org, www.forum.example.org",
        DATABASE_URL="postgres://forum:pw@db.internal:5432/forum",
        REDIS_URL="redis://cache.internal:6379/0",
    )

    assert result.stdout.split(" ", 4) == [
        "False",
        "django.db.backends.postgresql",
        "None",
        "django.core.cache.backends.redis.RedisCache",
        "['forum.example.org', 'www.forum.example.org']\n",
    ]


def test_a_bad_boolean_is_refused():
    result = settings_of(DJANGO_DEBUG="maybe")

    assert "DJANGO_DEBUG must be a boolean" in result.stderr


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite settings")
@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20_000
