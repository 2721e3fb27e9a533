"""The cache of thread pages in Redis, shared by app servers, and pages while Redis is down.

Each test starts real gunicorn servers (`start_server`) on the tests' database. They
share the Redis that scripts/with-redis starts around the suite (FORUM_TEST_REDIS_URL;
make test does so), or one of the test's own, which it stops and starts.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import redis
from django.test import Client
from django.urls import reverse

from threads import services
from threads.models import Post

from .helpers import opening_post
from .servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_url() -> str:
    """The Redis of scripts/with-redis. CI must have it; elsewhere the tests say how to."""
    url = os.environ.get("FORUM_TEST_REDIS_URL")
    if not url:
        message = (
            "FORUM_TEST_REDIS_URL is not set: run the suite through scripts/with-redis "
            "(make test does), which starts a throwaway Redis (Debian: redis-server)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail(message)
        pytest.skip(message)
    return url


@dataclass
class RedisServer:
    """A throwaway Redis on loopback that a test may stop, pause and start again."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1)

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            ["redis-server", *options, "--save", ""], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def cached_pages(self) -> int:
        with self.client() as client:
            return sum(1 for _ in client.scan_iter("*threads:*"))


@pytest.fixture
def own_redis(redis_url, tmp_path) -> Iterator[RedisServer]:
    """A Redis of the test's own, needed and missed exactly where the shared one is."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian: redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def change_behind_the_cache(post: Post, text: str, new_text: str) -> None:
    """Change a post's stored HTML without a new revision of its topic.

    A page built from the database from now on shows the change; a cached one does not.
    """
    fragment = Post.objects.get(pk=post.pk).fragment
    Post.objects.filter(pk=post.pk).update(fragment=fragment.replace(text, new_text))


def test_a_page_built_by_one_server_is_served_from_the_cache_by_the_other(
    start_server, redis_url, topic, member
):
    reply = services.post_reply(author=member, topic=topic, body="A shared reply")
    first, second = start_server(REDIS_URL=redis_url), start_server(REDIS_URL=redis_url)
    url = topic.get_absolute_url()
    assert "A shared reply" in first.get(url).text  # built, and cached

    change_behind_the_cache(reply, "A shared reply", "Built again")
    page = second.get(url)
    on_its_own = start_server().get(url)  # a per-process cache, as without REDIS_URL

    assert page.status == 200
    assert "A shared reply" in page.text  # the page the first server built
    assert "Built again" not in page.text
    assert "Built again" in on_its_own.text


def log_in(member) -> dict[str, str]:
    """A session cookie for the member, valid on every server."""
    client = Client()
    client.force_login(member)
    return {"sessionid": client.cookies["sessionid"].value}


def test_a_reply_through_one_server_shows_on_the_other_at_once(
    start_server, redis_url, topic, member
):
    first, second = start_server(REDIS_URL=redis_url), start_server(REDIS_URL=redis_url)
    url = topic.get_absolute_url()
    # A reply in the opening post's tree: the page holds the same trees, only newer.
    reply_url = reverse("threads:post_reply", args=[opening_post(topic).pk])
    assert "A fresh reply" not in first.get(url).text  # the page is cached

    session = log_in(member)
    form = second.get(reply_url, cookies=session)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    cookies = SimpleCookie("\n".join(form.headers.get_all("Set-Cookie")))
    sent = second.post(
        reply_url,
        {"body": "A fresh reply", "csrfmiddlewaretoken": token},
        cookies={**session, "csrftoken": cookies["csrftoken"].value},
    )

    assert sent.status == 302
    assert "A fresh reply" in first.get(url).text


def test_pages_are_served_while_redis_is_down_and_cached_again_when_it_is_back(
    start_server, own_redis, topic, member
):
    server = start_server(REDIS_URL=own_redis.url)
    url = topic.get_absolute_url()
    assert [server.get(url).status for _ in range(4)] == [200] * 4  # every worker warmed up
    assert own_redis.cached_pages() > 0

    own_redis.stop()
    services.post_reply(author=member, topic=topic, body="Written during the outage")
    down = [server.get(url) for _ in range(10)]
    own_redis.start()  # empty: nothing was kept
    back = server.get(url)

    assert [answer.status for answer in down] == [200] * 10
    assert all("Written during the outage" in answer.text for answer in down)
    print("\nRedis stopped:", " ".join(f"{answer.seconds:.3f}" for answer in down))
    assert back.status == 200
    assert "Written during the outage" in back.text
    assert own_redis.cached_pages() > 0


def test_a_hung_redis_costs_a_page_tenths_of_a_second(start_server, own_redis, topic):
    server = start_server(REDIS_URL=own_redis.url)
    url = topic.get_absolute_url()
    assert [server.get(url).status for _ in range(4)] == [200] * 4  # connected to Redis

    own_redis.process.send_signal(signal.SIGSTOP)  # it accepts connections, answers nothing
    try:
        hung = [server.get(url) for _ in range(3)]
    finally:
        own_redis.process.send_signal(signal.SIGCONT)

    assert [answer.status for answer in hung] == [200] * 3
    print("\nRedis hung:", " ".join(f"{answer.seconds:.3f}" for answer in hung))
    # Four cache calls, each given up after a tenth of a second (without a timeout, the
    # first would wait for ever); the bound leaves room for a busy machine.
    assert max(answer.seconds for answer in hung) < 2
