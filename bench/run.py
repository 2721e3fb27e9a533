"""The benchmark behind `make bench`: big threads, measured against the targets.

    .venv/bin/python bench/run.py [--quick]

It builds its own data in a fresh SQLite database (topics of 100, 200, 1,000
and 10,000 replies shaped like real discussions: some top-level posts, long
back-and-forth chains, deeper than a page shows), then measures in one run:

* topic pages in-process through Django's WSGI handler (median server time),
  anonymous and logged in, beside the floor (the same bytes returned from
  memory through the same middleware) and a stock template loop;
* the queries each page makes;
* the time of a reply into the 10,000-post topic, on SQLite and, when
  PostgreSQL's server is installed, on a throwaway PostgreSQL cluster;
* a reply as a member sends it: the POST of the reply form through the whole
  handler (middleware, CSRF, session, the view, the service, the redirect)
  into the 1,000-reply topic, on SQLite and PostgreSQL alike;
* requests per second under gunicorn as `make serve` runs it (forum/gunicorn.conf.py:
  2 threaded workers), with wrk on loopback.

It prints a table and writes bench/results.json.
"""

import argparse
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.http import urlencode  # noqa: E402

from bench import urls as bench_urls  # noqa: E402
from bench.text import message_text  # noqa: E402
from threads import conversation, rendering, services  # noqa: E402
from threads.models import Post, Topic, User  # noqa: E402

SIZES = {"100": 100, "200": 200, "1k": 1_000, "10k": 10_000}
MEMBER = "bench_member"
# The member who replies through the form: an account older than a day, as most are.
WRITER = "bench_writer"

TARGETS = {
    "page_1k_anonymous_ms": 5.0,
    "page_1k_floor_ratio": 30.0,
    "page_10k_per_page_ms": 40.0,
    "logged_in_ratio": 1.5,
    "queries_anonymous": 5,
    "queries_logged_in": 8,
    "reply_10k_sqlite_ms": 15.0,
    "reply_10k_postgresql_ms": 30.0,
    "reply_post_1k_ms": 5.0,
    "rps_topic_200": 600,
    "rps_topic_list": 1000,
}


# --- Data ------------------------------------------------------------------------------------


def discussion(replies: int, seed: int) -> list[conversation.Message]:
    """A topic's messages in page order, shaped like a real discussion.

    About one reply in seven starts a new top-level post; half answer one of
    the last few posts (which builds long back-and-forth chains); the rest
    answer any earlier post.
    """
    chance = random.Random(seed)
    parents: list[int | None] = [None]
    for index in range(1, replies + 1):
        roll = chance.random()
        if roll < 0.15:
            parents.append(None)
        elif roll < 0.65:
            parents.append(chance.randint(max(0, index - 4), index - 1))
        else:
            parents.append(chance.randint(0, index - 1))
    children: dict[int | None, list[int]] = {}
    for index, parent in enumerate(parents):
        children.setdefault(parent, []).append(index)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    handles = [f"member{n}" for n in range(60)]
    messages, stack = [], [(index, 0) for index in reversed(children[None])]
    while stack:
        index, depth = stack.pop()
        handle = MEMBER if index % 50 == 7 else chance.choice(handles)
        moment = start + timedelta(minutes=index)
        messages.append(conversation.Message(depth, handle, moment, message_text(chance)))
        stack.extend((child, depth + 1) for child in reversed(children.get(index, [])))
    return messages


def build_data() -> dict[str, Topic]:
    call_command("migrate", verbosity=0)
    User.objects.create_user(username=MEMBER, password="bench")
    User.objects.create_user(
        username=WRITER, password="bench", date_joined=timezone.now() - timedelta(days=365)
    )
    conversations = [
        conversation.Conversation(f"A topic of {label} replies", discussion(size, seed))
        for seed, (label, size) in enumerate(SIZES.items())
    ]
    conversations += [
        conversation.Conversation(f"Small topic {n}", discussion(3, 100 + n)) for n in range(40)
    ]
    importer = services.user_create(
        username="importer", email="importer@example.org", password="bench", is_moderator=True
    )
    services.conversation_import(
        moderator=importer, documents=[conversation.Document("bench", conversations)]
    )
    return {label: Topic.objects.get(title=f"A topic of {label} replies") for label in SIZES}


# --- In-process measurements ----------------------------------------------------------------------


