"""Hostile bodies against the forum: each answered within 2 s, nothing corrupted.

    .venv/bin/python bench/hostile.py [--size 50000]

In a fresh SQLite database, a member sends every shape of tests/hostile.py
(the review's findings and the ones found since), at the longest size a post
may have, through the whole request stack (Django's test client: middleware,
forms, services, the render workers): once as Preview and once as a reply.
It prints each request's time and status, and the slowest, then checks that

* no request took over 2 s or answered 5xx;
* `manage.py check_trees` finds nothing, and no post stored before the run
  changed;
* ordinary posts render exactly as before, in the same process.

It exits non-zero when any of these fails.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/hostile.sqlite3"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from tests.hostile import SHAPES  # noqa: E402
from threads import rendering, selectors, services  # noqa: E402
from threads.models import Post  # noqa: E402

TARGET_SECONDS = 2.0
ORDINARY = [
    "Hello, **forum**.",
    "# Notes\n\n- one\n- [two](https://example.org/)\n\n1. a\n2. b\n\nPara *x*\nline",
    "```python\nprint('<hi>')\n```\n\n| a | b |\n|---|--:|\n| 1 | 2 |",
    "> quoted\n\nsee https://example.org and `code`",
]


def stored_posts() -> dict[int, tuple[str, str]]:
    return {pk: (html, fragment) for pk, html, fragment in Post.objects.values_list(
        "pk", "body_html", "fragment")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000, help="characters per body")
    options = parser.parse_args()

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 4xx are expected here
    call_command("migrate", verbosity=0)
    member = services.user_create(
        username="hostile", email="hostile@example.org", password="bench-password"
    )
    topic = services.topic_create(author=member, title="Under attack", body=ORDINARY[0])
    for body in ORDINARY[1:]:
        services.post_reply(author=member, topic=topic, body=body)
    before_posts = stored_posts()
    before_html = [rendering.markdown_to_html(body) for body in ORDINARY]

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    url = reverse("threads:topic_reply", args=[topic.pk])
    rows, failures = [], []
    print(f"{'shape':<24} {'chars':>6}  {'preview':>12}  {'post':>12}")
    for name, shape in SHAPES.items():
        body = shape(options.size)
        timings = []
        for data in ({"body": body, "preview": "1"}, {"body": body}):
            began = time.perf_counter()
            response = client.post(url, data)
            seconds = time.perf_counter() - began
            timings.append((seconds, response.status_code))
            if seconds > TARGET_SECONDS or response.status_code >= 500:
                failures.append(f"{name}: {response.status_code} in {seconds:.2f} s")
        rows.append((name, timings))
        cells = "  ".join(f"{s:6.3f} s {code}" for s, code in timings)
        print(f"{name:<24} {len(body):>6}  {cells}", flush=True)

    slowest = max(
        (seconds, code, name, kind)
        for name, timings in rows
        for (seconds, code), kind in zip(timings, ("preview", "post"), strict=True)
    )
    print(
        f"\nSlowest: {slowest[3]} of {slowest[2]!r}, {slowest[0]:.3f} s "
        f"(status {slowest[1]}); target {TARGET_SECONDS:g} s"
    )

    problems = selectors.tree_problems()
    changed = [pk for pk, stored in before_posts.items() if stored_posts().get(pk) != stored]
    after_html = [rendering.markdown_to_html(body) for body in ORDINARY]
    print(f"check_trees: {'clean' if not problems else f'{len(problems)} problem(s)'}")
    print(f"Posts stored before the run that changed: {len(changed)}")
    print("Ordinary posts render as before: " + ("yes" if after_html == before_html else "NO"))
    failures += [p.message for p in problems] + [f"post {pk} changed" for pk in changed]
    if after_html != before_html:
        failures.append("ordinary posts render differently after the run")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
