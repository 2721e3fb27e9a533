"""Concurrent writers for the stress tests and bench/stress.py."""

import random
import threading
import time
from collections.abc import Callable

from django.db import connections

from threads import services
from threads.models import Post, Topic


def run_concurrently(workers: list[Callable[[], None]]) -> tuple[list[BaseException], float]:
    """Start every worker at the same moment; return what they raised and the time taken."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait()
            work()
        except BaseException as error:  # every failure is a finding here
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, time.perf_counter() - began


def replier(topic: Topic, author, count: int, seed: int) -> Callable[[], None]:
    """Reply `count` times to random posts of the topic (now and then to the topic itself)."""

    def work() -> None:
        chance = random.Random(seed)
        for _ in range(count):
            ids = list(Post.objects.filter(topic=topic).values_list("pk", flat=True))
            parent = None if chance.random() < 0.1 else Post(pk=chance.choice(ids))
            services.post_reply(author=author, topic=topic, parent=parent, body="reply")

    return work


def topic_starter(author, count: int) -> Callable[[], None]:
    def work() -> None:
        for number in range(count):
            services.topic_create(author=author, title=f"Topic {number}", body="opening")

    return work
