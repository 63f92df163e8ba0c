"""Benchmark: evaluation runs through a real Celery worker on PostgreSQL and Redis.

Run with `scripts/with-services.sh .venv/bin/python bench/evaluations.py` (`make bench` does)
for a private PostgreSQL and Redis. It migrates, starts `celery -A portal worker` (solo pool:
a run's concurrency is its own thread pool, EVALUATION_CONCURRENCY, default 8) and a fake
OpenAI-compatible Chat Completions server in this process that answers each call after
FAKE_DELAY_SECONDS (0.2). Then it queues two runs as the portal does (run_create: the outbox
publishes the task after commit) and times each from queued to finished (the database's
created_at and finished_at), printing cases/s:

- 1,000 cases on `local` (the offline echo provider): target < 30 s;
- 200 cases on the fake server (200 ms per call): target < 15 s with the default concurrency
  (8 at a time: 200 × 0.2 s / 8 = 5 s of waiting at best).
"""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resolve import free_port, server_environment

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CASES = int(os.environ.get("BENCH_LOCAL_CASES", "1000"))
REMOTE_CASES = int(os.environ.get("BENCH_REMOTE_CASES", "200"))
FAKE_DELAY_SECONDS = float(os.environ.get("FAKE_DELAY_SECONDS", "0.2"))
TARGETS = {"local": 30.0, "fake-remote": 15.0}

PREPARE = """
import json
from django.contrib.auth import get_user_model
from prompts.evaluations.models import Case, Model, Suite
from prompts.services import prompt_create, version_create
from teams.services import namespace_create, team_create
admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
team = team_create(actor=admin, slug="bench", name="Bench")
namespace = namespace_create(actor=admin, slug="bench", team=team, visibility="private")
prompt = prompt_create(actor=admin, namespace=namespace, name="greeting")
version = version_create(prompt=prompt, author=admin, variables=["name", "place"],
                         template="Hello {{name}}, welcome to {{place}}.")
remote = Model.objects.create(name="fake-remote", provider="openai", provider_model_id="fake",
                              base_url="BASE_URL", api_key_env="FAKE_MODEL_API_KEY",
                              price_in_per_million=1, price_out_per_million=2)
ids = []
for model, count in ((Model.objects.get(name="local"), LOCAL), (remote, REMOTE)):
    suite = Suite.objects.create(prompt=prompt, name=f"bench-{model.name}", created_by=admin)
    Case.objects.bulk_create(
        Case(suite=suite, position=n, variables={"name": f"guest {n}", "place": "the bench"},
             assertions=[{"type": "contains", "value": f"guest {n}"},
                         {"type": "not-contains", "value": "error"}])
        for n in range(1, count + 1)
    )
    ids.append((model.name, suite.pk, count))
print(json.dumps({"prompt": prompt.pk, "version": version.pk, "suites": ids}))
"""

QUEUE = """
from celery import current_app
current_app.loader.import_default_modules()  # as a web process has long done: not timed
from prompts.evaluations.models import Model, Suite
from prompts.evaluations.runs import run_create
from django.contrib.auth import get_user_model
suite = Suite.objects.select_related("prompt__namespace").get(pk=SUITE)
run = run_create(actor=get_user_model().objects.get(username="bench"), prompt=suite.prompt,
                 version=suite.prompt.versions.get(number=1), suite=suite,
                 model=Model.objects.get(name="MODEL"))
print(run.pk)
"""


class FakeChat(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: the last message back, after FAKE_DELAY_SECONDS."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(FAKE_DELAY_SECONDS)
        answer = json.dumps(
            {
                "id": "bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": body["messages"][-1]["content"],
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


def shell(env: dict[str, str], code: str) -> str:
    python = sys.executable
    done = subprocess.run(
        [python, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def wait_finished(url: str, run_id: int, timeout: float = 300) -> tuple:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT state, done, total, pass_rate, "
                "EXTRACT(EPOCH FROM finished_at - created_at), "
                "EXTRACT(EPOCH FROM finished_at - started_at) "
                "FROM evaluations_run WHERE id = %s",
                (run_id,),
            ).fetchone()
            if row[0] not in ("queued", "running"):
                return row
            time.sleep(0.05)
    sys.exit(f"run {run_id} did not finish in {timeout} s")


def wait_for_worker(celery: str, env: dict[str, str]) -> None:
    for _ in range(60):
        ping = [celery, "-A", "portal", "inspect", "ping", "--timeout", "1"]
        if subprocess.run(ping, cwd=ROOT, env=env, capture_output=True).returncode == 0:
            return
    sys.exit("the Celery worker did not answer")


def main() -> None:
    fake = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeChat)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{fake.server_address[1]}/v1"
    env = server_environment() | {
        "PROVIDER_ALLOW_PRIVATE": "1",
        "FAKE_MODEL_API_KEY": "sk-bench",
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    concurrency = env.get("EVALUATION_CONCURRENCY", "8")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    prepared = json.loads(
        shell(
            env,
            PREPARE.replace("BASE_URL", base_url)
            .replace("LOCAL)", f"{LOCAL_CASES})")
            .replace("REMOTE)", f"{REMOTE_CASES})"),
        )
    )
    celery = str(Path(sys.executable).with_name("celery"))
    worker = subprocess.Popen(
        [celery, "-A", "portal", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_worker(celery, env)
        print(f"evaluation runs through a Celery worker, EVALUATION_CONCURRENCY={concurrency}")
        for model, suite, count in prepared["suites"]:
            code = QUEUE.replace("SUITE", str(suite)).replace("MODEL", model)
            run_id = int(shell(env, code))
            state, done, total, rate, queued_s, ran_s = wait_finished(env["DATABASE_URL"], run_id)
            queued_s, ran_s = float(queued_s), float(ran_s)
            verdict = "ok" if queued_s < TARGETS[model] else "SLOWER than target"
            print(
                f"  {model:12} {count:5} cases: {state} ({done}/{total}, pass rate {rate}), "
                f"{queued_s:6.2f} s queued→finished ({count / queued_s:7.1f} cases/s), "
                f"{ran_s:6.2f} s in the worker ({count / ran_s:7.1f} cases/s); "
                f"target < {TARGETS[model]:.0f} s: {verdict}"
            )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        fake.shutdown()


if __name__ == "__main__":
    main()
