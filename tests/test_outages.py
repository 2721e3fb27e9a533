"""While the database cannot be reached, pages answer 503 with Retry-After and the
forum's own page (rendered without the database), and the forum recovers by itself."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError, connection

from .servers import ROOT, free_port

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = "The forum is unavailable for a moment"


@contextlib.contextmanager
def unreachable_database(tmp_path: Path) -> Iterator[None]:
    """Point the tests' connection where no database answers, as when it is down.

    PostgreSQL: a loopback port nothing listens on (connection refused). SQLite: a
    file in a folder that does not exist (unable to open database file).
    """
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing" / "forum.sqlite3")
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "member"])
def test_while_the_database_is_down_pages_answer_503_and_then_recover(
    client, member, topic, tmp_path, signed_in
):
    if signed_in:
        client.force_login(member)  # the session is looked up in the database

    with unreachable_database(tmp_path):
        response = client.get(topic.get_absolute_url())

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert [template.name for template in response.templates] == ["503.html"]
    assert UNAVAILABLE in response.text
    assert 'class="site-name"' in response.text  # the forum's own page, as it looks
    recovered = client.get(topic.get_absolute_url())
    assert recovered.status_code == 200
    assert ("Log out" in recovered.text) is signed_in


def test_a_database_error_in_the_session_middleware_is_a_503_too(client, member, topic, settings):
    """The database fails after the view, as the session middleware saves the session."""
    settings.SESSION_SAVE_EVERY_REQUEST = True
    client.force_login(member)
    # Django reports the error it turned into a 500 (then replaced) to the test client,
    # which would raise it.
    client.raise_request_exception = False

    failure = OperationalError("server closed the connection unexpectedly")
    with mock.patch.object(SessionStore, "save", side_effect=failure) as save:
        response = client.get(topic.get_absolute_url())

    save.assert_called_once()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert UNAVAILABLE in response.text


@dataclass(frozen=True)
class Cluster:
    """A throwaway PostgreSQL cluster on loopback, as scripts/with-postgres makes one."""

    bindir: Path
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/forum"

    def run(self, program: str, *args: str) -> None:
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*owner, self.bindir / program, *args], check=True, capture_output=True)

    def pg_ctl(self, *args: str) -> None:
        self.run("pg_ctl", "-D", str(self.datadir), "-w", *args)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.datadir} -c fsync=off"
        self.pg_ctl("-l", f"{self.datadir}/log", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A migrated cluster of the test's own, which it may stop and start."""
    bindirs = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name)
    )
    if not bindirs:
        pytest.fail("PostgreSQL's server programs are not installed (Debian: postgresql)")
    datadir = Path(tempfile.mkdtemp(prefix="forum-outage-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres")  # PostgreSQL refuses to run as root
    cluster = Cluster(bindirs[-1], datadir, free_port())
    try:
        cluster.run("initdb", "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        cluster.start()
        cluster.run(
            "createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "forum"
        )
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": cluster.url,
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env=environment,
            check=True,
            capture_output=True,
        )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # unless it is not running
            cluster.stop("immediate")
        shutil.rmtree(datadir)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="stops a PostgreSQL server; on SQLite the tests above make the file unreachable",
)
def test_a_stopped_postgresql_answers_503_and_the_forum_recovers_when_it_is_back(
    cluster, start_server
):
    server = start_server(DATABASE_URL=cluster.url)
    assert [server.get("/").status for _ in range(10)] == [200] * 10

    cluster.stop()
    cluster.start()  # restarted between requests: kept connections are dead
    after_restart = [server.get("/").status for _ in range(10)]
    cluster.stop()
    down = [server.get("/") for _ in range(5)]
    cluster.start()
    back = [server.get("/").status for _ in range(10)]

    assert after_restart == [200] * 10  # each connection is checked before it is used
    assert [answer.status for answer in down] == [503] * 5
    assert all(answer.headers["Retry-After"] == "30" for answer in down)
    assert all(UNAVAILABLE in answer.text for answer in down)
    print(f"\n503 while PostgreSQL is stopped: {max(a.seconds for a in down):.3f} s at most")
    assert back == [200] * 10
