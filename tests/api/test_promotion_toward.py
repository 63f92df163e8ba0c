"""A request toward a later environment (what a Langfuse `production` label on a new version
asks): it is for the step the order of environments requires first (staging), and once that
applies the next step is requested in the requester's name, with the usual approvals, rules
and audit; a refusal then does not undo what applied."""

import pytest

from approvals.models import PromotionRequest
from approvals.services import promotion_approve, promotion_toward
from portal.audit.models import AuditEntry
from portal.errors import PermissionDenied
from teams.services import membership_remove
from tests.api.test_promotions import Gov

pytestmark = pytest.mark.django_db


@pytest.fixture
def gov(db):
    return Gov()


def _toward(gov, environment="production"):
    return promotion_toward(
        actor=gov.users["mia"],
        prompt=gov.prompt,
        version=gov.v2,
        environment=gov.env[environment],
        justification="the friendlier greeting, everywhere",
    )


def test_the_first_step_is_requested_and_each_approval_requests_the_next(gov):
    staging = _toward(gov)
    assert (staging.environment.slug, staging.state) == ("staging", "pending")
    assert staging.then_environment.slug == "production"
    assert gov.running("production") is None

    promotion_approve(actor=gov.users["r1"], request=staging)

    assert gov.running("staging") == 2
    production = PromotionRequest.objects.get(environment__slug="production")
    assert (production.state, production.required_approvals) == ("pending", 2)
    assert production.requested_by == gov.users["mia"]
    assert production.justification == "the friendlier greeting, everywhere"
    assert production.then_environment is None
    assert gov.running("production") is None  # still two reviewers to go
    promotion_approve(actor=gov.users["r1"], request=production)
    promotion_approve(actor=gov.users["r2"], request=production)
    assert gov.running("production") == 2
    requested = AuditEntry.objects.get(action="promotion.requested", object_id=str(staging.pk))
    assert requested.after["then_environment"] == "production"
    assert AuditEntry.objects.filter(
        action="promotion.requested", object_id=str(production.pk), actor="mia"
    ).exists()


def test_without_a_missing_step_it_is_an_ordinary_request(gov):
    request = _toward(gov, "staging")
    assert (request.environment.slug, request.then_environment) == ("staging", None)


def test_a_follow_on_the_requester_may_no_longer_make_is_audited_not_applied(gov):
    staging = _toward(gov)
    membership_remove(actor=gov.staff, team=gov.namespace.team, user=gov.users["mia"])

    promotion_approve(actor=gov.users["r1"], request=staging)

    assert gov.running("staging") == 2  # what was approved applies
    assert not PromotionRequest.objects.filter(environment__slug="production").exists()
    refused = AuditEntry.objects.get(action="promotion.follow_on_refused")
    assert refused.object_id == str(staging.pk)
    assert refused.after["environment"] == "production"


def test_the_requester_needs_the_right_to_request_in_the_first_place(gov):
    with pytest.raises(PermissionDenied):
        promotion_toward(
            actor=gov.users["r1"],  # a viewer
            prompt=gov.prompt,
            version=gov.v2,
            environment=gov.env["production"],
            justification="not mine to ask",
        )
    assert not PromotionRequest.objects.exists()
