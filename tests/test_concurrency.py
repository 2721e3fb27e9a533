"""Concurrent writers, as several app servers produce them: the trees stay consistent.

Each writer is a thread with its own database connection. On PostgreSQL they
really run at once, and only the topic row locks and the tree-id advisory
lock keep django-mptt's numbering right; on SQLite every transaction begins
IMMEDIATE and writers queue for the database's write lock.
"""

import contextlib
import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from threads import selectors, services
from threads.models import Post, Topic, User

from .concurrency import replier, run_concurrently, topic_starter
from .factories import TopicFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def stress(*, repliers: int, replies: int, starters: int, topics: int) -> None:
    author = UserFactory()
    topic = TopicFactory(author=author)
    workers = [replier(topic, author, replies, seed) for seed in range(repliers)]
    workers += [topic_starter(author, topics) for _ in range(starters)]

    errors, seconds = run_concurrently(workers)

    written = Post.objects.count() - 1
    print(
        f"\n{connection.vendor}: {len(workers)} writers wrote {written} posts "
        f"in {seconds:.1f} s, {len(errors)} errors"
    )
    assert errors == []
    assert Post.objects.filter(topic=topic).count() == 1 + repliers * replies
    assert Topic.objects.get(pk=topic.pk).reply_count == repliers * replies
    assert Topic.objects.count() == 1 + starters * topics
    assert selectors.tree_problems() == []
    roots = Post.objects.filter(level=0)
    assert roots.values("tree_id").distinct().count() == roots.count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_stress_on_postgresql():
    stress(repliers=8, replies=100, starters=8, topics=10)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite variant")
def test_stress_on_sqlite_waits_instead_of_failing():
    stress(repliers=4, replies=50, starters=4, topics=10)


def test_concurrent_moves_and_replies_keep_the_tree():
    """Moderators moving subtrees while members reply into them."""
    author, moderator = UserFactory(), UserFactory(is_staff=True, is_superuser=True)
    topic = TopicFactory(author=author)
    branches = [services.post_reply(author=author, topic=topic, body=f"b{i}") for i in range(6)]

    def mover(seed: int) -> Callable[[], None]:
        def work() -> None:
            chance = random.Random(seed)
            for _ in range(15):
                post, target = chance.sample(branches, 2)
                # A target that has become a reply of the post is refused, not a failure.
                with contextlib.suppress(ValidationError):
                    services.post_move(post=post, moderator=moderator, new_parent=target)

        return work

    errors, _ = run_concurrently(
        [replier(topic, author, 30, seed) for seed in range(3)] + [mover(s) for s in range(2)]
    )

    assert errors == []
    assert selectors.tree_problems() == []
    assert Topic.objects.get(pk=topic.pk).reply_count == 6 + 3 * 30


def test_concurrent_requests_of_one_member_respect_the_limit(settings):
    """Eight replies sent at once by one member: only the first gets through."""
    settings.FORUM_LIMITS = settings.PRODUCTION_LIMITS
    author = UserFactory(date_joined=timezone.now() - timedelta(days=30))
    topic = TopicFactory(author=author)
    Post.objects.filter(author=author).update(created=timezone.now() - timedelta(minutes=1))
    statuses = []

    def post(number: int) -> Callable[[], None]:
        def work() -> None:
            client = Client()
            client.force_login(author)
            response = client.post(f"/t/{topic.pk}/reply/", {"body": f"attempt {number}"})
            statuses.append(response.status_code)

        return work

    errors, _ = run_concurrently([post(n) for n in range(8)])

    assert errors == []
    assert sorted(statuses) == [302] + [429] * 7
    assert Post.objects.filter(topic=topic).count() == 2


def test_concurrent_signups_from_one_address_respect_the_limit(settings):
    """Eight sign-ups at once from one address: five get through."""
    settings.FORUM_LIMITS = settings.PRODUCTION_LIMITS
    statuses = []

    def sign_up(number: int) -> Callable[[], None]:
        def work() -> None:
            password = "a long and unusual passphrase"
            response = Client().post(
                "/accounts/signup/",
                {
                    "username": f"rush{number}",
                    "email": f"rush{number}@example.org",
                    "password1": password,
                    "password2": password,
                },
                REMOTE_ADDR="203.0.113.77",
            )
            statuses.append(response.status_code)

        return work

    errors, _ = run_concurrently([sign_up(n) for n in range(8)])

    assert errors == []
    assert sorted(statuses) == [302] * 5 + [429] * 3
    assert User.objects.filter(username__startswith="rush").count() == 5


def test_splits_racing_replies_into_the_same_subtree_keep_every_tree():
    """A moderator splitting branches off while members reply into them.

    A reply whose parent left for the new topic while it was sent is refused
    ("in another topic"), never written astray; every other reply lands.
    """
    author, moderator = UserFactory(), UserFactory(is_staff=True, is_superuser=True)
    topic = TopicFactory(author=author)
    answer = services.post_reply(author=author, topic=topic, body="answer")
    branch = [answer]
    for index in range(12):
        parent = branch[index // 2]
        branch.append(services.post_reply(author=author, topic=topic, parent=parent, body="b"))
    written, refused = [], []

    def reply_into_the_branch(seed: int) -> Callable[[], None]:
        def work() -> None:
            chance = random.Random(seed)
            for _ in range(20):
                parent = Post.objects.get(pk=chance.choice(branch).pk)
                try:
                    post = services.post_reply(
                        author=author, topic=parent.topic, parent=parent, body="reply"
                    )
                except ValidationError as error:
                    refused.append(error.code)
                else:
                    written.append(post.pk)

        return work

    def splitter() -> None:
        for post in reversed(branch[1:7]):
            services.topic_split(
                post=post, moderator=moderator, title=f"Split {post.pk}", category=topic.category
            )

    errors, _ = run_concurrently([reply_into_the_branch(seed) for seed in range(3)] + [splitter])

    assert errors == []
    assert set(refused) <= {"wrong_topic"}
    assert len(written) + len(refused) == 60
    assert Topic.objects.count() == 7
    assert Post.objects.count() == 2 + 12 + len(written)
    assert selectors.tree_problems() == []
    roots = Post.objects.filter(level=0)
    assert roots.values("tree_id").distinct().count() == roots.count()
