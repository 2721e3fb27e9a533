import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from hypothesis import settings as examples

from threads import services
from threads.apps import MODERATORS_GROUP

from .factories import GroupFactory, TopicFactory, UserFactory, in_groups

# Property tests explore new random examples on every run; CI (HYPOTHESIS_PROFILE=ci)
# replays a fixed set, so that a landing never depends on luck.
examples.register_profile("ci", derandomize=True, database=None)
examples.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, as a freshly started server does."""
    cache.clear()


@pytest.fixture(autouse=True)
def default_category(request):
    """The default category, which migrations make: made again after a flush.

    Tests on a transactional database start from empty tables (migrated data too).
    """
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        services.default_category()


@pytest.fixture
def member(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_member(db):
    return UserFactory(username="bob")


@pytest.fixture
def moderator(db):
    user = UserFactory(username="mod", is_staff=True)
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


@pytest.fixture
def banned(db):
    return UserFactory(username="banned", is_active=False)


@pytest.fixture
def topic(member):
    return TopicFactory(author=member, title="A first topic", body="Hello, **forum**.")


@pytest.fixture
def members_only(settings):
    """The forum for members only (FORUM_LOGIN_REQUIRED): visitors are sent to log in."""
    settings.FORUM_LOGIN_REQUIRED = True


# --- Groups: who sees a groups-only category, who moderates one -------------------------


@pytest.fixture
def staff_group(db):
    """The group that may see the tests' groups-only categories."""
    return GroupFactory(name="Staff")


@pytest.fixture
def helpers_group(db):
    """The group that moderates the tests' moderated categories."""
    return GroupFactory(name="Helpers")


@pytest.fixture
def group_member(staff_group):
    return in_groups(UserFactory(username="erin"), staff_group)


@pytest.fixture
def outsider(db):
    """A member of a group, only not of the one that sees the groups-only categories."""
    return in_groups(UserFactory(username="frank"), GroupFactory(name="Guests"))


@pytest.fixture
def category_moderator(helpers_group):
    """A staff member of a category's moderator group, without the global moderate permission."""
    return in_groups(UserFactory(username="carol", is_staff=True), helpers_group)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client


# --- Real browser -------------------------------------------------------------------------

CHROMIUM = os.environ.get("FORUM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (whose own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: install Debian's chromium package "
            "(make test does when it can), or set FORUM_CHROMIUM."
        )
    # Playwright's sync API keeps an event loop running in this thread for as long
    # as the browser is open. The ORM calls the tests and their database fixtures
    # make meanwhile are ordinary synchronous code, which Django would refuse.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(browser, live_server):
    """Open browser tabs on the live test server: open_page(width=1280, **context options)."""
    contexts = []

    def open_page(width: int = 1280, **options):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": 900}, **options
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page):
    """A fresh browser tab on the live test server, 1280 px wide."""
    return open_page()


@pytest.fixture
def log_in(live_server):
    """Log a member in to a browser tab without typing a password."""
    from django.test import Client

    def log_in(page, user) -> None:
        client = Client()
        client.force_login(user)
        session = client.cookies["sessionid"].value
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])

    return log_in


def pytest_terminal_summary(terminalreporter):
    """Say where the browser tests left their screenshots, for a person to look at."""
    folder = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
    shots = sorted(folder.glob("*.png")) if folder.exists() else []
    if shots:
        terminalreporter.write_line(
            f"Screenshots of the pages ({len(shots)}): {os.path.relpath(folder)}/"
        )


# --- Real servers -------------------------------------------------------------------------


@pytest.fixture
def start_server(transactional_db, tmp_path):
    """Start gunicorn as `make serve` does (forum/gunicorn.conf.py) on a free loopback port.

    `start_server(**environment)` returns a Server running tests.settings on the tests'
    database (or the DATABASE_URL given), with a per-process cache unless REDIS_URL is
    given. Servers are stopped after the test.
    """
    from .servers import Server

    servers: list[Server] = []

    def start(**environment: str) -> Server:
        server = Server.start(tmp_path, **environment)
        servers.append(server)
        server.wait_until_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port, for the mail a worker sends."""
    from aiosmtpd.controller import Controller

    from .servers import SMTPServer, free_port

    server = SMTPServer(port=free_port(), messages=[])
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def start_worker(transactional_db, tmp_path, settings):
    """Start background workers (`manage.py db_worker`) on the tests' database.

    `start_worker(**environment)` returns a running Worker; workers are stopped
    after the test. Uploads go to the test's own media folder, shared with them.
    """
    from .servers import Worker

    settings.MEDIA_ROOT = tmp_path / "media"
    workers: list[Worker] = []

    def start(**environment: str) -> Worker:
        worker = Worker.start(tmp_path, DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT), **environment)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def run_tasks():
    """Run every task that is due, in this process, as a worker would; return how many ran.

    The worker's own loop (`db_worker --batch`) closes the connection between
    tasks, which would end the test's transaction: this runs its steps, each
    task claimed and run by the worker's `run_task`, within the test.
    """
    from django.db import transaction
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )

    def run() -> int:
        ran = 0
        while True:
            with transaction.atomic():  # as the worker claims a task
                result = DBTaskResult.objects.ready().get_locked()
                if result is None:
                    return ran
                result.claim(worker.worker_id)
            worker.run_task(result)
            ran += 1

    return run
