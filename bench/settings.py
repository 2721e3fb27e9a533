"""Settings for the benchmarks: the test settings, plus the benchmark's own URLs."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-not-a-secret")

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEBUG = False
# The benchmark serves the pages as production does, but its reference views are
# measured with the same middleware.
TEMPLATES[0]["DIRS"].append(BASE_DIR / "bench" / "templates")  # noqa: F405