class Server:
    """Requests through Django's WSGI handler, as gunicorn would make them."""

    def __init__(self, member: str = MEMBER) -> None:
        self.handler = WSGIHandler()
        self.environ = RequestFactory()._base_environ(SERVER_NAME="127.0.0.1")
        client = Client()
        client.force_login(User.objects.get(username=member))
        # A member's browser sends the session cookie and, after its first page, the CSRF cookie.
        self.csrf = _get_new_csrf_string()
        self.member_cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={self.csrf}"

    def post(self, path: str, fields: dict[str, str]) -> str:
        """A form sent by the logged-in member, as a browser sends it; returns the redirect."""
        data = urlencode({"csrfmiddlewaretoken": _mask_cipher_secret(self.csrf), **fields})
        body = data.encode()
        environ = {
            **self.environ,
            "PATH_INFO": path,
            "REQUEST_METHOD": "POST",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_COOKIE": self.member_cookie,
            "HTTP_ORIGIN": "http://127.0.0.1",
            "wsgi.input": io.BytesIO(body),
        }
        status, headers = [], []

        def start_response(s, h):
            status.append(s)
            headers.extend(h)

        response = self.handler(environ, start_response)
        b"".join(response)
        response.close()
        assert status[0].startswith("302"), (path, status[0])
        return dict(headers)["Location"]

    def get(self, path: str, *, logged_in: bool = False) -> bytes:
        environ = {**self.environ, "PATH_INFO": path.split("?")[0], "REQUEST_METHOD": "GET"}
        environ["QUERY_STRING"] = path.split("?")[1] if "?" in path else ""
        if logged_in:
            environ["HTTP_COOKIE"] = self.member_cookie
        status = []
        body = b"".join(self.handler(environ, lambda s, h: status.append(s)))
        assert status[0].startswith("200"), (path, status[0])
        return body

    def medians_ms(self, requests: list[tuple[str, bool]], seconds: float) -> list[float]:
        """Median time of each (path, logged in) request, measured in turns.

        Taking turns, every request sees the same conditions, so their ratios
        hold even on a machine whose speed drifts.
        """
        for path, logged_in in requests:
            self.get(path, logged_in=logged_in)  # warm: caches filled, templates loaded
        times: list[list[float]] = [[] for _ in requests]
        began = time.perf_counter()
        while len(times[0]) < 15 or (
            time.perf_counter() - began < seconds and len(times[0]) < 2000
        ):
            for index, (path, logged_in) in enumerate(requests):
                start = time.perf_counter()
                self.get(path, logged_in=logged_in)
                times[index].append(time.perf_counter() - start)
        return [statistics.median(t) * 1000 for t in times]

    def queries(self, path: str, *, logged_in: bool = False) -> int:
        """Queries of one request with an empty cache, as after a write to the topic."""
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            self.get(path, logged_in=logged_in)
        return len(captured)


def page_paths(topic: Topic) -> list[str]:
    pages = max(1, _page_count(topic))
    return [topic.get_absolute_url() + (f"?page={n}" if n > 1 else "") for n in range(1, pages + 1)]


def _page_count(topic: Topic) -> int:
    from threads import selectors

    return len(selectors.threads._pages(topic))


def measure_pages(topics: dict[str, Topic], quick: bool) -> dict:
    server, results = Server(), {}
    seconds = 1.0 if quick else 4.0
    for label, topic in topics.items():
        paths = page_paths(topic)
        for index, path in enumerate(paths):
            bench_urls.FLOOR[f"{label}-{index}"] = server.get(path)
        requests = [(path, False) for path in paths] + [(path, True) for path in paths]
        requests += [(f"/bench/floor/{label}-{index}/", False) for index in range(len(paths))]
        medians = server.medians_ms(requests, seconds)
        count = len(paths)
        anonymous, logged_in, floors = medians[:count], medians[count:-count], medians[-count:]
        worst = max(range(count), key=lambda i: anonymous[i])
        loop = server.medians_ms([(f"/bench/template-loop/{topic.pk}/", False)], seconds / 4)
        results[label] = {
            "replies": topic.reply_count,
            "pages": count,
            "page_bytes": len(bench_urls.FLOOR[f"{label}-{worst}"]),
            "anonymous_ms": anonymous[worst],
            "logged_in_ms": logged_in[worst],
            "floor_ms": floors[worst],
            "template_loop_ms": loop[0],
            "queries_anonymous": server.queries(paths[worst]),
            "queries_logged_in": server.queries(paths[worst], logged_in=True),
        }
    anonymous, logged_in = server.medians_ms([("/", False), ("/", True)], seconds)
    results["topic_list"] = {
        "anonymous_ms": anonymous,
        "logged_in_ms": logged_in,
        "queries_anonymous": server.queries("/"),
        "queries_logged_in": server.queries("/", logged_in=True),
    }
    return results


def warm_renderer() -> None:
    """Start this process's render workers, as a server's first renders do.

    Their start can take longer than a render may wait for a worker on a busy
    machine (the first renders are refused as Busy): the figures are of the renders after.
    """
    for _ in range(50):
        try:
            rendering.markdown_to_html("warming up")
            return
        except rendering.Busy:
            time.sleep(0.2)
    raise RuntimeError("the render workers did not start")


