"""The jinja2 sandbox under gunicorn with the production configuration and DEBUG off: a
render that would allocate gigabytes, or spin, answers 422 `sandbox` within the time limit,
the gunicorn worker that served it keeps its memory and its pid, and serves the next render."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from prompts.models import Environment
from prompts.services import deployment_set, version_create
from teams.tokens import personal_token_create
from tests.factories import NamespaceFactory, PromptFactory, UserFactory
from tests.live import Server, process_environment, request

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = (
    "{% set l = [1] %}{% if mode == 'width' %}{{ '{:>{w}}'.format('a', w=n)|length }}"
    "{% elif mode == 'double' %}{% for i in range(n) %}"
    "{% set _ = l.extend(l) %}{% endfor %}{{ l|length }}"
    "{% elif mode == 'spin' %}{% for i in range(n) %}{% for j in range(n) %}{% endfor %}"
    "{% endfor %}{% else %}Hello {{ n }}{% endif %}"
)


def status_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0])
    return fields


def gunicorn_worker(server: Server) -> int:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    (pid,) = children.read_text().split()
    return int(pid)


@pytest.fixture
def served():
    staff = UserFactory(username="boss", is_staff=True)
    prompt = PromptFactory(namespace=NamespaceFactory(slug="lab"), name="bomb")
    version = version_create(
        prompt=prompt,
        author=staff,
        template=TEMPLATE,
        template_format="jinja2",
        variables=["mode", "n"],
    )
    deployment_set(
        prompt=prompt,
        environment=Environment.objects.get(slug="production"),
        version=version,
        actor=staff,
        action="deployment.seeded",
    )
    _, token = personal_token_create(actor=staff, name="live")
    server = Server(process_environment(settings.REDIS_URL)).start()
    yield server, token
    server.stop()


def render(server: Server, token: str, mode: str, n: int):
    status, seconds, body = request(
        "POST",
        f"{server.url}/api/v1/resolve/lab/bomb/render/",
        token=token,
        body=json.dumps({"variables": {"mode": mode, "n": n}}).encode(),
        timeout=30,
    )
    return status, seconds, json.loads(body)


def test_bombs_end_in_422_quickly_and_the_gunicorn_worker_is_untouched(served):
    server, token = served
    assert render(server, token, "hello", 1)[0] == 200  # the worker and its sandbox are up
    worker = gunicorn_worker(server)
    before = status_of(worker)

    answers = [
        render(server, token, "width", 1_000_000_000),
        render(server, token, "double", 40),
        render(server, token, "spin", 100_000),
    ]

    for status, seconds, body in answers:
        assert status == 422, body
        assert body["code"] == "sandbox"
        assert seconds < settings.RENDER_TIME_LIMIT + 2
    assert gunicorn_worker(server) == worker  # gunicorn did not have to kill it
    after = status_of(worker)
    assert after["VmHWM"] - before["VmHWM"] < 50_000  # kB: the gigabytes were elsewhere
    status, _, body = render(server, token, "hello", 2)
    assert (status, body["rendered"]) == (200, "Hello 2")


def test_three_bombs_in_parallel_leave_the_server_answering(served):
    server, token = served
    started = time.monotonic()
    # gunicorn's gthread worker serves two at once here; the third waits its turn.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: render(server, token, "spin", 100_000), range(3)))

    assert [status for status, _, _ in answers] == [422, 422, 422]
    assert time.monotonic() - started < 3 * (settings.RENDER_TIME_LIMIT + 2)
    assert render(server, token, "hello", 3)[0] == 200
