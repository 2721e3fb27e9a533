"""Real gunicorn servers for the tests (the `start_server` fixture), and talking to them."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = ROOT / "forum" / "gunicorn.conf.py"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The URL of the tests' database, for a server in another process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = ":".join(quote(settings[key] or "", safe="") for key in ("USER", "PASSWORD"))
    return f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass(frozen=True)
class Server:
    """A gunicorn serving the forum on 127.0.0.1:port, and what it logs."""

    port: int
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, folder: Path, **environment: str) -> "Server":
        """gunicorn as `make serve` runs it, on tests.settings, logging into `folder`."""
        port = free_port()
        env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
        env |= {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            **environment,
        }
        address, log = f"127.0.0.1:{port}", folder / f"gunicorn-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, "--bind", address],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(port, process, log)

    def request(
        self,
        method: str,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> Answer:
        headers, body = {}, None
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        http = HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            began = time.perf_counter()
            http.request(method, path, body=body, headers=headers)
            response = http.getresponse()
            body = response.read()
            return Answer(response.status, response.headers, body, time.perf_counter() - began)
        finally:
            http.close()

    def get(self, path: str, **options) -> Answer:
        return self.request("GET", path, **options)

    def post(self, path: str, form: dict[str, str], **options) -> Answer:
        return self.request("POST", path, form=form, **options)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_ready(self, seconds: float = 30) -> None:
        """Until a worker serves a static file (which needs no database)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if self.get("/static/css/forum.css", timeout=2).status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {seconds} s:\n{self.log_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)  # gunicorn's quick shutdown
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Worker:
    """A background worker (`manage.py db_worker`) on the tests' database, and what it logs."""

    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, folder: Path, **environment: str) -> "Worker":
        env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
        env |= {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            **environment,
        }
        log = folder / f"worker-{len(list(folder.glob('worker-*.log')))}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--interval=0.1",
                    "--no-startup-delay",
                    "--no-reload",
                ],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """As `make run` and a service manager stop it: SIGTERM, which lets a task finish."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class SMTPServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts."""

    port: int
    messages: list
    refusing: bool = False
    # What it answers RCPT while refusing: a temporary refusal, unless a test says otherwise.
    refusal: str = "451 4.3.0 Try again later"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def environment(self) -> dict[str, str]:
        """The settings that send a process's mail here (for Worker.start)."""
        return {
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "DJANGO_EMAIL_HOST": "127.0.0.1",
            "DJANGO_EMAIL_PORT": str(self.port),
        }

    def wait_for(self, count: int, seconds: float = 20) -> list:
        """The messages received, once there are at least `count` of them."""
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} mails arrived"
        return self.messages
