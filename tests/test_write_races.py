"""Check under the lock, lock in one order, retry a deadlock once: on real PostgreSQL
connections, one per thread."""

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import expire_stale_requests, promotion_request
from portal.audit.models import AuditEntry
from portal.audit.services import audit
from portal.errors import Conflict, PermissionDenied
from portal.transactions import atomic_write
from prompts.models import Environment, Prompt
from prompts.services import deployment_set, version_create
from teams.models import Membership
from teams.services import membership_set
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)
from tests.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Each call on its own thread and connection, released at the same moment; returns each
    result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_owners_demoting_each_other_never_both_succeed():
    """The second change would be made by someone already demoted: it is refused."""
    for round_number in range(10):
        namespace = NamespaceFactory()
        team = namespace.team
        owners = [UserFactory() for _ in range(3)]
        for owner in owners:
            MembershipFactory(team=team, user=owner, role="owner")
        first, second, _ = owners

        results = run_together(
            lambda t=team, a=first, b=second: membership_set(
                actor=a, team=t, user=b, role="viewer"
            ),
            lambda t=team, a=first, b=second: membership_set(
                actor=b, team=t, user=a, role="viewer"
            ),
        )

        refused = [r for r in results if isinstance(r, PermissionDenied)]
        assert len(refused) == 1, (round_number, results)
        roles = dict(Membership.objects.filter(team=team).values_list("user_id", "role"))
        assert sorted(roles.values()) == ["owner", "owner", "viewer"], round_number


def _stale_request(prompt: Prompt, author) -> PromotionRequest:
    staging = Environment.objects.get(slug="staging")
    version = version_create(prompt=prompt, author=author, template="Hi {{n}}", variables=["n"])
    request = promotion_request(
        actor=author, prompt=prompt, version=version, environment=staging, justification="x"
    )
    PromotionRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )
    return request


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "select count(*) from pg_stat_activity "
            "where wait_event_type = 'Lock' and datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_the_expiry_sweep_never_holds_the_audit_chain_while_it_waits_for_a_prompt():
    """An approval holds the second prompt's lock and then appends to the audit log while the
    sweep waits for that prompt. Had the sweep kept the chain head locked from the first
    expiry (one transaction for all), the two would deadlock."""
    author = UserFactory(username="author")
    namespace = NamespaceFactory()
    MembershipFactory(team=namespace.team, user=author, role="maintainer")
    first = _stale_request(PromptFactory(namespace=namespace, name="first"), author)
    second = _stale_request(PromptFactory(namespace=namespace, name="second"), author)
    locked, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def approval_in_progress() -> None:
        try:
            with transaction.atomic():
                Prompt.objects.select_for_update().get(pk=second.prompt_id)
                locked.set()
                release.wait(timeout=30)
                with connection.cursor() as cursor:  # the chain head must be free, not awaited
                    cursor.execute("set local lock_timeout = '500ms'")
                audit(actor=None, action="test.in_progress", object_type="t", object_id=1)
            outcome["approval"] = "committed"
        except BaseException as exc:
            outcome["approval"] = exc
        finally:
            connection.close()

    def sweep() -> None:
        try:
            outcome["sweep"] = expire_stale_requests()
        except BaseException as exc:
            outcome["sweep"] = exc
        finally:
            connection.close()

    approval = threading.Thread(target=approval_in_progress)
    approval.start()
    assert locked.wait(timeout=10)
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    assert wait_for(_waiting_on_a_lock, 10), "the sweep never reached the second prompt"
    release.set()
    approval.join(timeout=30)
    sweeper.join(timeout=30)

    assert outcome == {"approval": "committed", "sweep": 2}
    states = set(
        PromotionRequest.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "state", flat=True
        )
    )
    assert states == {"expired"}
    assert AuditEntry.objects.filter(action="test.in_progress").exists()


@pytest.fixture
def two_prompts():
    namespace = NamespaceFactory()
    return [PromptFactory(namespace=namespace, name=name) for name in ("left", "right")]


def test_a_deadlock_victim_is_retried_once_and_both_writers_succeed(two_prompts):
    attempts: list[str] = []
    meet = threading.Barrier(2)

    @atomic_write
    def lock_both(name: str, order: list[Prompt]) -> str:
        attempts.append(name)
        Prompt.objects.select_for_update().get(pk=order[0].pk)
        if attempts.count(name) == 1:
            meet.wait(timeout=10)  # both hold their first lock: the second locks cross
        Prompt.objects.select_for_update().get(pk=order[1].pk)
        return name

    left, right = two_prompts
    results = run_together(
        lambda: lock_both("forward", [left, right]),
        lambda: lock_both("backward", [right, left]),
    )

    assert results == ["forward", "backward"]
    assert len(attempts) == 3  # PostgreSQL aborted one of them once; it ran again


def _aborted_as_deadlock_victim() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "do $$ begin raise exception 'deadlock detected' using errcode = '40P01'; end $$"
        )


def test_a_second_deadlock_is_a_conflict_and_changes_nothing(two_prompts):
    attempts = []
    environment = Environment.objects.get(slug="development")
    prompt = two_prompts[0]
    version = version_create(
        prompt=prompt, author=system_actor(), template="Hi {{n}}", variables=["n"]
    )

    @atomic_write
    def deploy_then_abort() -> None:
        attempts.append(1)
        deployment_set(
            prompt=prompt,
            environment=environment,
            version=version,
            actor=None,
            action="deployment.seeded",
        )
        _aborted_as_deadlock_victim()

    with pytest.raises(Conflict) as conflict:
        deploy_then_abort()

    assert conflict.value.code == "concurrent_write"
    assert conflict.value.status == 409
    assert len(attempts) == 2
    assert not prompt.deployments.exists()
