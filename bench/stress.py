"""Concurrent writers against the database of DATABASE_URL, to measure and to break.

    scripts/with-postgres .venv/bin/python bench/stress.py [--no-locks]

Migrates the database, then runs reply writers on one topic and topic
writers at the same time, and prints what was written, how long it took,
what the writers saw go wrong and what check_trees finds. --no-locks turns
the topic and tree-id locks off, to show what they prevent.
"""

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.concurrency import replier, run_concurrently, topic_starter  # noqa: E402
from threads import selectors, services  # noqa: E402
from threads.models import Post, Topic, User  # noqa: E402

PROBLEM_KINDS = [
    ("roots", "trees with more than one root (tree id given out twice)"),
    ("not inside its parent", "posts whose interval is outside their parent's"),
    ("not below right", "posts whose left is not below their right"),
    ("level", "posts at the wrong level"),
    ("another tree", "posts whose parent is in another tree"),
    ("numbered unlike", "trees numbered with gaps or overlaps"),
    ("cannot be reached", "posts cut off from their root"),
    ("replies but has", "topics with a wrong reply count"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-locks", action="store_true", help="disable the tree locks")
    parser.add_argument("--repliers", type=int, default=8)
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--starters", type=int, default=8)
    parser.add_argument("--topics", type=int, default=10)
    options = parser.parse_args()

    call_command("migrate", verbosity=0)
    if options.no_locks:
        services.locks.lock_topics = lambda *ids: {
            t.pk: t for t in Topic.objects.filter(pk__in=ids)
        }
        services.locks.lock_tree_ids = lambda: None
    author = User.objects.create_user(username=f"stress{User.objects.count()}")
    topic = services.topic_create(author=author, title="Stress", body="opening")
    before = Post.objects.count()
    workers = [replier(topic, author, options.replies, seed) for seed in range(options.repliers)]
    workers += [topic_starter(author, options.topics) for _ in range(options.starters)]

    errors, seconds = run_concurrently(workers)

    written = Post.objects.count() - before
    expected = options.repliers * options.replies + options.starters * options.topics
    locks = "without locks" if options.no_locks else "with locks"
    print(f"{connection.vendor}, {locks}: {len(workers)} writers")
    print(f"  posts written: {written} of {expected} attempted, in {seconds:.1f} s")
    print(f"  errors seen by writers: {len(errors)}")
    for kind, count in Counter(
        type(e).__name__ + ": " + str(e).split("\n")[0] for e in errors
    ).most_common(5):
        print(f"    {count} x {kind[:150]}")
    problems = selectors.tree_problems()
    roots = Post.objects.filter(level=0)
    print(
        f"  roots: {roots.count()}, distinct tree ids among them: "
        f"{roots.values('tree_id').distinct().count()}"
    )
    print(f"  check_trees: {len(problems)} problem(s)")
    kinds = Counter(
        next((label for key, label in PROBLEM_KINDS if key in p.message), p.message)
        for p in problems
    )
    for kind, count in kinds.most_common():
        print(f"    {count} x {kind}")


if __name__ == "__main__":
    main()
