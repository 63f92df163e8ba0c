"""Benchmark: call events through the HTTP API on gunicorn with PostgreSQL, beside the raw COPY
rate of the same rows into the same table, then the metrics query over all of them.

Run with `scripts/with-services.sh .venv/bin/python bench/events.py [--events N]` (`make bench`
does, with the default 1,000,000) for a private PostgreSQL and Redis. gunicorn (BENCH_WORKERS
workers x BENCH_THREADS threads) serves POST /api/v1/events/; this process posts batches of
1,000 over BENCH_CONNECTIONS keep-alive connections (urllib3) and prints events/s. Then it
COPYs the same rows (for a second prompt) with psycopg, 1,000 per statement and commit: the
ceiling. Then it runs the rollup task and times GET …/metrics/ over every event from the
rollup (the default 7-day range) and exactly (?exact=1).
Targets on 2 cores: >= 10,000 events/s through HTTP; the rollup answer < 300 ms.
"""

import argparse
import concurrent.futures
import datetime as dt
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resolve import free_port, server_environment

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
WORKERS = os.environ.get("BENCH_WORKERS", "2")
THREADS = os.environ.get("BENCH_THREADS", "2")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
MODELS = ("gpt-4o-mini", "claude-haiku", "llama-3-8b")
SPREAD = dt.timedelta(days=3)

PREPARE = """
from django.contrib.auth import get_user_model
from prompts.services import prompt_create, version_create
from teams.services import namespace_create, team_create
from teams.tokens import service_token_create
admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
team = team_create(actor=admin, slug="bench", name="Bench")
namespace = namespace_create(actor=admin, slug="bench", team=team, visibility="private")
ids = []
for name in ("greeting", "greeting-copy"):
    prompt = prompt_create(actor=admin, namespace=namespace, name=name)
    versions = [version_create(prompt=prompt, author=admin, template=f"Hello v{n}")
                for n in (1, 2, 3)]
    ids.append([prompt.pk, *[v.pk for v in versions]])
_, secret = service_token_create(actor=admin, namespaces=[namespace], name="bench")
print(ids[1][0], *ids[1][1:], secret)
"""

ROLLUP = """
import time
from prompts.metrics.rollups import rollup_dirty_hours
started = time.perf_counter()
hours = rollup_dirty_hours()
print(hours, time.perf_counter() - started)
"""


def prepare(env: dict[str, str]) -> tuple[int, list[int], str, int]:
    """Migrate; two prompts with three versions; a service token. Returns the second prompt's
    id and version ids (the COPY target), the token and the production environment's id."""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", PREPARE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-5:]
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        production = conn.execute(
            "SELECT id FROM prompts_environment WHERE slug = 'production'"
        ).fetchone()[0]
    return int(out[0]), [int(v) for v in out[1:4]], out[4], production


def records(count: int, seed: int = 1):
    """The same pseudo-random call records for the HTTP run and the COPY ceiling."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for index in range(count):
        version = rng.randint(1, 3)
        yield {
            "prompt": "bench/greeting",
            "version": version,
            "environment": "production",
            "latency_ms": round(rng.lognormvariate(6 + version / 10, 0.5), 2),
            "input_tokens": rng.randint(50, 800),
            "output_tokens": rng.randint(20, 600),
            "cost_usd": round(rng.random() / 500, 6),
            "quality_score": round(rng.random(), 3) if index % 3 else None,
            "feedback": (-1, 0, 1)[index % 3],
            "error": index % 50 == 0,
            "model": MODELS[index % len(MODELS)],
            "idempotency_key": f"bench-{index}",
            "occurred_at": (now - SPREAD * rng.random()).isoformat(),
        }


def batches(count: int):
    iterator = records(count)
    while chunk := list(itertools.islice(iterator, BATCH)):
        yield chunk


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [
            gunicorn,
            "-c",
            "portal/gunicorn.conf.py",
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            WORKERS,
            "--threads",
            THREADS,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    http = urllib3.PoolManager()
    for _ in range(100):
        try:
            http.request("GET", f"http://127.0.0.1:{port}/ping/", timeout=1, retries=False)
            return server
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    server.terminate()
    sys.exit("gunicorn did not start")


def ingest_http(base: str, token: str, count: int) -> tuple[float, int, int]:
    pool = urllib3.HTTPConnectionPool(
        "127.0.0.1", int(base.rsplit(":", 1)[1]), maxsize=CONNECTIONS, block=True
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    totals = {"accepted": 0, "rejected": 0}

    def send(chunk: list[dict]) -> dict:
        body = json.dumps({"events": chunk}).encode()
        response = pool.request("POST", "/api/v1/events/", body=body, headers=headers)
        assert response.status == 202, (response.status, response.data[:500])
        return json.loads(response.data)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as executor:
        for answer in executor.map(send, batches(count)):
            totals["accepted"] += answer["accepted"]
            totals["rejected"] += len(answer["rejected"])
    return time.perf_counter() - started, totals["accepted"], totals["rejected"]


COLUMNS = (
    "occurred_at, received_at, prompt_id, version_id, environment_id, experiment_id, arm, "
    "model, subject, latency_ms, input_tokens, output_tokens, cost_usd, quality_score, "
    "feedback, error, idempotency_key, metadata"
)


def copy_ceiling(url: str, prompt_id: int, versions: list[int], env_id: int, count: int):
    """The same rows straight into the same partitioned table: COPY, 1,000 rows a commit."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for chunk in batches(count):
            now = dt.datetime.now(dt.UTC)
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY metrics_callevent ({COLUMNS}) FROM STDIN") as copy,
            ):
                for r in chunk:
                    copy.write_row(
                        (
                            dt.datetime.fromisoformat(r["occurred_at"]),
                            now,
                            prompt_id,
                            versions[r["version"] - 1],
                            env_id,
                            None,
                            "",
                            r["model"],
                            "",
                            r["latency_ms"],
                            r["input_tokens"],
                            r["output_tokens"],
                            r["cost_usd"],
                            r["quality_score"],
                            r["feedback"],
                            r["error"],
                            r["idempotency_key"],
                            None,
                        )
                    )
            conn.commit()
        return time.perf_counter() - started


