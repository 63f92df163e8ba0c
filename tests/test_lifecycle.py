"""The lifecycle services: who may deprecate, retire and reactivate, and the rules they keep."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals.services import promotion_right_grant
from portal.audit.models import AuditEntry
from portal.errors import Conflict, Invalid, PermissionDenied
from prompts.lifecycle import prompt_deprecate, prompt_reactivate, prompt_retire, successor_get
from prompts.models import Prompt
from prompts.services import deployment_set, version_create
from teams.notifications.models import Notification
from tests.factories import NamespaceFactory, PromptFactory, system_actor

pytestmark = pytest.mark.django_db

SOON = dt.timedelta(days=30)


def later():
    return timezone.now() + SOON


def deprecate(actor, prompt, successor=None, **kwargs):
    return prompt_deprecate(
        actor=actor,
        prompt=prompt,
        reason=kwargs.pop("reason", "Replaced."),
        sunset_at=kwargs.pop("sunset_at", later()),
        successor=successor,
    )


def sunset_now_passed(prompt):
    Prompt.objects.filter(pk=prompt.pk).update(sunset_at=timezone.now() - dt.timedelta(days=1))


@pytest.fixture
def maintainer(namespace, member_of):
    return member_of(namespace, "maintainer")


@pytest.fixture
def successor(namespace):
    return PromptFactory(namespace=namespace, name="refund-reply-v2")


def deploy(prompt, environment):
    version = version_create(
        prompt=prompt, author=system_actor(), template="Hi {{name}}", variables=["name"]
    )
    deployment_set(
        prompt=prompt,
        environment=environment,
        version=version,
        actor=system_actor(),
        action="deployment.seeded",
    )


class TestWho:
    @pytest.mark.parametrize("role", ["maintainer", "owner"])
    def test_maintainers_and_owners_deprecate(self, prompt, namespace, member_of, role):
        deprecated = deprecate(member_of(namespace, role), prompt)

        assert deprecated.state == Prompt.State.DEPRECATED

    def test_viewers_and_other_teams_may_not(self, prompt, namespace, member_of):
        other = NamespaceFactory(slug="search")
        for actor in (member_of(namespace, "viewer"), member_of(other, "owner")):
            with pytest.raises(PermissionDenied):
                deprecate(actor, prompt)

        assert Prompt.objects.get(pk=prompt.pk).state == Prompt.State.ACTIVE

    def test_a_protected_environment_takes_the_promotion_right_too(
        self, prompt, namespace, maintainer, environments
    ):
        deploy(prompt, environments["production"])

        with pytest.raises(PermissionDenied, match="production"):
            deprecate(maintainer, prompt)
        promotion_right_grant(
            actor=system_actor(),
            namespace=namespace,
            environment=environments["production"],
            user=maintainer,
        )
        assert deprecate(maintainer, prompt).state == Prompt.State.DEPRECATED

    def test_an_unprotected_environment_does_not(self, prompt, maintainer, environments):
        deploy(prompt, environments["staging"])

        assert deprecate(maintainer, prompt).state == Prompt.State.DEPRECATED

    def test_a_right_elsewhere_is_not_enough(self, prompt, namespace, maintainer, environments):
        deploy(prompt, environments["production"])
        promotion_right_grant(
            actor=system_actor(),
            namespace=namespace,
            environment=environments["staging"],
            user=maintainer,
        )

        with pytest.raises(PermissionDenied):
            prompt_reactivate(actor=maintainer, prompt=prompt, reason="x")

    def test_staff_stand_in_for_the_right(self, prompt, staff, environments):
        deploy(prompt, environments["production"])

        assert deprecate(staff, prompt).state == Prompt.State.DEPRECATED


class TestDeprecate:
    def test_sunset_must_be_in_the_future(self, prompt, maintainer):
        with pytest.raises(Invalid) as refused:
            deprecate(maintainer, prompt, sunset_at=timezone.now() - dt.timedelta(minutes=1))

        assert "sunset_at" in refused.value.errors

    def test_reason_is_required(self, prompt, maintainer):
        with pytest.raises(Invalid) as refused:
            deprecate(maintainer, prompt, reason="  ")

        assert "reason" in refused.value.errors

    def test_successor_is_recorded_and_audited(self, prompt, maintainer, successor):
        deprecate(maintainer, prompt, successor=successor, reason="Use v2")

        prompt.refresh_from_db()
        assert prompt.successor == successor
        entry = AuditEntry.objects.get(action="prompt.deprecated")
        assert entry.actor == maintainer.username
        assert entry.justification == "Use v2"
        assert entry.before["state"] == "active"
        assert entry.after["successor"] == "support/refund-reply-v2"

    def test_not_itself(self, prompt, maintainer):
        with pytest.raises(Invalid, match="itself"):
            deprecate(maintainer, prompt, successor=prompt)

    def test_successor_must_be_active(self, prompt, maintainer, successor, staff):
        deprecate(maintainer, successor)

        with pytest.raises(Invalid, match="deprecated"):
            deprecate(maintainer, prompt, successor=successor)
        prompt_retire(actor=staff, prompt=successor, reason="gone")
        with pytest.raises(Invalid, match="retired"):
            deprecate(maintainer, prompt, successor=successor)

    def test_no_cycles_however_long(self, namespace, maintainer):
        a, b, c = (PromptFactory(namespace=namespace, name=n) for n in ("aa", "bb", "cc"))
        deprecate(maintainer, a, successor=b)
        deprecate(maintainer, b, successor=c)
        # c is active, so a direct c → a is refused as "not active"; an old chain made
        # before the rule (or by hand) is still caught as a cycle:
        Prompt.objects.filter(pk=c.pk).update(state="deprecated")
        Prompt.objects.filter(pk=a.pk).update(state="active")

        with pytest.raises(Invalid, match="cycle"):
            deprecate(maintainer, c, successor=a)

    def test_a_successor_the_actor_cannot_read_is_unknown(self, prompt, maintainer):
        hidden = PromptFactory(
            namespace=NamespaceFactory(slug="secret", visibility="private"), name="hidden"
        )

        with pytest.raises(Invalid) as refused:
            successor_get(actor=maintainer, full_name="secret/hidden")
        assert "successor" in refused.value.errors
        with pytest.raises(Invalid):
            deprecate(maintainer, prompt, successor=hidden)

    def test_a_successor_in_a_private_namespace_others_cannot_see_is_refused(
        self, prompt, namespace, maintainer
    ):
        private = NamespaceFactory(
            slug="support-private", team=namespace.team, visibility="private"
        )
        readable_by_the_actor = PromptFactory(namespace=private, name="new-reply")

        with pytest.raises(Invalid, match="private namespace support-private"):
            deprecate(maintainer, prompt, successor=readable_by_the_actor)

        same_namespace = PromptFactory(namespace=namespace, name="new-reply")
        assert deprecate(maintainer, prompt, successor=same_namespace).successor == same_namespace

    def test_a_sunset_sooner_than_the_minimum_notice_is_for_staff_only(
        self, prompt, maintainer, staff, settings
    ):
        settings.DEPRECATION_MIN_NOTICE_HOURS = 24
        soon = timezone.now() + dt.timedelta(hours=2)

        with pytest.raises(Invalid, match="at least 24 hours' notice") as refused:
            deprecate(maintainer, prompt, sunset_at=soon)
        assert "sunset_at" in refused.value.errors
        assert Prompt.objects.get(pk=prompt.pk).state == Prompt.State.ACTIVE

        assert deprecate(staff, prompt, sunset_at=soon).sunset_at == soon
        with pytest.raises(Invalid, match="notice"):  # nor pulled closer on re-deprecation
            deprecate(maintainer, prompt, sunset_at=soon + dt.timedelta(hours=1))

    def test_a_retired_prompt_is_not_deprecated(self, prompt, maintainer, staff):
        prompt_retire(actor=staff, prompt=prompt, reason="Early, by incident.")

        with pytest.raises(Conflict) as refused:
            deprecate(maintainer, prompt)
        assert refused.value.code == "retired"


class TestRetire:
    def test_after_the_sunset_maintainers_retire(self, prompt, maintainer):
        deprecate(maintainer, prompt)
        sunset_now_passed(prompt)

        retired = prompt_retire(actor=maintainer, prompt=prompt)

        assert retired.state == Prompt.State.RETIRED
        assert AuditEntry.objects.filter(action="prompt.retired").count() == 1

    def test_before_the_sunset_only_staff(self, prompt, maintainer, namespace, member_of):
        deprecate(maintainer, prompt)
        owner = member_of(namespace, "owner")

        for actor in (maintainer, owner):
            with pytest.raises(PermissionDenied, match="only staff"):
                prompt_retire(actor=actor, prompt=prompt, reason="We want it gone.")
        assert Prompt.objects.get(pk=prompt.pk).state == Prompt.State.DEPRECATED

    def test_without_a_sunset_only_staff(self, prompt, maintainer):
        with pytest.raises(PermissionDenied, match="no sunset"):
            prompt_retire(actor=maintainer, prompt=prompt, reason="Gone.")

    def test_staff_early_need_a_justification_and_are_audited_as_override(
        self, prompt, maintainer, staff
    ):
        deprecate(maintainer, prompt)

        with pytest.raises(Invalid) as refused:
            prompt_retire(actor=staff, prompt=prompt, reason=" ")
        assert "justification" in refused.value.errors
        prompt_retire(actor=staff, prompt=prompt, reason="Leaks data; incident 42.")

        entry = AuditEntry.objects.get(action="prompt.retired_early")
        assert entry.after["override"] is True
        assert entry.justification == "Leaks data; incident 42."
        assert entry.actor == staff.username

    def test_twice_is_a_conflict(self, prompt, staff):
        prompt_retire(actor=staff, prompt=prompt, reason="x")

        with pytest.raises(Conflict) as refused:
            prompt_retire(actor=staff, prompt=prompt, reason="x")
        assert refused.value.code == "unchanged"


class TestReactivate:
    def test_from_deprecated_and_retired(self, prompt, maintainer, staff, successor):
        deprecate(maintainer, prompt, successor=successor)
        prompt_reactivate(actor=maintainer, prompt=prompt, reason="Successor rolled back.")
        prompt.refresh_from_db()
        assert (prompt.state, prompt.successor, prompt.sunset_at) == ("active", None, None)

        prompt_retire(actor=staff, prompt=prompt, reason="Incident.")
        prompt_reactivate(actor=maintainer, prompt=prompt, reason="Fixed.")

        assert Prompt.objects.get(pk=prompt.pk).state == Prompt.State.ACTIVE
        assert list(
            AuditEntry.objects.filter(object_id=prompt.full_name)
            .order_by("seq")
            .values_list("action", flat=True)
        )[-4:] == [
            "prompt.deprecated",
            "prompt.reactivated",
            "prompt.retired_early",
            "prompt.reactivated",
        ]

    def test_needs_a_justification(self, prompt, maintainer):
        deprecate(maintainer, prompt)

        with pytest.raises(Invalid) as refused:
            prompt_reactivate(actor=maintainer, prompt=prompt, reason="")
        assert "justification" in refused.value.errors

    def test_an_active_prompt_is_unchanged(self, prompt, maintainer):
        with pytest.raises(Conflict) as refused:
            prompt_reactivate(actor=maintainer, prompt=prompt, reason="x")
        assert refused.value.code == "unchanged"


class TestOwnersAreTold:
    def test_every_step_reaches_the_owners_inbox(
        self, prompt, namespace, member_of, staff, successor
    ):
        owner = member_of(namespace, "owner")
        viewer = member_of(namespace, "viewer")
        deprecate(owner, prompt, successor=successor, reason="Use v2")
        prompt_retire(actor=staff, prompt=prompt, reason="Incident 9.")
        prompt_reactivate(actor=owner, prompt=prompt, reason="Back.")

        told = list(
            Notification.objects.filter(user=owner).order_by("pk").values_list("event", "url")
        )
        page = "/prompts/support/refund-reply/"
        assert told == [
            ("prompt.deprecated", page),
            ("prompt.retired", page),
            ("prompt.reactivated", page),
        ]
        first = Notification.objects.filter(user=owner).order_by("pk").first()
        assert "support/refund-reply-v2" in first.body
        assert not Notification.objects.filter(user=viewer).exists()

    def test_a_refused_step_tells_nobody(self, prompt, namespace, member_of):
        owner = member_of(namespace, "owner")
        with pytest.raises(PermissionDenied):
            prompt_retire(actor=owner, prompt=prompt, reason="x")

        assert not Notification.objects.exists()
