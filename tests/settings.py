"""Settings for the test suite: the real settings, plus what tests need."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
# The test client speaks plain HTTP; production settings are checked in test_settings.py.
os.environ.setdefault("DJANGO_HTTPS", "0")

from forum.settings import *  # noqa: F403
from forum.settings import DATABASES, FORUM_LIMITS, STORAGES

# Hashing passwords slowly is a defence, not something tests need to measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests never run collectstatic, so there is no manifest to look names up in.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

# Serve static files from the source folders, as runserver does (no collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, as in production: an in-memory database shares one cache between
    # connections, and concurrent writers there fail instead of waiting their turn.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"forum-tests-{os.getpid()}.sqlite3")
    }

# The abuse limits as production has them, for the tests of the limits (their
# fixtures turn them on); other tests post as fast as they like.
PRODUCTION_LIMITS = dict(FORUM_LIMITS)
FORUM_LIMITS = {
    **FORUM_LIMITS,
    "post_interval": timedelta(0),
    "duplicate_window": timedelta(0),
    "new_account_post_interval": timedelta(0),
    "new_account_posts_per_day": None,
    "approval_posts": 0,
    "new_account_links": None,
    "edit_interval": timedelta(0),
    "new_account_edit_interval": timedelta(0),
    "previews_per_window": None,
    "renders_per_burst": None,
    "password_changes_per_window": None,
    "avatar_uploads_per_window": None,
    "renders_per_window": None,
    "signups_per_address": None,
    "byline_changes_per_window": None,
    "reset_mails_per_email": None,
    "reset_mails_per_address": None,
    "confirmation_mails_per_member": None,
}
# Workers the tests start try a refused mail again soon, not in a minute.
FORUM_MAIL_RETRY_DELAYS = [timedelta(seconds=0.5)] * 3
