"""The scale benchmark behind `make bench`: a whole forum, imported, then its pages measured.

    .venv/bin/python bench/scale.py [--quick] [--fresh] [--explain]

It generates ConversationJS text for a forum of 20,000 topics, about 133,000
posts and 2,000 members (authors skewed as in real forums: the busiest member
writes about 16,000 posts), spread over 8 categories (one a subcategory, one
seen only by a group), and imports it category by category through
`services.conversation_import`, as `manage.py import_conversation` does. A small
forum of the same shape (about 1,000 posts) is built the same way. Each is
built once and kept in bench/.cache/ (keyed by the migrations, the rendering
code and this generator), so a second run only measures; `--fresh` rebuilds.

Then, in-process through Django's WSGI handler as bench/run.py measures
(median server time, anonymous and logged in as a member, in turns; the two
forums themselves take turns, 4 rounds of 2 s each), it measures the front
page, the biggest category's first, middle and last pages, the busiest
member's profile (newest posts and the deepest page, by keyset), a topic page
(the same topic of 100 posts in both forums) and the biggest topic's, the Atom
feeds (the forum's, the biggest category's, the biggest topic's, the busiest
member's) and the sitemap (its index and the middle page of its topics); and the
queries of each page (with an empty cache) on both forums, which must be
equal. It prints a table against the targets and adds the figures to
bench/results.json under "scale".
`--explain` prints the query plan of every query of the big forum's pages;
`--postgresql` builds and measures both forums on throwaway PostgreSQL
clusters instead (scripts/with-postgres; slower, not cached, under
"scale_postgresql").
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results.json"
# Bump when the generated forum changes shape.
GENERATOR_VERSION = 2
# What the built database depends on besides this generator.
BUILD_INPUTS = [
    "threads/migrations/*.py",
    "threads/rendering.py",
    "threads/services/interchange.py",
    "threads/services/categories.py",
    "threads/services/writes.py",
    "templates/threads/post_fragment.html",
    "templates/threads/topic_row.html",
    "bench/text.py",
    "threads/plaintext.py",
    "threads/services/search.py",
]

MEMBER = "bench_member"  # the member logged in (bench/run.py's Server logs in as this name)
TARGET_MS = 10.0
SITEMAP_TARGET_MS = 50.0  # a page of up to a thousand URLs


@dataclass(frozen=True)
class Shape:
    topics: int
    posts: int
    members: int
    biggest_topic: int  # replies at most


SHAPES = {
    "1k": Shape(topics=150, posts=1_000, members=60, biggest_topic=120),
    "133k": Shape(topics=20_000, posts=133_000, members=2_000, biggest_topic=1_200),
}

# slug, name, parent slug, share of topics, who sees it. "general" is the default category
# the migrations make; "staff-room" is seen only by the group of that name.
CATEGORIES = [
    ("general", "General", None, 0.10, ""),
    ("hardware", "Hardware", None, 0.30, ""),
    ("software", "Software", None, 0.15, ""),
    ("networking", "Networking", None, 0.12, ""),
    ("storage", "Storage", None, 0.10, ""),
    ("zfs", "ZFS", "storage", 0.08, ""),
    ("off-topic", "Off-topic", None, 0.10, ""),
    ("staff-room", "Staff room", None, 0.05, "groups"),
]
BIG_CATEGORY = "hardware"
REFERENCE_TITLE = "A reference topic of 100 posts"
REFERENCE_POSTS = 100


# --- The forum, as ConversationJS ---------------------------------------------------------------


def handles(shape: Shape) -> list[str]:
    """Member handles, busiest first; the logged-in member is among the regulars."""
    names = [f"member{rank}" for rank in range(1, shape.members + 1)]
    names[9] = MEMBER
    return names


def _topic_sizes(chance: random.Random, shape: Shape) -> list[int]:
    """Posts per topic: mostly a handful, a few hundreds, adding up to shape.posts."""
    raw = [chance.paretovariate(1.5) - 1 for _ in range(shape.topics)]
    replies_left = shape.posts - shape.topics
    scale = replies_left / sum(raw)
    replies = [min(shape.biggest_topic, int(r * scale)) for r in raw]
    short = replies_left - sum(replies)
    room = [i for i, r in enumerate(replies) if r < shape.biggest_topic]
    while short > 0:
        index = chance.choice(room)
        if replies[index] < shape.biggest_topic:
            replies[index] += 1
            short -= 1
    return [1 + r for r in replies]


def _depths(chance: random.Random, count: int) -> list[int]:
    """Reply depths in page order: a fifth start a new top-level post, most answer the last."""
    depths, depth = [0], 0
    for _ in range(count - 1):
        roll = chance.random()
        if roll < 0.2:
            depth = 0
        elif roll < 0.75:
            depth = min(depth + 1, 15)
        else:
            depth = chance.randint(min(1, depth), depth)
        depths.append(depth)
    return depths


def forum_text(shape: Shape, seed: int = 1) -> dict[str, str]:
    """Each category's ConversationJS file."""
    from bench.text import sentence
    from threads import conversation

    chance = random.Random(seed)
    names = handles(shape)
    # Zipf: the member of rank r writes in proportion to 1/r.
    cum, total = [], 0.0
    for rank in range(1, len(names) + 1):
        total += 1 / rank
        cum.append(total)
    start, span = datetime(2023, 1, 1, tzinfo=UTC), 3 * 365 * 86400

    def messages_of(chance: random.Random, size: int, moment: datetime) -> list:
        messages = []
        authors = chance.choices(names, cum_weights=cum, k=size)
        for depth, author in zip(_depths(chance, size), authors, strict=True):
            text = " ".join(sentence(chance) for _ in range(chance.randint(1, 2)))
            messages.append(conversation.Message(depth, author, moment, text))
            moment += timedelta(seconds=chance.randint(60, 3 * 3600))
        return messages

    slugs = [slug for slug, *_ in CATEGORIES]
    shares = [share for _, _, _, share, _ in CATEGORIES]
    per_category: dict[str, list] = {slug: [] for slug in slugs}
    # The topic page measured: the same topic in every forum, whatever its size.
    reference = messages_of(random.Random(seed), REFERENCE_POSTS, start + timedelta(days=400))
    per_category[BIG_CATEGORY].append(conversation.Conversation(REFERENCE_TITLE, reference))
    rest = replace(shape, topics=shape.topics - 1, posts=shape.posts - REFERENCE_POSTS)
    for number, size in enumerate(_topic_sizes(chance, rest), start=1):
        messages = messages_of(chance, size, start + timedelta(seconds=chance.randrange(span)))
        title = f"{sentence(chance)[:-1][:80]} ({number})"
        category = chance.choices(slugs, weights=shares)[0]
        per_category[category].append(conversation.Conversation(title, messages))
    return {slug: conversation.write(topics) for slug, topics in per_category.items()}