def measure_replies(topic: Topic, count: int) -> dict:
    """Replies into the big topic, to random posts: the write a member waits for."""
    warm_renderer()
    author = User.objects.get(username=MEMBER)
    ids = list(Post.objects.filter(topic=topic).values_list("pk", flat=True))
    chance = random.Random(1)
    times = []
    for _ in range(count):
        parent = Post(pk=chance.choice(ids))
        start = time.perf_counter()
        services.post_reply(author=author, topic=topic, parent=parent, body="A short reply.")
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "vendor": connection.vendor,
        "posts_in_topic": len(ids),
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
    }


# The limits as production has them, but that a benchmark replying many times a
# second is never refused: every check still runs its queries, and never says no.
_NEVER = 10**9
BENCH_LIMITS = {
    **getattr(settings, "PRODUCTION_LIMITS", settings.FORUM_LIMITS),
    "post_interval": timedelta(0),
    "renders_per_burst": _NEVER,
    "renders_per_window": _NEVER,
}


def measure_reply_posts(topic: Topic, count: int) -> dict:
    """Replies as a member sends them: the POST of the reply form, through the whole handler.

    Middleware, CSRF, the session and the member, the view, the service, the
    redirect to the new post, into the 1,000-reply topic, to random posts,
    with the production limits' checks (`BENCH_LIMITS`).
    """
    warm_renderer()
    ids = list(Post.objects.filter(topic=topic).values_list("pk", flat=True))
    chance = random.Random(2)
    times = []
    with override_settings(FORUM_LIMITS=BENCH_LIMITS):
        server = Server(WRITER)
        for number in range(count + 5):
            path = f"/p/{chance.choice(ids)}/reply/"
            fields = {"body": f"A short reply, number {number}."}
            start = time.perf_counter()
            location = server.post(path, fields)
            elapsed = time.perf_counter() - start
            assert "#p" in location, location
            if number >= 5:  # the first ones start the render workers
                times.append(elapsed)
    times.sort()
    return {
        "vendor": connection.vendor,
        "posts_in_topic": len(ids),
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
    }


# --- Other phases -------------------------------------------------------------------------------


