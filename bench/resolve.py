"""Benchmark: resolve vs. a trivial Django JSON view, on gunicorn with PostgreSQL and Redis.

Run with `make bench` (which wraps this in scripts/with-services.sh for a private PostgreSQL
and Redis). Drives both endpoints with wrk from a second process and prints requests/s and
latency percentiles. Targets on 2 cores: resolve >= 50% of the trivial view's throughput (a
warm resolve is one Redis MGET and no query) and p50 under light load below 2 ms.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
LATENCY_CONNECTIONS = os.environ.get("BENCH_LATENCY_CONNECTIONS", "2")
WORKERS = os.environ.get("BENCH_WORKERS", "3")
THREADS = os.environ.get("BENCH_THREADS", "4")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return shutil.which("wrk")


def server_environment() -> dict[str, str]:
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("Run through `make bench` (or scripts/with-services.sh): needs PostgreSQL+Redis.")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "AUDIT_CHAIN_KEY": f"bench:{secrets.token_urlsafe(32)}",
        "DEBUG": "0",
        "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": os.path.join(os.environ.get("PORTAL_DATA_DIR", "/tmp"), "static"),
    }


def prepare(env: dict[str, str]) -> str:
    """Migrate and create a deployed prompt and a service token; returns the token."""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    code = """
from django.contrib.auth import get_user_model
from prompts.models import Environment
from prompts.services import deployment_set, prompt_create, version_create
from teams.services import namespace_create, team_create
from teams.tokens import service_token_create
admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
team = team_create(actor=admin, slug="bench", name="Bench")
namespace = namespace_create(actor=admin, slug="bench", team=team, visibility="private")
prompt = prompt_create(actor=admin, namespace=namespace, name="greeting")
version = version_create(prompt=prompt, author=admin, template="Hello {{name}}, how can I help?",
                         variables=["name"], model_config={"model": "m", "temperature": 0.2})
deployment_set(prompt=prompt, environment=Environment.objects.get(slug="production"),
               version=version, actor=admin, action="deployment.seeded")
_, secret = service_token_create(actor=admin, namespaces=[namespace], name="bench")
print(secret)
"""
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [
            gunicorn,
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            WORKERS,
            "--worker-class",
            "gthread",
            "--threads",
            THREADS,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping/", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    sys.exit("gunicorn did not start")


def drive(wrk: str, url: str, token: str = "", connections: str = CONNECTIONS) -> dict:
    for _ in range(20):  # warm the caches and the connections
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            assert r.status == 200, r.status
    threads = str(min(2, int(connections)))
    result = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION}",
            "--latency",
            "-s",
            str(ROOT / "bench" / "resolve.lua"),
            url,
        ],
        env={**os.environ, "BENCH_TOKEN": token},
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(row for row in result.stdout.splitlines() if row.startswith("RESULT "))
    requests, seconds, p50, p95, p99, errors = line.split()[1:]
    return {
        "rps": int(requests) / float(seconds),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "errors": int(errors),
    }


def main() -> None:
    wrk = ensure_wrk()
    env = server_environment()
    token = prepare(env)
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    resolve_url = f"{base}/api/v1/resolve/bench/greeting/?environment=production"
    try:
        runs = {
            "resolve (service token)": drive(wrk, resolve_url, token),
            "trivial JSON view": drive(wrk, f"{base}/ping/"),
            "resolve, light load": drive(wrk, resolve_url, token, LATENCY_CONNECTIONS),
            "trivial, light load": drive(wrk, f"{base}/ping/", "", LATENCY_CONNECTIONS),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"gunicorn {WORKERS} workers x {THREADS} threads; wrk with {CONNECTIONS} connections "
        f"(saturating) and {LATENCY_CONNECTIONS} (light load), {DURATION} each; "
        f"{os.cpu_count()} cores shared by server and load generator"
    )
    print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, figures in runs.items():
        print(
            f"{name:<28}{figures['rps']:>10.0f}{figures['p50']:>9.2f}{figures['p95']:>9.2f}"
            f"{figures['p99']:>9.2f}{figures['errors']:>8}"
        )
    resolve, trivial = runs["resolve (service token)"], runs["trivial JSON view"]
    light = runs["resolve, light load"]
    print(
        f"resolve throughput = {resolve['rps'] / trivial['rps']:.0%} of the trivial view "
        f"(target >= 50%); resolve p50 under light load = {light['p50']:.2f} ms "
        "(target < 2 ms)"
    )


if __name__ == "__main__":
    main()