def build(shape: Shape) -> None:
    """Categories, the logged-in member, then every category's file imported (runs in Django)."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from threads import conversation, services
    from threads.models import Category, Topic

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    importer = services.user_create(
        username="importer", email="importer@example.org", password="bench", is_moderator=True
    )
    member = services.user_create(username=MEMBER, email="member@example.org", password="bench")
    member.groups.add(Group.objects.create(name="helpers"))
    staff = Group.objects.create(name="staff-room")
    categories = {"general": Category.objects.get(is_default=True)}
    for position, (slug, name, parent, _, who_sees) in enumerate(CATEGORIES):
        if slug not in categories:
            categories[slug] = services.category_create(
                moderator=importer,
                name=name,
                slug=slug,
                parent=categories[parent] if parent else None,
                position=position,
                who_sees=who_sees,
                seer_groups=[staff] if who_sees == "groups" else [],
            )
    texts = forum_text(shape)
    print(f"  generated {sum(len(t) for t in texts.values()) / 1e6:.1f} MB of ConversationJS "
          f"in {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    for slug, text in texts.items():
        document = conversation.read(text.encode(), filename=f"{slug}.md")
        services.conversation_import(
            documents=[document], moderator=importer, category=categories[slug]
        )
        print(f"  imported {slug} ({len(document.conversations):,} topics) "
              f"at {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    # A few pinned topics, as most forums have.
    for slug, count in [("general", 1), (BIG_CATEGORY, 2)]:
        for topic in Topic.objects.filter(category__slug=slug).order_by("created")[:count]:
            services.topic_set_pinned(topic=topic, moderator=importer, pinned=True)


# --- Measuring (runs in Django) ---------------------------------------------------------------


def pages(shape: Shape) -> dict[str, str]:
    """The paths measured, by name."""
    from django.contrib.auth.models import AnonymousUser

    from threads.models import Category, Post, Topic, User
    from threads.selectors import TOPICS_PER_PAGE, access
    from threads.views.sitemaps import TopicSitemap

    anonymous = AnonymousUser()
    front = max(1, math.ceil(access.visible_topics(anonymous).count() / TOPICS_PER_PAGE))
    big = Category.objects.get(slug=BIG_CATEGORY)
    last = max(1, math.ceil(big.topic_count / TOPICS_PER_PAGE))
    busiest = User.objects.get(username=handles(shape)[0])
    # The deepest page: before the 21st oldest post an anonymous reader sees.
    oldest = (
        access.visible_posts(anonymous)
        .filter(author=busiest, removal="")
        .order_by("created", "pk")
        .values_list("pk", flat=True)
    )
    deepest = oldest[PROFILE_DEEPEST_OFFSET]
    topic = Topic.objects.get(title=REFERENCE_TITLE)
    biggest = Topic.objects.filter(category=big).order_by("-reply_count", "pk").first()
    assert Post.objects.filter(topic=topic).count() == REFERENCE_POSTS
    # A sitemap page is a range of topic ids: the middle one of the public topics'.
    highest = access.visible_topics(anonymous).order_by("-pk").values_list("pk", flat=True)[0]
    sitemaps = max(1, math.ceil(highest / TopicSitemap.limit))
    return {
        "home": "/",
        "home_middle": f"/?page={(front + 1) // 2}",
        "category": big.get_absolute_url(),
        "category_middle": big.get_absolute_url() + f"?page={(last + 1) // 2}",
        "category_last": big.get_absolute_url() + f"?page={last}",
        "profile": busiest.get_absolute_url(),
        "profile_deepest": busiest.get_absolute_url() + f"?before={deepest}",
        "topic": topic.get_absolute_url(),
        "topic_biggest": biggest.get_absolute_url(),
        "feed": "/feed/",
        "feed_category": f"/c/{BIG_CATEGORY}/feed/",
        "feed_topic": f"/t/{biggest.pk}/feed/",
        "feed_member": f"{busiest.get_absolute_url()}feed/",
        "sitemap": "/sitemap.xml",
        "sitemap_topics": f"/sitemap-topics.xml?p={(sitemaps + 1) // 2}",
    }


PROFILE_DEEPEST_OFFSET = 20
# Each forum is measured in rounds, taking turns with the other: 4 of 2 s (--quick: 2 of 0.5 s).
ROUNDS, ROUND_SECONDS = 4, 2.0
ROUNDS_QUICK, ROUND_SECONDS_QUICK = 2, 0.5
TRIVIAL = "/bench/trivial/"  # bench/urls.py: a view returning "ok", through the same middleware
# Pages with a target, and the target (the middle pages and the biggest topic are shown
# for what they cost).
TARGET_PAGES = {
    **dict.fromkeys(
        ["home", "category", "category_last", "profile", "profile_deepest", "topic"], TARGET_MS
    ),
    **dict.fromkeys(["feed", "feed_category", "feed_topic", "feed_member"], TARGET_MS),
    **dict.fromkeys(["sitemap", "sitemap_topics"], SITEMAP_TARGET_MS),
}
LABELS = {
    "home": "/ (home)",
    "home_middle": "/, middle page",
    "category": "category, first page",
    "category_middle": "category, middle page",
    "category_last": "category, last page",
    "profile": "busiest profile",
    "profile_deepest": "busiest profile, deepest",
    "topic": "topic page (100 posts)",
    "topic_biggest": "biggest topic's page",
    "feed": "feed of the forum",
    "feed_category": "feed of the category",
    "feed_topic": "feed of the biggest topic",
    "feed_member": "feed of the busiest member",
    "sitemap": "sitemap index",
    "sitemap_topics": "sitemap, middle page",
}


def measure(shape: Shape, seconds: float, counts: bool, explain: bool) -> dict:
    """Times of every request (ms, wall clock and CPU), and the queries of each page."""
    from django.db import connection

    from bench.run import Server
    from threads.models import Category, Post, Topic, User

    paths = pages(shape)
    server = Server()
    load = os.getloadavg()[0]
    # The biggest topic's megabyte of page takes turns on its own: among the others it
    # slowed every request after it, and the small forum has no such page.
    names = [name for name in paths if name != "topic_biggest"]
    requests = [(paths[name], False) for name in names] + [(paths[name], True) for name in names]
    wall, cpu = _samples_ms(server, [*requests, (TRIVIAL, False)], seconds)
    samples = {
        name: (wall[i], wall[len(names) + i], cpu[i], cpu[len(names) + i])
        for i, name in enumerate(names)
    }
    biggest = paths["topic_biggest"]
    big_wall, big_cpu = _samples_ms(server, [(biggest, False), (biggest, True)], seconds / 4)
    samples["topic_biggest"] = (big_wall[0], big_wall[1], big_cpu[0], big_cpu[1])
    results = {
        "vendor": connection.vendor,
        # How busy the machine was: a view returning "ok", and the load average.
        "trivial": wall[-1],
        "load_averages": [load],
        "data": {
            "topics": Topic.objects.count(),
            "posts": Post.objects.count(),
            "members": User.objects.count(),
            "categories": Category.objects.count(),
            "busiest_posts": Post.objects.filter(author__username="member1").count(),
            "biggest_topic_posts": 1 + max(Topic.objects.values_list("reply_count", flat=True)),
        },
        "pages": {},
    }
    for name, path in paths.items():
        anonymous, logged_in, anonymous_cpu, logged_in_cpu = samples[name]
        page = results["pages"][name] = {
            "path": path,
            "anonymous": anonymous,
            "logged_in": logged_in,
            "anonymous_cpu": anonymous_cpu,
            "logged_in_cpu": logged_in_cpu,
        }
        if counts:
            page["queries_anonymous"] = server.queries(path)
            page["queries_logged_in"] = server.queries(path, logged_in=True)
    if explain:
        explain_pages(server, paths)
    return results


def _samples_ms(server, requests: list[tuple[str, bool]], seconds: float):
    """Wall-clock and CPU times of each request, taking turns as bench/run.py does.

    The CPU time of this process (SQLite runs in it) shows what a page costs
    when other work on the machine stretches the wall-clock figures.
    """
    for path, logged_in in requests:
        server.get(path, logged_in=logged_in)  # warm: caches filled, templates loaded
    wall: list[list[float]] = [[] for _ in requests]
    cpu: list[list[float]] = [[] for _ in requests]
    began = time.perf_counter()
    while len(wall[0]) < 15 or (time.perf_counter() - began < seconds and len(wall[0]) < 2000):
        for index, (path, logged_in) in enumerate(requests):
            start, start_cpu = time.perf_counter(), time.process_time()
            server.get(path, logged_in=logged_in)
            cpu[index].append((time.process_time() - start_cpu) * 1000)
            wall[index].append((time.perf_counter() - start) * 1000)
    return wall, cpu


def merged(rounds: list[dict]) -> dict:
    """Rounds of one forum as one result: medians of all their samples, the first's counts."""
    first = rounds[0]
    result = {
        "vendor": first["vendor"],
        "data": first["data"],
        "trivial_ms": statistics.median(t for r in rounds for t in r["trivial"]),
        "load_averages": [load for r in rounds for load in r["load_averages"]],
        "pages": {},
    }
    for name, page in first["pages"].items():
        result["pages"][name] = {
            "path": page["path"],
            **{
                f"{kind}_ms": statistics.median(t for r in rounds for t in r["pages"][name][kind])
                for kind in ["anonymous", "logged_in", "anonymous_cpu", "logged_in_cpu"]
            },
            "queries_anonymous": page["queries_anonymous"],
            "queries_logged_in": page["queries_logged_in"],
        }
    return result


