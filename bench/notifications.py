"""The notifications benchmark behind `make bench`: a reply into a topic 1,000 members
watch, and the inbox of a member with 10,000 notifications.

    .venv/bin/python bench/notifications.py [--quick]

In a fresh SQLite database, and again on a throwaway PostgreSQL cluster when its
server is installed:

* 1,000 members (confirmed addresses, mailed soon after) watch a topic of 200
  posts; another member replies to random posts of it through
  `services.post_reply`, which writes the reply, the 1,000 inbox entries,
  their counts and pending mails, and schedules the mail, in one transaction;
* a member with 10,000 notifications (in 2,000 topics, the newest 2,000
  unread) opens /notifications/ and an older page of it, through Django's
  WSGI handler with their session, as a browser would.

It prints the median and 95th percentile of each against its target, and
adds them to bench/results.json under "notifications".
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.run import warm_renderer  # noqa: E402
from threads import services  # noqa: E402
from threads.models import Inbox, Level, Notification, Post, Reason, User  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
TARGETS = {"reply_1000_watchers_ms": 20.0, "inbox_10k_ms": 10.0}
WATCHERS = 1_000
NOTIFICATIONS = 10_000


def _members(prefix: str, count: int) -> list[User]:
    return User.objects.bulk_create(
        User(username=f"{prefix}{n}", email=f"{prefix}{n}@example.org", email_confirmed=True)
        for n in range(count)
    )


def measure_reply(replies: int) -> dict:
    """Replies into a topic of 200 posts that WATCHERS members watch."""
    author = services.user_create(username="replier", email="r@example.org", password="bench")
    topic = services.topic_create(author=author, title="Backups at home", body="How?")
    for n in range(199):
        services.post_reply(author=author, topic=topic, body=f"Post {n}")
    for watcher in _members("watcher", WATCHERS):
        services.watch_set(member=watcher, topic=topic, level=Level.WATCHING)
    _analyze()
    ids = list(Post.objects.filter(topic=topic).values_list("pk", flat=True))
    chance = random.Random(1)
    services.post_reply(author=author, topic=topic, body="Warm-up")  # starts the renderer
    times = []
    for n in range(replies):
        parent = Post(pk=chance.choice(ids))
        start = time.perf_counter()
        services.post_reply(author=author, topic=topic, parent=parent, body=f"A reply, {n}.")
        times.append(time.perf_counter() - start)
    notified = Notification.objects.filter(topic=topic).count()
    assert notified == WATCHERS, notified  # one entry per watcher, collapsed
    return _figures(times) | {"watchers": WATCHERS, "replies": replies}


def measure_inbox(seconds: float) -> dict:
    """The inbox of a member with NOTIFICATIONS notifications, first and an older page."""
    reader = services.user_create(username="reader", email="reader@example.org", password="b")
    other = services.user_create(username="other", email="other@example.org", password="b")
    topics = [
        services.topic_create(author=other, title=f"Topic {n}", body="Hello")
        for n in range(NOTIFICATIONS // 5)
    ]
    openings = dict(Post.objects.filter(level=0).values_list("topic_id", "pk"))
    now = timezone.now()
    reasons = list(Reason)
    entries = []
    for n in range(NOTIFICATIONS):
        topic = topics[n % len(topics)]
        moment = now - timedelta(minutes=NOTIFICATIONS - n)
        unread = n >= NOTIFICATIONS - len(topics)  # one unread entry per topic and reason
        entries.append(
            Notification(
                member=reader,
                topic=topic,
                reason=reasons[n % len(reasons)] if unread else Reason.REPLY,
                first_post_id=openings[topic.pk],
                last_post_id=openings[topic.pk],
                count=1 + n % 3,
                created=moment,
                updated=moment,
                read=None if unread else moment,
            )
        )
    # Set-up only: 10,000 replies through the services would take minutes.
    Notification.objects.bulk_create(entries, batch_size=500)
    Inbox.objects.create(member=reader, unread=len(topics))
    _analyze()
    client = Client()
    client.force_login(reader)
    handler = WSGIHandler()
    environ = RequestFactory()._base_environ(SERVER_NAME="127.0.0.1")
    environ["HTTP_COOKIE"] = f"sessionid={client.cookies['sessionid'].value}"

    def get(query: str = "") -> bytes:
        request = {**environ, "PATH_INFO": "/notifications/", "QUERY_STRING": query}
        status = []
        body = b"".join(handler(request, lambda s, h: status.append(s)))
        assert status[0].startswith("200"), status
        return body

    older = get().decode().split('href="?before=')[1].split('"')[0]
    for _ in range(20):
        older = get(f"before={older}").decode().split('href="?before=')[1].split('"')[0]
    results = {}
    for label, query in (("first_page", ""), ("page_21", f"before={older}")):
        with CaptureQueriesContext(connection) as captured:
            get(query)
        queries = len(captured)  # (the next requests reset the log it reads)
        times, began = [], time.perf_counter()
        while len(times) < 20 or (time.perf_counter() - began < seconds and len(times) < 2000):
            start = time.perf_counter()
            get(query)
            times.append(time.perf_counter() - start)
        results[label] = _figures(times) | {"queries": queries}
    return results | {"notifications": Notification.objects.filter(member=reader).count()}


def _analyze() -> None:
    """PostgreSQL's planner statistics, as a server that has run a while has them (autovacuum)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _figures(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[max(0, int(len(times) * 0.95) - 1)] * 1000,
    }


def measure(quick: bool) -> dict:
    call_command("migrate", verbosity=0)
    warm_renderer()
    return {
        "vendor": connection.vendor,
        "reply": measure_reply(20 if quick else 100),
        "inbox": measure_inbox(1.0 if quick else 4.0),
    }


def postgresql_phase(quick: bool) -> dict | None:
    if not any(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        return None
    out = Path(tempfile.mkdtemp()) / "pg.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, __file__, "--phase", "postgresql", "--out", str(out)]
    command += ["--quick"] if quick else []
    subprocess.run([str(ROOT / "scripts" / "with-postgres"), *command], check=True, env=env)
    return json.loads(out.read_text())


def _line(label: str, figures: dict, target: float) -> str:
    verdict = "met" if figures["median_ms"] <= target else "MISSED"
    extra = f", {figures['queries']} queries" if "queries" in figures else ""
    return (
        f"  {label:<44} median {figures['median_ms']:6.2f} ms, p95 {figures['p95_ms']:6.2f} ms"
        f"{extra}  (target ≤ {target:g} ms: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--phase", choices=["all", "postgresql"], default="all")
    parser.add_argument("--out", default=str(RESULTS))
    options = parser.parse_args()
    result = measure(options.quick)
    if options.phase == "postgresql":
        Path(options.out).write_text(json.dumps(result))
        return
    runs = [result] + ([pg] if (pg := postgresql_phase(options.quick)) else [])
    print("Notifications")
    for run in runs:
        vendor = run["vendor"]
        print(_line(f"reply, {WATCHERS:,} watching ({vendor})", run["reply"], 20.0))
        for label, figures in run["inbox"].items():
            if isinstance(figures, dict):
                name = f"/notifications/ {label}, {NOTIFICATIONS:,} ({vendor})"
                print(_line(name, figures, TARGETS["inbox_10k_ms"]))
    out = Path(options.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["notifications"] = {"targets": TARGETS, "runs": runs}
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Results written to {options.out}")


if __name__ == "__main__":
    main()