def postgresql_phase(quick: bool) -> dict | None:
    """The reply measurement again, on a throwaway PostgreSQL cluster."""
    if not any(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        return None
    out = Path(tempfile.mkdtemp()) / "pg.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, __file__, "--phase", "postgresql", "--out", str(out)]
    command += ["--quick"] if quick else []
    subprocess.run([str(ROOT / "scripts" / "with-postgres"), *command], check=True, env=env)
    return json.loads(out.read_text())


def wrk_phase(topics: dict[str, Topic], quick: bool) -> dict | None:
    """Requests per second under gunicorn as `make serve` runs it, wrk on loopback."""
    if shutil.which("wrk") is None:
        return None
    connections.close_all()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "forum/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/bench/trivial/")
        results = {}
        for name, path in [
            ("trivial", "/bench/trivial/"),
            ("topic_list", "/"),
            ("topic_200", topics["200"].get_absolute_url()),
        ]:
            subprocess.run(["curl", "-sf", "-o", "/dev/null", base + path], check=True)
            duration = "3s" if quick else "8s"
            output = subprocess.run(
                ["wrk", "-t1", "-c8", "-d", duration, base + path],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            line = next(line for line in output.splitlines() if line.startswith("Requests/sec"))
            results[name] = float(line.split()[1])
        return results
    finally:
        gunicorn.terminate()
        gunicorn.wait()


def _wait_for(url: str) -> None:
    for _ in range(100):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer at {url}")


# --- Report ------------------------------------------------------------------------------


def report(
    pages: dict, replies: list[dict], reply_posts: list[dict], rps: dict | None, seconds: float
) -> dict:
    one_k, ten_k = pages["1k"], pages["10k"]
    worst_logged_in_ratio = max(
        pages[label]["logged_in_ms"] / pages[label]["anonymous_ms"] for label in SIZES
    )
    page_queries = [pages[label] for label in SIZES] + [pages["topic_list"]]
    figures = {
        "page_1k_anonymous_ms": one_k["anonymous_ms"],
        "page_1k_floor_ratio": one_k["anonymous_ms"] / one_k["floor_ms"],
        "page_10k_per_page_ms": ten_k["anonymous_ms"],
        "logged_in_ratio": worst_logged_in_ratio,
        "queries_anonymous": max(p["queries_anonymous"] for p in page_queries),
        "queries_logged_in": max(p["queries_logged_in"] for p in page_queries),
    }
    for reply in replies:
        figures[f"reply_10k_{reply['vendor']}_ms"] = reply["median_ms"]
    for reply in reply_posts:
        suffix = "" if reply["vendor"] == "sqlite" else f"_{reply['vendor']}"
        figures[f"reply_post_1k{suffix}_ms"] = reply["median_ms"]
    if rps:
        figures["rps_topic_200"] = rps["topic_200"]
        figures["rps_topic_list"] = rps["topic_list"]

    print("\nTopic pages, in-process (median server time, slowest page of the topic;")
    print("queries: anonymous/member with an empty cache)")
    print(f"{'topic':>8} {'pages':>5} {'KB':>6} {'anon ms':>8} {'member ms':>9} "
          f"{'floor ms':>8} {'x floor':>7} {'loop ms':>8} {'queries':>8}")  # fmt: skip
    for label in SIZES:
        p = pages[label]
        print(
            f"{label:>8} {p['pages']:>5} {p['page_bytes'] / 1024:>6.0f} {p['anonymous_ms']:>8.2f} "
            f"{p['logged_in_ms']:>9.2f} {p['floor_ms']:>8.3f} "
            f"{p['anonymous_ms'] / p['floor_ms']:>7.1f} {p['template_loop_ms']:>8.1f} "
            f"{p['queries_anonymous']:>4}/{p['queries_logged_in']}"
        )
    t = pages["topic_list"]
    print(
        f"{'list':>8} {'':>5} {'':>6} {t['anonymous_ms']:>8.2f} {t['logged_in_ms']:>9.2f} "
        f"{'':>8} {'':>7} {'':>8} {t['queries_anonymous']:>4}/{t['queries_logged_in']}"
    )
    print("\nReplies into the 10,000-reply topic")
    for reply in replies:
        print(
            f"  {reply['vendor']:>10}: median {reply['median_ms']:.1f} ms, "
            f"p95 {reply['p95_ms']:.1f} ms ({reply['posts_in_topic']:,} posts in the topic)"
        )
    print("\nA reply as a member sends it: the form's POST through the whole handler,")
    print("into the 1,000-reply topic, to random posts")
    for reply in reply_posts:
        print(
            f"  {reply['vendor']:>10}: median {reply['median_ms']:.2f} ms, "
            f"p95 {reply['p95_ms']:.2f} ms ({reply['posts_in_topic']:,} posts in the topic)"
        )
    if rps:
        print("\ngunicorn, 2 workers x 8 threads, wrk -t1 -c8 on loopback (requests/s)")
        for name, value in rps.items():
            print(f"  {name:>12}: {value:,.0f}")
    else:
        print("\ngunicorn phase skipped: wrk is not installed (apt-get install wrk)")

    print("\nTargets")
    for name, target in TARGETS.items():
        if name not in figures:
            print(f"  {name:<26} {'not measured':>10}")
            continue
        value = figures[name]
        ok = value >= target if name.startswith("rps") else value <= target
        bound = "≥" if name.startswith("rps") else "≤"
        print(f"  {name:<26} {value:>10.2f}   {bound} {target:<8} {'ok' if ok else 'MISSED'}")
    print(f"\nThe whole run took {seconds:.0f} s.")
    return {
        "figures": figures,
        "targets": TARGETS,
        "pages": pages,
        "replies": replies,
        "reply_posts": reply_posts,
        "rps": rps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--phase", choices=["all", "postgresql"], default="all")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    options = parser.parse_args()
    began = time.perf_counter()
    replies_count = 20 if options.quick else 100
    reply_posts_count = 60 if options.quick else 300

    topics = build_data()
    if options.phase == "postgresql":
        result = measure_replies(topics["10k"], replies_count)
        posts = measure_reply_posts(topics["1k"], reply_posts_count)
        Path(options.out).write_text(json.dumps({"service": result, "post": posts}))
        return

    print(f"Data: {Post.objects.count():,} posts in {Topic.objects.count()} topics")
    pages = measure_pages(topics, options.quick)
    rps = wrk_phase(topics, options.quick)
    replies = [measure_replies(topics["10k"], replies_count)]
    reply_posts = [measure_reply_posts(topics["1k"], reply_posts_count)]
    if pg := postgresql_phase(options.quick):
        replies.append(pg["service"])
        reply_posts.append(pg["post"])
    results = report(pages, replies, reply_posts, rps, time.perf_counter() - began)
    out = Path(options.out)
    if out.exists() and "scale" in (earlier := json.loads(out.read_text())):
        results["scale"] = earlier["scale"]  # bench/scale.py's figures, kept
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Results written to {options.out}")


if __name__ == "__main__":
    main()
