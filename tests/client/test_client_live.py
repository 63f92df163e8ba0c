"""The client SDK against a real portal: gunicorn (production configuration) on the suite's
PostgreSQL and Redis, the client speaking HTTP to it. Requests are counted by a transport that
wraps httpx's real one (nothing is faked). The portal's data is changed through its services
in this process, as a person in the portal would change it."""

import asyncio
import concurrent.futures
import itertools
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from django.conf import settings

from approvals.services import promotion_right_grant, rollback
from promptportal import (
    AccessDenied,
    AsyncPortal,
    Portal,
    PromptNotFound,
    PromptRetired,
    PromptUnavailable,
    snapshot,
)
from promptportal._store import bucket_of
from prompts.lifecycle import prompt_retire
from prompts.metrics.models import CallEvent
from prompts.models import Environment
from prompts.resolve import assign
from prompts.services import deployment_set, prompt_create, version_create
from teams.services import membership_remove
from teams.tokens import personal_token_create, service_token_create, token_revoke
from tests.factories import NamespaceFactory, system_actor
from tests.live import Server, process_environment, wait_for
from tests.test_sync import REPLY, write

pytestmark = pytest.mark.django_db(transaction=True)


class Counting(httpx.HTTPTransport):
    """httpx's own transport, counting requests and keeping their bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []
        self.arrived = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()
        return super().handle_request(request)

    def wait_for_requests(self, count: int, seconds: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, seconds)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        env = process_environment(settings.REDIS_URL)
    started = Server(env).start()
    yield started
    started.stop()


class Seeded:
    """Namespace `support` with `support/greet` (v1 in production, v2 in staging and
    development) and a service token for it."""

    def __init__(self):
        self.admin = system_actor()
        self.namespace = NamespaceFactory(slug="support", visibility="private")
        self.prompt = prompt_create(actor=self.admin, namespace=self.namespace, name="greet")
        self.versions = [
            version_create(
                prompt=self.prompt,
                author=self.admin,
                template=text,
                variables=["name"],
                model_config={"model": "small"},
            )
            for text in ("Hello {{name}}", "Hi {{name}}")
        ]
        self.deploy("development", 2)
        self.deploy("staging", 2)
        self.deploy("production", 1)
        self.token, self.secret = service_token_create(
            actor=self.admin, namespaces=[self.namespace], name="client tests"
        )

    def deploy(self, environment: str, number: int, prompt=None):
        deployment_set(
            prompt=prompt or self.prompt,
            environment=Environment.objects.get(slug=environment),
            version=(prompt or self.prompt).versions.get(number=number),
            actor=self.admin,
            action="deployment.seeded",
        )


@pytest.fixture
def seeded():
    return Seeded()


def _portal(server, seeded, **options):
    transport = Counting()
    options.setdefault("interval", 0.2)
    portal = Portal(server.url, seeded.secret, transport=transport, **options)
    return portal, transport


def test_get_renders_and_a_cached_get_makes_no_request(server, seeded):
    portal, transport = _portal(server, seeded)
    try:
        prompt = portal.get("support/greet")
        assert (prompt.version, prompt.environment, prompt.source) == (1, "production", "portal")
        assert prompt.sha256 == seeded.versions[0].sha256
        assert prompt.model_config == {"model": "small"}
        assert prompt.render(name="Ada") == "Hello Ada"
        assert portal.get("support/greet", environment="staging").version == 2
        assert portal.get("support/greet", version=2, environment="production").version == 2

        portal.close()  # no revalidation from here on: only gets
        made = len(transport.requests)
        for _ in range(1000):
            assert portal.get("support/greet").version == 1
        assert len(transport.requests) == made
    finally:
        portal.close()


def test_a_promotion_and_a_rollback_are_seen_within_the_interval(server, seeded):
    portal, _ = _portal(server, seeded)
    try:
        assert portal.get("support/greet").version == 1
        seeded.deploy("production", 2)
        assert wait_for(lambda: portal.get("support/greet").version == 2, 3)

        production = Environment.objects.get(slug="production")
        promotion_right_grant(
            actor=seeded.admin,
            namespace=seeded.namespace,
            environment=production,
            user=seeded.admin,
        )
        rollback(
            actor=seeded.admin,
            prompt=seeded.prompt,
            environment=Environment.objects.get(slug="production"),
            justification="v2 answers too tersely",
        )
        assert wait_for(lambda: portal.get("support/greet").version == 1, 3)
    finally:
        portal.close()


def test_a_retired_prompt_is_dropped_and_raised(server, seeded):
    portal, _ = _portal(server, seeded)
    try:
        portal.get("support/greet")
        prompt_retire(actor=seeded.admin, prompt=seeded.prompt, reason="replaced by greet-2")

        def raised():
            try:
                portal.get("support/greet")
            except PromptRetired as exc:
                return exc
            return None

        error = wait_for(raised, 3)
        assert isinstance(error, PromptRetired)
        assert "retired" in str(error)
        assert ("support/greet", "production", None) not in portal._store.entries
    finally:
        portal.close()


def test_a_revoked_token_drops_every_cached_prompt(server, seeded):
    portal, _ = _portal(server, seeded)
    try:
        portal.get("support/greet")
        portal.get("support/greet", environment="staging")
        token_revoke(actor=seeded.admin, token=seeded.token)

        def refused():
            try:
                portal.get("support/greet", environment="staging")
            except AccessDenied:
                return True
            return False

        assert wait_for(refused, 3)
        with pytest.raises(AccessDenied):
            portal.get("support/greet")
        assert portal._store.entries == {}
    finally:
        portal.close()


def test_two_hundred_prompts_cost_one_request_per_interval(server, seeded):
    for i in range(199):
        prompt = prompt_create(actor=seeded.admin, namespace=seeded.namespace, name=f"p{i}")
        version_create(prompt=prompt, author=seeded.admin, template=f"prompt {i}")
        seeded.deploy("production", 1, prompt=prompt)
    names = ["support/greet", *(f"support/p{i}" for i in range(199))]
    portal, transport = _portal(server, seeded, interval=0.1)
    try:
        portal.prefetch(names)  # a service warming up: one request
        assert len(transport.requests) == 1
        assert transport.wait_for_requests(6)
        sizes = [len(json.loads(r.content)["prompts"]) for r in transport.requests[:6]]
        assert sizes == [200] * 6  # every round: one request for all
        assert {r.url.path for r in transport.requests} == {"/api/v1/resolve/batch/"}
        assert [portal.get(name).version for name in names] == [1] * 200
    finally:
        portal.close()


def test_events_are_batched_in_the_background_and_counted_once(server, seeded):
    portal, transport = _portal(server, seeded, event_batch_size=10, event_flush_interval=60)
    try:
        prompt = portal.get("support/greet")
        before = len(transport.requests)
        for i in range(25):
            portal.report(prompt, latency_ms=100 + i, output_tokens=i, feedback=1)
        with portal.measure(prompt, subject="ada") as call:
            call.output_tokens = 7
        assert transport.wait_for_requests(before + 2)  # full batches go at once
        assert portal.flush()
        sent = [r for r in transport.requests[before:] if r.url.path == "/api/v1/events/"]
        sizes = [len(json.loads(r.content)["events"]) for r in sent]
        assert sum(sizes) == 26
        assert max(sizes) == 10
        assert CallEvent.objects.filter(prompt=seeded.prompt).count() == 26
        timed = CallEvent.objects.get(prompt=seeded.prompt, output_tokens=7, subject="ada")
        assert timed.latency_ms >= 0
        assert timed.model == "small"  # from the version's model_config

        # The same batch sent again (a retry after a lost answer) is counted once.
        again = httpx.post(
            f"{server.url}/api/v1/events/",
            content=sent[0].content,
            headers={
                "Authorization": f"Bearer {seeded.secret}",
                "Content-Type": "application/json",
            },
        )
        assert again.json()["duplicates"] == 10
        assert CallEvent.objects.filter(prompt=seeded.prompt).count() == 26
    finally:
        portal.close()


def test_the_portal_down_serves_the_last_good_copy_a_fallback_or_an_error(seeded, caplog):
    down = Server(process_environment(settings.REDIS_URL)).start()
    portal, transport = _portal(down, seeded)
    try:
        portal.get("support/greet")
        down.kill()
        assert transport.wait_for_requests(len(transport.requests) + 1)  # a round fails
        for _ in range(3):
            assert portal.get("support/greet").version == 1
        with pytest.raises(PromptUnavailable):
            portal.get("support/other")
        served = portal.get("support/other", fallback="Hi {{name}} (offline)")
        assert (served.source, served.version) == ("fallback", None)
        assert served.render(name="Bo") == "Hi Bo (offline)"
        assert wait_for(lambda: "unreachable" in caplog.text, 5)
    finally:
        portal.close()
        down.stop()


def test_client_assignment_equals_the_servers_for_ten_thousand_subjects():
    subjects = [f"user-{i}" for i in range(10_000)]
    for experiment_id, subject in itertools.product((1, 42, 987_654), subjects):
        assert bucket_of(experiment_id, subject) == assign.bucket_of(experiment_id, subject)


def test_the_async_client_behaves_the_same(server, seeded):
    async def scenario():
        async with AsyncPortal(server.url, seeded.secret, interval=0.2) as portal:
            prompt = await portal.get("support/greet", subject="ada")
            assert (prompt.version, prompt.render(name="Ada")) == (1, "Hello Ada")
            await asyncio.to_thread(seeded.deploy, "production", 2)
            for _ in range(100):  # at most 5 s: seen within a round or two
                if (await portal.get("support/greet")).version == 2:
                    break
                await asyncio.sleep(0.05)
            assert (await portal.get("support/greet")).version == 2
            portal.report(prompt, latency_ms=12.5, feedback=-1)
            assert await portal.flush()
            with pytest.raises(PromptNotFound):
                await portal.get("support/nothing-here")
            for i in range(7):  # still buffered when the client closes: sent, not lost
                portal.report(prompt, latency_ms=float(i), feedback=0)

    # In a thread of its own: a browser test earlier in this process may leave Playwright's
    # event loop registered on the main thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert CallEvent.objects.filter(prompt=seeded.prompt, feedback=-1).count() == 1
    assert CallEvent.objects.filter(prompt=seeded.prompt, feedback=0).count() == 7


def test_a_snapshot_starts_a_service_while_the_portal_is_down_and_heals_when_it_returns(
    seeded, tmp_path
):
    up = Server(process_environment(settings.REDIS_URL)).start()
    out = tmp_path / "prompts.json"
    command = [sys.executable, "-m", "promptportal", "snapshot", "--namespace", "support"]
    taken = subprocess.run(
        [*command, "--out", str(out), "--url", up.url, "--token", seeded.secret],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 0, taken.stderr
    assert "1 prompts written" in taken.stdout
    up.kill()

    portal, _ = _portal(up, seeded, snapshot=out)
    try:
        prompt = portal.get("support/greet")
        assert (prompt.version, prompt.source) == (1, "snapshot")
        assert prompt.render(name="Cy") == "Hello Cy"

        seeded.deploy("production", 2)
        up = Server(up.env, port=up.port).start()  # the portal is back
        assert wait_for(lambda: portal.get("support/greet").version == 2, 15)
        assert portal.get("support/greet").source == "portal"
    finally:
        portal.close()
        up.stop()


def test_events_wait_in_a_bounded_buffer_while_the_portal_is_down(seeded):
    down = Server(process_environment(settings.REDIS_URL)).start()
    portal, _ = _portal(down, seeded, max_buffered_events=5, event_flush_interval=0.05)
    try:
        prompt = portal.get("support/greet")
        down.kill()
        for i in range(8):
            portal.report(prompt, latency_ms=float(i))
        assert portal.events_dropped == 3
        assert portal.events_pending <= 5
        assert not portal.flush(timeout=1)
        assert portal.events_dropped == 3  # what waited is still there, oldest dropped first
        assert [r["latency_ms"] for r in portal._events.records] == [3.0, 4.0, 5.0, 6.0, 7.0]
    finally:
        portal.close(timeout=1)


def test_a_forked_child_revalidates_on_its_own(server, seeded):
    portal, _ = _portal(server, seeded)
    try:
        portal.get("support/greet")
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # the child: its own thread and connections must see the change
            seen = wait_for(lambda: portal.get("support/greet").version == 2, 10)
            os.write(writer, b"seen" if seen else b"stale")
            os._exit(0)
        os.close(writer)
        seeded.deploy("production", 2)
        assert os.read(reader, 10) == b"seen"
        os.waitpid(child, 0)
    finally:
        portal.close()


def test_the_sync_command_reports_per_file_and_exits_1_on_a_bad_file(server, seeded, tmp_path):
    _, personal = personal_token_create(actor=seeded.admin, name="ci")
    folder = write(tmp_path, {"support/refund-reply.yaml": REPLY})
    command = [sys.executable, "-m", "promptportal", "sync", str(folder), "--url", server.url]

    def run(*extra):
        return subprocess.run(
            [*command, *extra, "--token", personal], capture_output=True, text=True, timeout=60
        )

    planned = run("--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "created   support/refund-reply.yaml" in planned.stdout
    assert planned.stdout.strip().endswith("0 promotions failed.")
    assert "Dry run (nothing changed)" in planned.stdout
    assert not seeded.namespace.prompts.filter(name="refund-reply").exists()

    write(folder, {"support/broken.yaml": "namespace: support\nname: broken\nkind: poem\n"})
    applied = run()
    assert applied.returncode == 1
    assert "invalid   support/broken.yaml" in applied.stdout
    assert seeded.namespace.prompts.filter(name="refund-reply").exists()
    assert run("--dry-run").returncode == 1


def test_a_refused_prompt_stays_refused_when_the_portal_goes_down(seeded, tmp_path):
    """Neither the snapshot nor a fallback brings back a prompt the portal retired."""
    up = Server(process_environment(settings.REDIS_URL)).start()
    out = tmp_path / "prompts.json"
    portal, _ = _portal(up, seeded)
    try:
        portal.get("support/greet")
        snapshot.write(
            snapshot.take(base_url=up.url, token=seeded.secret, namespaces=["support"]), out
        )
    finally:
        portal.close()
    portal, _ = _portal(up, seeded, snapshot=out)
    try:
        portal.get("support/greet")
        prompt_retire(actor=seeded.admin, prompt=seeded.prompt, reason="gone for good")
        retired = wait_for(
            lambda: ("support/greet", "production", None) in portal._store.refused, 3
        )
        assert retired
        up.kill()
        for _ in range(3):
            with pytest.raises(PromptRetired):
                portal.get("support/greet", fallback="Hello {{name}} (offline)")
    finally:
        portal.close()
        up.stop()


def test_misses_during_an_outage_cost_one_try_per_backoff_not_one_per_call(seeded):
    down = Server(process_environment(settings.REDIS_URL)).start()
    portal, transport = _portal(down, seeded, interval=5)
    try:
        portal.get("support/greet")
        down.kill()
        made = len(transport.requests)
        for _ in range(200):
            assert portal.get("support/missing", fallback="offline").source == "fallback"
        # The first miss tried (with its retries); the others waited for the backoff.
        assert len(transport.requests) - made == 1 + portal.retries
    finally:
        portal.close(timeout=1)


def test_access_taken_away_drops_the_prompt(server, seeded, member_of):
    reader = member_of(seeded.namespace, "viewer")
    _, personal = personal_token_create(actor=reader, name="reader")
    portal = Portal(server.url, personal, interval=0.2)
    try:
        assert portal.get("support/greet").version == 1
        membership_remove(actor=seeded.admin, team=seeded.namespace.team, user=reader)

        def refused():
            try:
                portal.get("support/greet")
            except PromptNotFound:
                return True
            return False

        assert wait_for(refused, 3)
    finally:
        portal.close()


def test_revalidation_rounds_come_once_per_interval(server, seeded):
    portal, transport = _portal(server, seeded, interval=0.1)
    try:
        portal.get("support/greet")
        assert transport.wait_for_requests(4)
        started, first = time.monotonic(), len(transport.requests)
        assert transport.wait_for_requests(first + 5)
        elapsed = time.monotonic() - started
        assert elapsed >= 5 * 0.1 * 0.9  # never more often than the interval
    finally:
        portal.close()
