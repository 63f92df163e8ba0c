"""Real processes for tests that need more than one: gunicorn servers, Celery worker and beat,
a private Redis that a test may freeze. All on the suite's PostgreSQL test database."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN_CONFIG = ROOT / "portal" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, seconds: float, step: float = 0.05):
    """Poll `condition` until it is truthy (returned) or `seconds` pass (returns the last
    value). For state owned by other processes, which cannot signal this one."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def process_environment(redis_url: str, **overrides: str) -> dict[str, str]:
    """What a server or worker needs to share this test's database, Redis and cache keys."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": url,
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "SECRET_KEY": "live-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
        "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="static-"),
    }
    env.pop("CELERY_BROKER_URL", None)
    return env | overrides


@dataclass
class Server:
    """One gunicorn process serving the portal with the production configuration
    (portal/gunicorn.conf.py), scaled down to one worker with two threads."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "portal.wsgi",
                "--config",
                str(GUNICORN_CONFIG),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        if not wait_for(self._answers, 30, 0.1):
            self.stop()
            raise RuntimeError("gunicorn did not start")
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping/", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """The process dies at once: nothing it had in memory survives."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Gunicorn's quick shutdown (SIGINT): a graceful one waits for the clients' idle
        keep-alive connections, seconds per server that no test needs."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Celery:
    """`celery -A portal worker` and `celery -A portal beat`, as production runs them."""

    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, workdir: Path) -> "Celery":
        celery = str(BIN / "celery")
        for command in (
            [celery, "-A", "portal", "worker", "--pool", "solo", "--loglevel", "WARNING"],
            [celery, "-A", "portal", "beat", "--loglevel", "WARNING", "-s", str(workdir / "b")],
        ):
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
            )
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@dataclass
class PrivateRedis:
    """A Redis server of the test's own, which it may freeze (SIGSTOP) without stopping the
    suite's."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        if not wait_for(lambda: self._pings(client), 10):
            raise RuntimeError("redis-server did not start")
        return self

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        self.process.wait(timeout=10)


def request(
    method: str, url: str, *, token: str = "", body: bytes | None = None, timeout: float = 10
):
    """(status, seconds taken, body) of one HTTP request; never raises on an error status."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, method=method, headers=headers),
            timeout=timeout,
        ) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    return status, time.monotonic() - started, content
