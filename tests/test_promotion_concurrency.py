"""Twenty writers approving, requesting and rolling back one prompt's production at once, on
real PostgreSQL connections: one consistent deployment, only clear 409s, an intact audit chain."""

import random
import threading

import pytest
from django.db import connection

from approvals.models import PromotionRequest
from approvals.services import promotion_approve, promotion_request, promotion_right_grant, rollback
from portal.audit.selectors import verify
from portal.errors import Conflict
from prompts.models import Deployment, Environment
from prompts.services import deployment_set, version_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def test_concurrent_approvals_requests_and_rollbacks_stay_consistent():
    admin = system_actor()
    namespace = NamespaceFactory(slug="race")
    writer, requester = UserFactory(username="writer"), UserFactory(username="requester")
    for user in (writer, requester):
        MembershipFactory(team=namespace.team, user=user, role="maintainer")
    reviewers = [UserFactory(username=f"rev{i}") for i in range(10)]
    env = {e.slug: e for e in Environment.objects.all()}
    for reviewer in reviewers:
        promotion_right_grant(
            actor=admin, namespace=namespace, environment=env["production"], user=reviewer
        )
    prompt = PromptFactory(namespace=namespace, name="hot")
    versions = [
        version_create(prompt=prompt, author=writer, template=f"v{i} {{{{x}}}}", variables=["x"])
        for i in range(1, 4)
    ]
    for version in versions[:2]:
        deployment_set(
            prompt=prompt,
            environment=env["production"],
            version=version,
            actor=admin,
            action="deployment.seeded",
        )
    deployment_set(
        prompt=prompt,
        environment=env["staging"],
        version=versions[2],
        actor=admin,
        action="deployment.seeded",
    )
    pending = promotion_request(
        actor=requester,
        prompt=prompt,
        version=versions[2],
        environment=env["production"],
        justification="go",
    )

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    unexpected: list[BaseException] = []
    plan = (["approve"] * 8) + (["rollback"] * 8) + (["request"] * 4)
    random.Random(7).shuffle(plan)

    def work(index: int, action: str) -> None:
        reviewer = reviewers[index % len(reviewers)]
        try:
            barrier.wait(timeout=20)
            if action == "approve":
                promotion_approve(actor=reviewer, request=pending, comment="ok")
            elif action == "rollback":
                rollback(
                    actor=reviewer,
                    prompt=prompt,
                    environment=env["production"],
                    justification="incident",
                )
            else:
                promotion_request(
                    actor=requester,
                    prompt=prompt,
                    version=versions[2],
                    environment=env["production"],
                    justification="again",
                )
            outcomes.append(f"{action}:ok")
        except Conflict as exc:
            outcomes.append(f"{action}:409:{exc.code}")
        except Exception as exc:  # anything else fails the test
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(plan)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert unexpected == []
    assert len(outcomes) == THREADS
    deployments = list(Deployment.objects.filter(prompt=prompt, environment=env["production"]))
    assert len(deployments) == 1
    latest = deployments[0].history.order_by("-history_date", "-history_id").first()
    assert latest.version_id == deployments[0].version_id
    assert PromotionRequest.objects.filter(prompt=prompt, state="pending").count() <= 1
    for request in PromotionRequest.objects.filter(prompt=prompt, state="applied"):
        assert request.reviews.filter(decision="approve").count() >= 2
    result = verify()
    assert result.ok, result
