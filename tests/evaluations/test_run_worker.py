"""A run executed by a real Celery worker (`celery -A portal worker`, started here) on a private
Redis: the run is started over HTTP on gunicorn, whose outbox publishes the task to that Redis;
the worker runs 60 cases against a local OpenAI-compatible server (threaded, answering after
100 ms) with EVALUATION_CONCURRENCY=4, and the run reaches `passed`. The server counts the calls
in flight: more than one at a time, never more than four."""

import json
import os
import signal
import subprocess
import threading
import time
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from prompts.evaluations.models import Model, Run, Suite
from prompts.services import version_create
from teams.tokens import personal_token_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory
from tests.live import BIN, ROOT, PrivateRedis, Server, process_environment, request, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CASES = 60
CONCURRENCY = 4
KEY = "sk-worker-test-key"


class InFlight:
    """A Chat Completions answer after a short wait, counting the calls in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0

    def __call__(self, request) -> Response:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.1)
            said = json.loads(request.data)["messages"][-1]["content"]
            body = {
                "id": "c",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"Reply to: {said}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12},
            }
            return Response(json.dumps(body), content_type="application/json")
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture
def fake_model():
    counter = InFlight()
    server = HTTPServer(threaded=True)
    server.expect_request("/v1/chat/completions").respond_with_handler(counter)
    server.start()
    yield counter, server.url_for("/v1")
    server.clear()
    server.stop()


@pytest.fixture
def private_redis(tmp_path):
    redis_server = PrivateRedis(tmp_path).start()
    yield redis_server
    redis_server.stop()


@pytest.fixture
def worker(private_redis):
    env = process_environment(
        private_redis.url,
        EVALUATION_CONCURRENCY=str(CONCURRENCY),
        PROVIDER_ALLOW_PRIVATE="1",
        FAKE_MODEL_API_KEY=KEY,
    )
    command = [str(BIN / "celery"), "-A", "portal", "worker", "--pool", "solo", "-l", "WARNING"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def web(private_redis):
    server = Server(process_environment(private_redis.url)).start()
    yield server
    server.stop()


def test_a_real_worker_runs_sixty_cases_four_at_a_time_and_the_run_passes(fake_model, worker, web):
    counter, base_url = fake_model
    namespace = NamespaceFactory(slug="support")
    mae = UserFactory(username="mae")
    MembershipFactory(team=namespace.team, user=mae, role="maintainer")
    prompt = PromptFactory(namespace=namespace, name="greet")
    version_create(prompt=prompt, author=mae, template="Hello {{name}}", variables=["name"])
    suite = Suite.objects.create(prompt=prompt, name="many", created_by=mae)
    for n in range(1, CASES + 1):
        suite.cases.create(
            position=n,
            variables={"name": f"guest {n}"},
            assertions=[{"type": "contains", "value": f"Hello guest {n}"}],
        )
    Model.objects.create(
        name="fake-4o",
        provider="openai",
        provider_model_id="fake",
        base_url=base_url,
        api_key_env="FAKE_MODEL_API_KEY",
        price_in_per_million=Decimal("1"),
        price_out_per_million=Decimal("2"),
    )
    _, token = personal_token_create(actor=mae, name="worker test")
    body = {"prompt": "support/greet", "version": 1, "suite": suite.pk, "model": "fake-4o"}

    status, _, content = request(
        "POST", f"{web.url}/api/v1/evaluations/", token=token, body=json.dumps(body).encode()
    )
    assert status == 202, content
    run_id = json.loads(content)["id"]
    seen_progress = set()

    def finished() -> bool:
        _, _, answer = request("GET", f"{web.url}/api/v1/evaluations/{run_id}/", token=token)
        answer = json.loads(answer)
        seen_progress.add(answer["done"])
        return answer["state"] not in ("queued", "running")

    assert wait_for(finished, 60, 0.1)
    run = Run.objects.get(pk=run_id)
    assert run.state == "passed", run.error
    assert (run.done, run.total, run.passed_cases, run.pass_rate) == (CASES, CASES, CASES, 1.0)
    assert run.results.count() == CASES
    assert list(run.results.values_list("position", flat=True)) == list(range(1, CASES + 1))
    assert run.total_cost_usd == pytest.approx(CASES * (8 * 1 + 4 * 2) / 1e6)
    assert counter.calls == CASES
    assert 1 < counter.most <= CONCURRENCY
    assert any(0 < done < CASES for done in seen_progress)  # progress while it ran
