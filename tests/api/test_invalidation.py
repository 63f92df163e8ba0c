"""What a change invalidates (only what it affects), how long anything stays cached (the max
age), and the outbox that carries invalidations and tasks from a transaction to Redis."""

import pytest
import redis
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from portal import outbox
from portal.models import OutboxMessage
from portal.tasks import drain_outbox
from prompts.services import deployment_set, prompt_update, version_create
from teams.services import namespace_update
from teams.tokens import token_cache_key
from tests.factories import PromptFactory

pytestmark = pytest.mark.django_db


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


@pytest.fixture
def two_prompts(world, django_capture_on_commit_callbacks):
    """`support/greet` (the world's) and `support/other`, both in production and cached."""
    with django_capture_on_commit_callbacks(execute=True):
        other = PromptFactory(namespace=world.namespace, name="other")
        versions = [
            version_create(prompt=other, author=world.admin, template=t, variables=[])
            for t in ("one", "two")
        ]
        deployment_set(
            prompt=other,
            environment=world.env["production"],
            version=versions[0],
            actor=world.admin,
            action="deployment.seeded",
        )
    world.other, world.other_versions = other, versions
    assert world.get().status_code == world.get("support/other").status_code == 200
    return world


def test_a_namespace_description_edit_keeps_every_cached_answer(
    two_prompts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(
            actor=two_prompts.admin, namespace=two_prompts.namespace, description="Support team"
        )
        prompt_update(actor=two_prompts.admin, prompt=two_prompts.prompt, description="Greets")

    assert _queries(two_prompts.get) == 0
    assert _queries(lambda: two_prompts.get("support/other")) == 0


def test_a_deployment_invalidates_its_prompt_only(two_prompts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deployment_set(
            prompt=two_prompts.other,
            environment=two_prompts.env["production"],
            version=two_prompts.other_versions[1],
            actor=two_prompts.admin,
            action="deployment.seeded",
        )

    assert _queries(two_prompts.get) == 0  # support/greet: still cached
    assert two_prompts.get("support/other").json()["version"] == 2


def test_a_visibility_change_invalidates_the_namespace(
    two_prompts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(
            actor=two_prompts.admin, namespace=two_prompts.namespace, visibility="internal"
        )

    assert _queries(two_prompts.get) > 0  # reloaded: the answer carries the visibility


def test_everything_cached_expires_within_the_max_age(world, settings):
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    settings.RESOLVE_CACHE_MAX_AGE = 7
    world.get()
    token_key = token_cache_key(world.service._credentials["HTTP_AUTHORIZATION"].split()[1])

    keys = [key.decode() for key in server.scan_iter(match="*resolve:*")]
    keys.append(f"{settings.CACHES['default']['KEY_PREFIX']}:1:{token_key}")
    ttls = {key: server.ttl(key) for key in keys}

    assert len(keys) >= 4  # the answer, two generations, the token
    assert all(0 < ttl <= 7 for ttl in ttls.values()), ttls


@transaction.atomic
def _failing_change() -> None:
    outbox.invalidate("resolve:v3:gen:p:support/greet")
    raise RuntimeError("the change fails")


def test_outbox_messages_belong_to_their_transaction(world):
    before = OutboxMessage.objects.count()
    with pytest.raises(RuntimeError, match="the change fails"):
        _failing_change()

    assert OutboxMessage.objects.count() == before
    with pytest.raises(KeyError):
        outbox.enqueue("no.such.task")


@pytest.mark.django_db(transaction=True)
def test_outbox_messages_are_written_inside_a_transaction_only():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.invalidate("outside")


def test_delivered_messages_leave_the_outbox_and_the_cache(
    world, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    cache.set("probe", "stale", 60)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.invalidate("probe")
        outbox.put({"tombstone": "revoked"})

    assert cache.get("probe") is None
    assert cache.get("tombstone") == "revoked"
    assert not OutboxMessage.objects.exists()
    assert drain_outbox() == 0


def test_a_message_that_fails_on_its_own_does_not_hold_up_the_others(world, caplog):
    with transaction.atomic():
        outbox.enqueue("approvals.tasks.notify_promotion_event")  # no arguments: fails each time
    broken = OutboxMessage.objects.get()
    with transaction.atomic():
        outbox.enqueue("approvals.tasks.notify_promotion_event", 0, "requested")
        outbox.invalidate("probe")

    assert drain_outbox() == 2
    broken.refresh_from_db()
    assert broken.attempts == 1
    assert "TypeError" in broken.last_error

    for _ in range(outbox.MAX_ATTEMPTS - 1):
        drain_outbox()
    assert drain_outbox() == 0  # left for a person: the admin lists it
    broken.refresh_from_db()
    assert broken.attempts == outbox.MAX_ATTEMPTS