def time_get(http: urllib3.PoolManager, url: str, token: str, runs: int = 5) -> tuple[float, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    times, body = [], {}
    for _ in range(runs):
        started = time.perf_counter()
        response = http.request("GET", url, headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status == 200, (response.status, response.data[:500])
        body = json.loads(response.data)
    return statistics.median(times), body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    count = parser.parse_args().events
    env = server_environment()
    copy_prompt, copy_versions, token, production = prepare(env)
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        seconds, accepted, rejected = ingest_http(base, token, count)
        copy_seconds = copy_ceiling(
            env["DATABASE_URL"], copy_prompt, copy_versions, production, count
        )
        rollup = (
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", ROLLUP],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.splitlines()[-1]
            .split()
        )
        http = urllib3.PoolManager()
        metrics = f"{base}/api/v1/prompts/bench/greeting/metrics/"
        histogram_time, answer = time_get(http, metrics + "?group=version", token)
        day_time, _ = time_get(http, metrics + "?group=day", token)
        exact_time, exact = time_get(http, metrics + "?group=version&exact=1", token, runs=3)
    finally:
        server.terminate()
        server.wait(timeout=20)
    counted = sum(group["count"] for group in answer["groups"])
    http_rate, copy_rate = accepted / seconds, count / copy_seconds
    print(
        f"gunicorn {WORKERS} workers x {THREADS} threads, {CONNECTIONS} client connections, "
        f"batches of {BATCH}; {os.cpu_count()} cores shared by server, client and PostgreSQL"
    )
    print(
        f"HTTP ingest   {accepted:>9,} events in {seconds:7.2f} s = {http_rate:>9,.0f} events/s "
        f"(target >= 10,000; {rejected} rejected)"
    )
    print(f"COPY ceiling  {count:>9,} rows   in {copy_seconds:7.2f} s = {copy_rate:>9,.0f} rows/s")
    print(f"HTTP / COPY = {http_rate / copy_rate:.0%}")
    print(f"rollup task   {int(rollup[0]):,} prompt-hours in {float(rollup[1]):.2f} s")
    print(
        f"metrics, rollup (histogram), group=version: {histogram_time * 1000:7.1f} ms "
        f"over {counted:,} events (target < 300 ms); group=day: {day_time * 1000:.1f} ms"
    )
    print(f"metrics, exact=1 (percentile_cont on raw events): {exact_time * 1000:7.1f} ms")
    for fast, slow in zip(answer["groups"], exact["groups"], strict=True):
        p95, p95_exact = fast["latency_ms"]["p95"], slow["latency_ms"]["p95"]
        print(
            f"  v{fast['version']}: {fast['count']:,} events, p95 {p95:.1f} ms from the "
            f"histogram vs {p95_exact:.1f} ms exact ({abs(p95 / p95_exact - 1):.2%} apart)"
        )


if __name__ == "__main__":
    main()
