"""Settings for the forum, read from the environment.

Development (`make run`) sets DJANGO_DEBUG=1 and uses SQLite in the checkout.
Production sets at least DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DATABASE_URL;
see README.md, "Running in production".
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean such as 1 or 0, not {value!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_json_object(name: str) -> dict:
    try:
        value = json.loads(os.environ.get(name) or "{}")
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, not {value!r}.")
    return value


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production needs a long random secret key; "
            "for local development set DJANGO_DEBUG=1 (make run does)."
        )
    SECRET_KEY = "django-insecure-development-only-key"  # only ever used with DEBUG on

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The sitemap's templates (threads/views/sitemaps.py); no models.
    "django.contrib.sitemaps",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "mptt",
    "django_tasks",
    "django_tasks_db",
    "threads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session middleware, whose database errors it also turns into a 503.
    "forum.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Members only, when FORUM_LOGIN_REQUIRED is on.
    "forum.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "forum.middleware.CSPMiddleware",
    # NUL characters, unreadable charsets, admin selections that are not ids: 4xx, not 500.
    "forum.request_checks.RequestChecksMiddleware",
    # Last, as django-axes asks: it turns locked-out logins into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "forum.urls"
WSGI_APPLICATION = "forum.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Databases: SQLite in the checkout unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Writers queue up behind one another (BEGIN IMMEDIATE, busy timeout)
        # instead of failing with "database is locked"; readers never block in WAL mode.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "threads.User"
AUTHENTICATION_BACKENDS = [
    # Counts failed logins and refuses locked-out ones before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Deactivated (banned) members stay signed in and are told why they cannot post;
    # the member is read with their count of unread notifications.
    "threads.auth.MemberBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions are kept in the database (so that logging out ends them everywhere at once),
# read by one query of our own (forum/sessions.py).
SESSION_ENGINE = "forum.sessions"
LOGIN_URL = "login"
# A members-only forum: every page but log in, sign up and password reset needs a login.
FORUM_LOGIN_REQUIRED = env_bool("FORUM_LOGIN_REQUIRED")
LOGIN_REDIRECT_URL = "threads:index"
LOGOUT_REDIRECT_URL = "threads:index"

# The cache only spares work (keys name each topic's revision, so it is never stale):
# while Redis is down or hung, reads are misses and writes are skipped (django-redis's
# IGNORE_EXCEPTIONS, logged), pages are built from the database, and a call gives up
# after a tenth of a second. Once Redis is back, pages are cached again.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.1,
                "SOCKET_TIMEOUT": 0.1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background work (tasks in threads/services/): Django's task framework (the django-tasks
# backport) queued in the database, so that every app server enqueues into one
# queue and any number of workers (`manage.py db_worker`) share it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Mail is sent by the background worker (threads/services/mail.py), never by a request:
# to the console in development, through an SMTP server in production.
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS")  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL")  # TLS from the start, usually port 465
EMAIL_TIMEOUT = int(os.environ.get("DJANGO_EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "forum@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A mail the SMTP server could not take just now (refused connection, timeout, a 4xx
# answer) is tried again after each of these delays in turn, then given up.
FORUM_MAIL_RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
]
# How long the link that confirms an e-mail address works.
FORUM_EMAIL_CONFIRMATION_AGE = timedelta(days=3)
# Mail about notifications (threads/services/notification_mails.py), sent by the worker:
# members who chose "immediately" get one mail per topic this long after the first
# post it tells about (with every post of theirs waiting by then, less what they have
# read on the site meanwhile); members who chose the digest get one mail a day, at
# this hour of TIME_ZONE.
FORUM_NOTIFICATION_MAIL_DELAY = timedelta(
    seconds=int(os.environ.get("FORUM_NOTIFICATION_MAIL_DELAY", "600"))
)
FORUM_NOTIFICATION_DIGEST_HOUR = int(os.environ.get("FORUM_NOTIFICATION_DIGEST_HOUR", "7"))
if not 0 <= FORUM_NOTIFICATION_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured("FORUM_NOTIFICATION_DIGEST_HOUR must be an hour from 0 to 23.")
# How long the one-click unsubscribe link of a notification mail works.
FORUM_UNSUBSCRIBE_LINK_AGE = timedelta(days=365)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Uploads (avatars), through Django's storage API: files in MEDIA_ROOT by default,
# served by the forum itself at MEDIA_URL (forum/media.py). DJANGO_MEDIA_STORAGE names
# another backend (such as django-storages' S3Storage, which several app servers
# share), with its options as a JSON object in DJANGO_MEDIA_STORAGE_OPTIONS; when its
# files come from another origin (a CDN), DJANGO_MEDIA_ORIGIN lets pages show them.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_ORIGIN = os.environ.get("DJANGO_MEDIA_ORIGIN", "").rstrip("/")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("DJANGO_MEDIA_STORAGE")
        or "django.core.files.storage.FileSystemStorage",
        "OPTIONS": env_json_object("DJANGO_MEDIA_STORAGE_OPTIONS"),
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Everything goes to the console once: Django's own loggers hand their
# records to the root logger instead of printing them a second time.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "threads": {"level": "INFO"},
    },
}

# --- Security ----------------------------------------------------------------------

# Production serves over HTTPS only; `make serve` (plain HTTP on loopback) turns it off.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "threads.views.csrf_failure"
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 365 * 24 * 3600)) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY")


def _site_url() -> str:
    """Where the forum is served, for the links in mail a worker writes (it has no request)."""
    if url := os.environ.get("DJANGO_SITE_URL", "").rstrip("/"):
        return url
    host = next((h for h in ALLOWED_HOSTS if h != "*" and not h.startswith(".")), "localhost")
    return f"{'https' if HTTPS else 'http'}://{host}{':8000' if DEBUG else ''}"


FORUM_SITE_URL = _site_url()
if BEHIND_PROXY:
    # A reverse proxy terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Only the forum's own scripts, styles and images; no inline script, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, *([MEDIA_ORIGIN] if MEDIA_ORIGIN else [])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
    }
}

# Logins: an account is locked for a cool-off after repeated failures from one
# address, and an address after many more failures for any accounts (django-axes,
# counting in the database, so across all processes). The two limits are
# FORUM_LIMITS["login_failures_per_account"] and ["login_failures_per_address"].
AXES_FAILURE_LIMIT = "threads.clients.login_failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Usernames ignore case at login, so failures are counted ignoring case too.
AXES_USERNAME_CALLABLE = "threads.permissions.login_name"
# The client's address (X-Forwarded-For's last entry with DJANGO_BEHIND_PROXY), an
# IPv6 address as its /64, for django-axes and the sign-up and reset limits alike.
AXES_CLIENT_IP_CALLABLE = "threads.clients.client_address"

# Posting and sign-up limits (threads.services). Counted in the database under
# row locks, so they hold across any number of app servers.
FORUM_LIMITS = {
    # Every member: at most one post per interval, and the same text posted
    # again within the duplicate window leads to the first post instead.
    "post_interval": timedelta(seconds=5),
    "duplicate_window": timedelta(minutes=5),
    # Accounts younger than new_account_age: slower, fewer, and few links.
    "new_account_age": timedelta(days=1),
    "new_account_post_interval": timedelta(seconds=30),
    "new_account_posts_per_day": 10,
    "new_account_links": 2,
    # Edits: at most one per interval (rendering and the topic's cached pages
    # are renewed by each), and the same link limit as posts.
    "edit_interval": timedelta(seconds=5),
    "new_account_edit_interval": timedelta(seconds=30),
    # Previews per member in a window: plenty for writing, too few to keep the
    # renderer busy.
    "previews_per_window": 30,
    "preview_window": timedelta(minutes=10),
    # Tries at changing one's password or e-mail address (each checks the
    # password, a slow hash).
    "password_changes_per_window": 5,
    "password_change_window": timedelta(minutes=15),
    # Avatar uploads per member (checking and re-encoding an image costs up to half a second).
    "avatar_uploads_per_window": 10,
    "avatar_upload_window": timedelta(hours=1),
    # Renders per member (posts, edits and previews, stored or refused): each
    # may cost a render worker up to a second.
    "renders_per_burst": 3,
    "render_burst_window": timedelta(seconds=5),
    "renders_per_window": 12,
    "render_window": timedelta(minutes=1),
    # Changes of display name per member (avatars have their upload limit): each
    # rewrites all of the member's posts in the background.
    "byline_changes_per_window": 10,
    "byline_change_window": timedelta(days=1),
    # Searches by visitors who are not logged in, per address (members' are not counted).
    "searches_per_address": 30,
    "search_window": timedelta(minutes=1),
    # Sign-ups from one address.
    "signups_per_address": 5,
    "signup_window": timedelta(hours=1),
    # Password-reset mails: a few per e-mail address, so that nobody can fill
    # someone's inbox (a real member needs one, perhaps a second); more per
    # address asking, which may be a household or an office behind one address.
    # (Every limit per address counts an IPv6 address as its /64.)
    "reset_mails_per_email": 3,
    "reset_mails_per_address": 10,
    "reset_window": timedelta(hours=1),
    # Confirmation mails a member asks for (again, or for a new address): enough
    # for a typo or a lost mail, too few to mail someone else's inbox full.
    "confirmation_mails_per_member": 3,
    "confirmation_window": timedelta(hours=1),
    # Failed logins (django-axes, see AXES_FAILURE_LIMIT): one account from one
    # address is locked after a few; the address itself, for every account,
    # after many, so that one address cannot try a password on many usernames.
    "login_failures_per_account": 5,
    "login_failures_per_address": 30,
    # The admin's ConversationJS import refuses bigger files before reading them
    # (Django keeps uploads over 2.5 MB in a temporary file, not in memory, until
    # then); a file of 10,000 messages is about 2 MB.
    "import_max_bytes": 5 * 1024 * 1024,
    # Slow mode (a topic's moderators set it): the longest interval between one
    # member's posts in a topic; a reply looks back this far for their last one there.
    "slow_mode_max": timedelta(days=1),
    # Reports of posts per member in a window: enough for a wave of spam, too
    # few to bury the moderators' queue.
    "reports_per_window": 10,
    "report_window": timedelta(hours=1),
    # Auto-hide: a post reported by this many distinct members in good standing
    # (active, not suspended, older than new_account_age, not its author) is
    # hidden until a moderator decides. None: never hidden by reports alone.
    "reports_to_hide": None,
    # A member's first N posts wait for a moderator's approval (0: none do;
    # FORUM_APPROVAL_POSTS sets it, `make run` turns it on for the demo). New
    # topics in a category that requires approval always wait. A member with
    # pending_posts_per_member posts waiting may send no more until some are decided.
    "approval_posts": int(os.environ.get("FORUM_APPROVAL_POSTS", "0")),
    "pending_posts_per_member": 10,
}
# No request body is bigger than the biggest form (an import) with room to spare:
# bigger ones are refused before they are read (forum.request_checks).
FORUM_MAX_REQUEST_BYTES = FORUM_LIMITS["import_max_bytes"] + 1024 * 1024