def explain_pages(server, paths: dict[str, str]) -> None:
    """SQLite's plan for every query of each page (the logged-in request, empty cache)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name, path in paths.items():
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            server.get(path, logged_in=True)
        print(f"\n=== {name}: {path}")
        for query in captured.captured_queries:
            sql = query["sql"]
            start = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
            took = (time.perf_counter() - start) * 1000
            print(f"-- {took:.2f} ms: {sql[:600]}")
            explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
            with connection.cursor() as cursor:
                cursor.execute(explain + sql)
                for row in cursor.fetchall():
                    print("     ", row[-1])


# --- Orchestration ---------------------------------------------------------------------------


def cache_key(size: str) -> str:
    digest = hashlib.sha256(f"{GENERATOR_VERSION} {SHAPES[size]}".encode())
    for pattern in BUILD_INPUTS:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _phase(*args: str, database: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    subprocess.run([sys.executable, __file__, *args], check=True, env=env)


def built(size: str, fresh: bool) -> Path:
    """The database of a forum of this size: from the cache, or built now (and cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"forum-{size}-{cache_key(size)}.sqlite3"
    if cached.exists() and not fresh:
        print(f"{size}: cached in {cached.relative_to(ROOT)}")
        return cached
    for old in CACHE.glob(f"forum-{size}-*.sqlite3*"):
        old.unlink()
    work = Path(tempfile.mkdtemp()) / "build.sqlite3"
    print(f"{size}: building (generate, then import category by category)", flush=True)
    began = time.perf_counter()
    _phase("--phase", "build", "--size", size, database=work)
    # A backup is one self-contained file, whatever the journal mode left beside it.
    partial = cached.with_suffix(".partial")
    with sqlite3.connect(work) as source, sqlite3.connect(partial) as target:
        source.backup(target)
    with sqlite3.connect(partial) as target:
        target.execute("PRAGMA journal_mode=DELETE")
    partial.rename(cached)
    shutil.rmtree(work.parent)
    print(f"{size}: built in {time.perf_counter() - began:.0f} s", flush=True)
    return cached


def measured(databases: dict[str, Path], quick: bool, explain: bool) -> dict[str, dict]:
    """Each forum measured in rounds that take turns, on copies of the cached databases.

    The machine's speed drifts from one minute to the next; in turns, both
    forums see the same conditions. Sessions are written, hence the copies.
    """
    work = Path(tempfile.mkdtemp())
    rounds: dict[str, list[dict]] = {size: [] for size in databases}
    try:
        copies = {}
        for size, cached in databases.items():
            copies[size] = work / f"forum-{size}.sqlite3"
            shutil.copyfile(cached, copies[size])
        for number in range(ROUNDS_QUICK if quick else ROUNDS):
            for size, database in copies.items():
                out = work / f"{size}-{number}.json"
                args = ["--phase", "measure", "--size", size, "--out", str(out)]
                args += ["--seconds", str(ROUND_SECONDS_QUICK if quick else ROUND_SECONDS)]
                args += ["--counts"] * (number == 0)
                args += ["--explain"] * (explain and number == 0 and size != "1k")
                _phase(*args, database=database)
                rounds[size].append(json.loads(out.read_text()))
    finally:
        shutil.rmtree(work)
    return {size: merged(each) for size, each in rounds.items()}


def on_postgresql(size: str, quick: bool, explain: bool) -> dict:
    """Built and measured in one go on a throwaway cluster (scripts/with-postgres)."""
    out = Path(tempfile.mkdtemp()) / "results.json"
    args = ["--phase", "both", "--size", size, "--out", str(out), "--counts"]
    args += ["--seconds", str(ROUND_SECONDS_QUICK if quick else ROUNDS * ROUND_SECONDS)]
    args += ["--explain"] * (explain and size != "1k")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    print(f"{size}: building and measuring on PostgreSQL", flush=True)
    command = [str(ROOT / "scripts" / "with-postgres"), sys.executable, __file__, *args]
    subprocess.run(command, check=True, env=env)
    try:
        return merged([json.loads(out.read_text())])
    finally:
        shutil.rmtree(out.parent)


def report(results: dict[str, dict], seconds: float) -> dict:
    small, big = results["1k"], results["133k"]
    d = big["data"]
    print(
        f"\nThe forum, on {big['vendor']}: {d['topics']:,} topics, {d['posts']:,} posts, "
        f"{d['members']:,} members, {d['categories']} categories; "
        f"the busiest member wrote {d['busiest_posts']:,} posts"
    )
    print(
        f"(the small one: {small['data']['posts']:,} posts in {small['data']['topics']} topics; "
        f"the biggest topics: {small['data']['biggest_topic_posts']:,} and "
        f"{d['biggest_topic_posts']:,} posts)"
    )
    print("\nPages, in-process (median server time; queries anonymous/member, empty cache)")
    print(f"{'page':<26} {'anon ms':>8} {'member ms':>9} {'(cpu ms)':>13} "
          f"{'queries 1k':>10} {'133k':>6}  target")  # fmt: skip
    figures, missed = {}, []
    for name, page in big["pages"].items():
        at_1k = small["pages"][name]
        counts_1k = (at_1k["queries_anonymous"], at_1k["queries_logged_in"])
        counts = (page["queries_anonymous"], page["queries_logged_in"])
        verdict = ""
        if name in TARGET_PAGES:
            slowest = max(page["anonymous_ms"], page["logged_in_ms"])
            verdict = f"≤ {TARGET_PAGES[name]:g} ms "
            if slowest > TARGET_PAGES[name]:
                verdict += "MISSED"
                missed.append(f"{name} {slowest:.1f} ms")
            else:
                verdict += "ok"
            if counts != counts_1k:
                verdict += ", queries MISSED (not the same)"
                missed.append(f"{name} queries {counts_1k} at 1k, {counts} at 133k")
            figures[f"{name}_anonymous_ms"] = page["anonymous_ms"]
            figures[f"{name}_logged_in_ms"] = page["logged_in_ms"]
        print(
            f"{LABELS[name]:<26} {page['anonymous_ms']:>8.2f} {page['logged_in_ms']:>9.2f} "
            f"{page['anonymous_cpu_ms']:>6.2f}/{page['logged_in_cpu_ms']:<6.2f} "
            f"{counts_1k[0]:>6}/{counts_1k[1]:<3} {counts[0]:>3}/{counts[1]:<3} {verdict}"
        )
    figures["same_queries_at_1k_and_133k"] = all(
        (page["queries_anonymous"], page["queries_logged_in"])
        == (small["pages"][name]["queries_anonymous"], small["pages"][name]["queries_logged_in"])
        for name, page in big["pages"].items()
    )
    print(
        f"\nA view returning ok took {big['trivial_ms']:.2f} ms (load average "
        f"{', '.join(f'{load:.1f}' for load in big['load_averages'])} on {os.cpu_count()} "
        "cores as the rounds began)"
    )
    print("Targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    print(f"The scale run took {seconds:.0f} s.")
    return {
        "figures": figures,
        "target_ms": TARGET_PAGES,
        "missed": missed,
        "forums": results,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--fresh", action="store_true", help="rebuild the forums, not the cache")
    parser.add_argument("--explain", action="store_true", help="print the big forum's plans")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="build and measure on throwaway PostgreSQL clusters instead (no cache; slower)",
    )
    parser.add_argument("--phase", choices=["all", "build", "measure", "both"], default="all")
    parser.add_argument("--size", choices=list(SHAPES), default="133k")
    parser.add_argument("--seconds", type=float, default=ROUND_SECONDS, help=argparse.SUPPRESS)
    parser.add_argument("--counts", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(RESULTS))
    options = parser.parse_args()

    if options.phase != "all":
        if "DATABASE_URL" not in os.environ:
            parser.error("--phase is for the run's own subprocesses (they get DATABASE_URL)")
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        import django

        django.setup()
        if options.phase in ("build", "both"):
            build(SHAPES[options.size])
        if options.phase in ("measure", "both"):
            result = measure(SHAPES[options.size], options.seconds, options.counts, options.explain)
            Path(options.out).write_text(json.dumps(result))
        return

    began = time.perf_counter()
    if options.postgresql:
        results = {size: on_postgresql(size, options.quick, options.explain) for size in SHAPES}
        key = "scale_postgresql"
    else:
        databases = {size: built(size, options.fresh) for size in SHAPES}
        results = measured(databases, options.quick, options.explain)
        key = "scale"
    scale = report(results, time.perf_counter() - began)
    out = Path(options.out)
    existing = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**existing, key: scale}, indent=2) + "\n")
    print(f'Results added to {out} (under "{key}")')


if __name__ == "__main__":
    main()
