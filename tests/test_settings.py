"""Settings come from the environment; production refuses to start half-configured."""

import os
import secrets
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
        "django_redis.cache.RedisCache",
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


def test_the_deployment_checklist_passes_with_production_settings():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "forum.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "forum.example.org",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_is_https_only():
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "forum.settings", "DJANGO_SECRET_KEY": "k" * 50}

    flags = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    assert flags.stdout.split() == ["True", "True", "True", "31536000"]


@pytest.mark.django_db
def test_every_page_carries_the_security_headers(client):
    response = client.get("/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_only_the_admin_allows_inline_styles(admin_client):
    policy = admin_client.get("/admin/")["Content-Security-Policy"]

    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy + ";"


def media_settings_of(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    code = (
        "from django.conf import settings; "
        "print(settings.STORAGES['default'], "
        "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "forum.settings", "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_uploads_go_to_the_filesystem_by_default():
    result = media_settings_of()

    assert result.stdout == (
        "{'BACKEND': 'django.core.files.storage.FileSystemStorage', 'OPTIONS': {}} [\"'self'\"]\n"
    )


def test_another_storage_for_uploads_from_the_environment():
    result = media_settings_of(
        DJANGO_MEDIA_STORAGE="storages.backends.s3.S3Storage",
        DJANGO_MEDIA_STORAGE_OPTIONS='{"bucket_name": "forum", "querystring_auth": false}',
        DJANGO_MEDIA_ORIGIN="https://cdn.example.com/",
    )

    assert result.stdout == (
        "{'BACKEND': 'storages.backends.s3.S3Storage', "
        "'OPTIONS': {'bucket_name': 'forum', 'querystring_auth': False}} "
        "[\"'self'\", 'https://cdn.example.com']\n"
    )


@pytest.mark.parametrize("options", ["{bucket: forum}", '["forum"]'])
def test_storage_options_must_be_a_json_object(options):
    result = media_settings_of(DJANGO_MEDIA_STORAGE_OPTIONS=options)

    assert "DJANGO_MEDIA_STORAGE_OPTIONS must be a JSON object" in result.stderr
