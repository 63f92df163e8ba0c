"""The freshness contract across real processes: gunicorn servers on the suite's PostgreSQL and
Redis (or a private Redis a test freezes), Celery worker and beat where the outbox needs them.

- A change made through one server is seen by the other at its next request.
- A change whose invalidation Redis could not take waits in the outbox; once Redis is back,
  the beat task delivers it, even though the process that made the change is gone; and the
  max age bounds the wait when nothing delivers it.
- While Redis is frozen, requests answer within about a second, from the database, and a
  write that committed is reported as done.
"""

import json
import time

import pytest
import redis
from django.conf import settings

from approvals.services import promotion_request, promotion_right_grant
from portal.models import OutboxMessage
from portal.tasks import drain_outbox
from prompts.models import Environment, PromptVersion
from prompts.services import deployment_set, version_create
from teams.tokens import personal_token_create, service_token_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)
from tests.live import (
    Celery,
    PrivateRedis,
    Server,
    free_port,
    process_environment,
    request,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

# A request during a Redis fault: one socket timeout (0.25 s) and the database.
ABOUT_A_SECOND = 1.2


class World:
    """`support/greet` v1, v2, v3: staging runs v2, production v1 (then v2 where asked).
    r1 and r2 may promote and roll back in production; max maintains; mem views."""

    def __init__(self, *, production_runs: int = 1):
        admin = system_actor()
        self.namespace = NamespaceFactory(slug="support", visibility="internal")
        self.team = self.namespace.team
        self.users = {
            name: UserFactory(username=name) for name in ("olive", "max", "mem", "r1", "r2", "otto")
        }
        for name, role in (("olive", "owner"), ("max", "maintainer"), ("mem", "viewer")):
            MembershipFactory(team=self.team, user=self.users[name], role=role)
        environments = {e.slug: e for e in Environment.objects.all()}
        for reviewer in ("r1", "r2"):
            promotion_right_grant(
                actor=admin,
                namespace=self.namespace,
                environment=environments["production"],
                user=self.users[reviewer],
            )
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.versions = [
            version_create(
                prompt=self.prompt, author=self.users["max"], template=text, variables=["n"]
            )
            for text in ("Hello {{n}}", "Hi {{n}}", "Hey {{n}}")
        ]
        for environment, number in (
            ("staging", 2),
            *(("production", n) for n in range(1, production_runs + 1)),
        ):
            deployment_set(
                prompt=self.prompt,
                environment=environments[environment],
                version=self.versions[number - 1],
                actor=admin,
                action="deployment.seeded",
            )
        self.production = environments["production"]
        token, self.service = service_token_create(
            actor=admin, namespaces=[self.namespace], name="svc"
        )
        self.service_prefix = token.prefix
        self.tokens = {
            name: personal_token_create(actor=user, name="live")[1]
            for name, user in self.users.items()
        }

    def resolve(self, server: Server, token: str | None = None) -> tuple[int, float, dict]:
        status, seconds, body = request(
            "GET",
            f"{server.url}/api/v1/resolve/support/greet/?environment=production",
            token=token or self.service,
        )
        return status, seconds, json.loads(body) if body else {}

    def version(self, server: Server, token: str | None = None) -> int | None:
        status, _, body = self.resolve(server, token)
        return body.get("version") if status == 200 else status

    def call(self, server: Server, method: str, path: str, who: str, body: dict | None = None):
        status, seconds, content = request(
            method,
            f"{server.url}/api/v1/{path}",
            token=self.tokens[who],
            body=json.dumps(body).encode() if body is not None else None,
        )
        return status, seconds, json.loads(content) if content else None


@pytest.fixture
def servers():
    started = []

    def start(redis_url: str | None = None, **env) -> Server:
        server = Server(process_environment(redis_url or settings.REDIS_URL, **env)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def suite_redis():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.execute_command("CLIENT", "UNPAUSE")


def test_a_change_through_one_server_is_seen_by_the_other_at_its_next_request(servers):
    world = World()
    a, b = servers(), servers()
    assert world.version(b) == world.version(b) == 1  # cached in Redis now

    status, _, created = world.call(
        a,
        "POST",
        "promotions/",
        "max",
        {
            "prompt": "support/greet",
            "version": 2,
            "environment": "production",
            "justification": "x",
        },
    )
    assert status == 201
    world.call(a, "POST", f"promotions/{created['id']}/approve/", "r1", {})
    status, _, applied = world.call(a, "POST", f"promotions/{created['id']}/approve/", "r2", {})
    assert applied["state"] == "applied"
    assert world.version(b) == 2, "promotion"

    status, _, _ = world.call(
        a,
        "POST",
        "prompts/support/greet/rollback/",
        "r1",
        {"environment": "production", "justification": "incident"},
    )
    assert status == 200
    assert world.version(b) == 1, "rollback"

    assert world.version(b, world.tokens["otto"]) == 1  # internal: every signed-in person
    world.call(a, "PATCH", "namespaces/support/", "olive", {"visibility": "private"})
    assert world.version(b, world.tokens["otto"]) == 404, "visibility change"

    assert world.version(b, world.tokens["mem"]) == 1  # a member reads the private namespace
    status, _, _ = world.call(a, "DELETE", f"teams/{world.team.slug}/members/mem/", "olive")
    assert status == 204
    assert world.version(b, world.tokens["mem"]) == 404, "member removal"

    assert world.version(b) == 1
    status, _, _ = world.call(
        a, "DELETE", f"namespaces/support/service-tokens/{world.service_prefix}/", "olive"
    )
    assert status == 204
    assert world.version(b) == 401, "revocation"


def _roll_back_while_redis_refuses_writes(world: World, writer: Server, suite_redis) -> None:
    suite_redis.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
    try:
        status, seconds, _ = world.call(
            writer,
            "POST",
            "prompts/support/greet/rollback/",
            "r1",
            {"environment": "production", "justification": "incident"},
        )
        assert status == 200
        assert seconds < ABOUT_A_SECOND
        writer.kill()  # and the process that owes the invalidation is gone
    finally:
        suite_redis.execute_command("CLIENT", "UNPAUSE")
    # the invalidation is still owed (a rollback also owes its notification task)
    assert list(OutboxMessage.objects.filter(kind="cache").values_list("kind", flat=True)) == [
        "cache"
    ]


def test_an_invalidation_owed_by_a_dead_process_is_delivered_by_the_beat_task(
    servers, suite_redis, tmp_path
):
    world = World(production_runs=2)
    reader, writer = servers(), servers()
    assert world.version(reader) == world.version(reader) == 2

    _roll_back_while_redis_refuses_writes(world, writer, suite_redis)

    assert world.version(reader) == 2  # the cached answer predates the rollback
    newcomer = servers()
    assert world.version(newcomer) == 2
    celery = Celery(process_environment(settings.REDIS_URL, OUTBOX_DRAIN_SECONDS="1"))
    celery.start(tmp_path)
    try:
        assert wait_for(lambda: world.version(newcomer) == 1, 30), "the outbox was not drained"
    finally:
        celery.stop()
    assert world.version(reader) == 1
    assert not OutboxMessage.objects.exists()


def test_without_a_drain_the_max_age_bounds_how_long_an_old_answer_is_served(servers, suite_redis):
    max_age = 2
    world = World(production_runs=2)
    reader, writer = servers(RESOLVE_CACHE_MAX_AGE=str(max_age)), servers()
    assert world.version(reader) == world.version(reader) == 2
    # started before the clock runs: a loaded machine takes seconds to start a server
    newcomer = servers(RESOLVE_CACHE_MAX_AGE=str(max_age))

    _roll_back_while_redis_refuses_writes(world, writer, suite_redis)
    rolled_back_at = time.monotonic()

    assert wait_for(lambda: world.version(newcomer) == 1, max_age + 2)
    assert time.monotonic() - rolled_back_at <= max_age + 2
    # nothing delivered it: the max age healed it
    assert OutboxMessage.objects.filter(kind="cache").count() == 1


@pytest.fixture
def frozen_redis(tmp_path):
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


def test_during_a_redis_freeze_requests_answer_within_about_a_second(
    servers, frozen_redis, settings
):
    world = World(production_runs=1)
    pending = promotion_request(
        actor=world.users["max"],
        prompt=world.prompt,
        version=PromptVersion.objects.get(prompt=world.prompt, number=2),
        environment=world.production,
        justification="better",
    )
    server = servers(frozen_redis.url)
    assert world.version(server) == world.version(server) == 1

    frozen_redis.freeze()
    try:
        resolves = [world.resolve(server) for _ in range(3)]
        personal = world.resolve(server, world.tokens["mem"])
        world.call(server, "POST", f"promotions/{pending.pk}/approve/", "r1", {})
        status, seconds, applied = world.call(
            server, "POST", f"promotions/{pending.pk}/approve/", "r2", {}
        )
        after = world.resolve(server)
    finally:
        frozen_redis.thaw()

    assert [(status, body["version"]) for status, _, body in resolves] == [(200, 1)] * 3
    assert max(seconds for _, seconds, _ in resolves) < ABOUT_A_SECOND
    assert personal[0] == 200
    assert personal[1] < ABOUT_A_SECOND
    assert (status, applied["state"]) == (200, "applied"), "a committed write is reported done"
    assert seconds < ABOUT_A_SECOND
    assert (after[0], after[2]["version"]) == (200, 2)  # from the database
    pending.refresh_from_db()
    assert pending.state == "applied"
    owed = set(OutboxMessage.objects.values_list("kind", flat=True))
    assert owed == {"cache", "task"}  # the invalidation and the notifications wait

    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": frozen_redis.url}}
    drain_outbox()
    assert not OutboxMessage.objects.exists()
    assert world.version(server) == 2


def test_a_broker_that_refuses_connections_costs_no_request_more_than_a_moment(servers):
    """The cache is up, the broker is not: publishes fail at once, and what a write queued
    waits in the outbox."""
    world = World()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    server = servers(CELERY_BROKER_URL=closed)

    first_use = world.resolve(server)  # queues the token's last-use note
    status, seconds, created = world.call(
        server,
        "POST",
        "promotions/",
        "max",
        {
            "prompt": "support/greet",
            "version": 2,
            "environment": "production",
            "justification": "x",
        },
    )

    assert first_use[0] == 200
    assert first_use[1] < ABOUT_A_SECOND
    assert (status, created["state"]) == (201, "pending")
    assert seconds < ABOUT_A_SECOND
    assert list(OutboxMessage.objects.values_list("kind", flat=True)) == ["task"]
