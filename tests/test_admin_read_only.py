"""The admin only inspects: no admin form, action or history revert changes governance data.

Each of these went around the services once (no audit entry, stale caches): a namespace made
private, a prompt retired, production's approval rule unticked, a user put in an owners group
or in `auditors`, a prompt's kind changed. The test walks every registered model admin and
tries every way the admin writes, through real URLs as a superuser.
"""

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from approvals.services import promotion_request, promotion_right_grant
from approvals.services.experiments import experiment_propose
from portal import outbox
from portal.audit.models import AuditEntry
from prompts import stale
from prompts.evaluations.models import CaseResult, PlaygroundCall
from prompts.evaluations.registry import model_create, team_watch_model
from prompts.evaluations.runs import run_create
from prompts.evaluations.suites import CaseInput, suite_create
from prompts.models import Environment
from prompts.resolve import counts
from prompts.services import deployment_set, environment_update, version_create
from teams.notifications import events
from teams.notifications.models import WebhookAttempt
from teams.notifications.services import notify, preferences_set
from teams.notifications.webhooks import webhook_create
from teams.tokens import personal_token_create
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def everything(superuser, environments):
    """At least one row of every governance model."""
    namespace = NamespaceFactory(slug="support", visibility="internal")
    maintainer = UserFactory(username="maya")
    MembershipFactory(team=namespace.team, user=maintainer, role="maintainer")
    prompt = PromptFactory(namespace=namespace, name="greet", tags=["faq"])
    v1 = version_create(prompt=prompt, author=maintainer, template="Hi {{n}}", variables=["n"])
    v2 = version_create(prompt=prompt, author=maintainer, template="Hey {{n}}", variables=["n"])
    for environment in ("development", "staging"):
        deployment_set(
            prompt=prompt,
            environment=environments[environment],
            version=v1,
            actor=superuser,
            action="deployment.seeded",
        )
    reviewer = UserFactory(username="rita")
    promotion_right_grant(
        actor=superuser, namespace=namespace, environment=environments["staging"], user=reviewer
    )
    promotion_request(
        actor=maintainer,
        prompt=prompt,
        version=v2,
        environment=environments["staging"],
        justification="better",
    )
    experiment_propose(
        actor=maintainer,
        prompt=prompt,
        environment=environments["development"],
        arms=[{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
        hypothesis="Hey is friendlier",
        primary_metric="feedback",
        justification="try it",
    )
    personal_token_create(actor=maintainer, name="laptop")
    environment_update(actor=superuser, environment=environments["development"], name="Dev")
    with transaction.atomic():
        outbox.invalidate("probe")  # stays: tests never commit, so nothing drains it
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="drain", task="portal.tasks.drain_outbox", interval=every)
    CrontabSchedule.objects.create()
    SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    hook = webhook_create(actor=superuser, team=namespace.team, url="https://93.184.216.34/hook")
    notify(event=events.PROMOTION_REQUESTED, subject="probe", team=namespace.team)  # not sent
    preferences_set(user=maintainer, email={events.STALE_DIGEST: False})
    WebhookAttempt.objects.create(
        delivery=hook.deliveries.get(), webhook=hook, number=1, status_code=500
    )
    counts.note(namespace="support", name="greet", environment="staging", caller="bot")
    counts.flush(days=[counts.today()])  # a ResolveCount row
    stale.digest_send(  # a StaleDigest row
        findings=[
            stale.Finding(team_id=namespace.team_id, kind=stale.STALE, subject="x", line="x")
        ],
        now=timezone.now(),
    )
    attempt = AccessAttempt.objects.create(
        username="maya",
        ip_address="203.0.113.9",
        user_agent="test",
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/accounts/login/",
        failures_since_start=9,
    )
    AccessAttemptExpiration.objects.create(access_attempt=attempt, expires_at=timezone.now())
    AccessLog.objects.create(username="maya", ip_address="203.0.113.9", user_agent="test")
    AccessFailureLog.objects.create(username="maya", ip_address="203.0.113.9", user_agent="test")
    # Evaluations: a registered model (with history) on a watch list, a suite with a case, a
    # run with its result, a playground call.
    model = model_create(actor=superuser, name="gpt-test-2025-01-01", provider="openai")
    team_watch_model(actor=superuser, team=namespace.team, model=model)
    case = CaseInput(variables={"n": "Ada"}, assertions=[{"type": "contains", "value": "Ada"}])
    suite = suite_create(actor=maintainer, prompt=prompt, name="smoke", cases=[case])
    run = run_create(actor=maintainer, prompt=prompt, version=v1, suite=suite, model=model)
    CaseResult.objects.create(run=run, case=suite.cases.get(), position=1, output="Hi Ada")
    PlaygroundCall.objects.create(
        prompt=prompt, version=v1, model=model, user=maintainer, rendered="Hi Ada"
    )
    return {"namespace": namespace, "prompt": prompt, "maintainer": maintainer}


def governed_models():
    return list(admin.site._registry.items())


def snapshot() -> dict[str, list[dict]]:
    """Every row of every installed model but sessions and the admin's own log."""
    skip = {"sessions", "admin", "contenttypes"}
    return {
        model._meta.label: sorted(
            (tuple(sorted((k, str(v)) for k, v in row.items())) for row in model.objects.values()),
        )
        for model in apps.get_models()
        if model._meta.app_label not in skip
    }


def test_every_governance_model_admin_refuses_add_change_delete_and_actions(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    models = governed_models()

    assert {model._meta.label for model, _ in models} >= {
        "auth.User",
        "auth.Group",
        "teams.Team",
        "teams.Membership",
        "teams.Namespace",
        "teams.ApiToken",
        "prompts.Prompt",
        "prompts.PromptVersion",
        "prompts.Environment",
        "prompts.Deployment",
        "prompts.Tag",
        "approvals.PromotionRequest",
        "prompts.Experiment",
        "audit.AuditEntry",
        "portal.OutboxMessage",
        "django_celery_beat.PeriodicTask",
        "axes.AccessAttempt",
        "evaluations.Model",
        "evaluations.Suite",
        "evaluations.Run",
        "evaluations.WatchedModel",
        "evaluations.PlaygroundCall",
    }
    for model, model_admin in models:
        label = model._meta.label
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request), label
        assert not model_admin.has_delete_permission(request), label
        assert not model_admin.get_actions(request), label
        for inline in model_admin.get_inline_instances(request):
            assert not inline.has_add_permission(request, None), label
            assert not inline.has_change_permission(request), label
            assert not inline.has_delete_permission(request), label


def _urls(model, obj) -> list[str]:
    info = (model._meta.app_label, model._meta.model_name)
    urls = [
        reverse("admin:{}_{}_add".format(*info)),
        reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
        reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]),
    ]
    history = getattr(model, "history", None)
    if history is not None:
        record = history.filter(**{model._meta.pk.attname: obj.pk}).first()
        if record is not None:
            urls.append(
                reverse(
                    "admin:{}_{}_simple_history".format(*info), args=[obj.pk, record.history_id]
                )
            )
    if model._meta.label == "auth.User":
        urls.append(reverse("admin:auth_user_password_change", args=[obj.pk]))
    return urls


def test_no_admin_post_changes_anything(client, superuser, everything):
    client.force_login(superuser)
    before, entries = snapshot(), AuditEntry.objects.count()
    tried = 0

    for model, _ in governed_models():
        obj = model.objects.order_by("pk").first()
        assert obj is not None, f"no {model._meta.label} row to try"
        data = {"_save": "Save", "post": "yes", "password1": "x-Y-z-123456", "password2": "x"}
        data |= {"visibility": "private", "state": "retired", "kind": "chat"}
        data |= {"requires_approval": "", "min_approvals": "0", "groups": [1], "is_staff": "on"}
        for url in _urls(model, obj):
            response = client.post(url, data)
            assert response.status_code == 403, (url, response.status_code)
            tried += 1
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        client.post(changelist, {"action": "delete_selected", "_selected_action": [obj.pk]})

    assert tried > 40
    assert snapshot() == before
    assert AuditEntry.objects.count() == entries


def test_admin_still_shows_everything_with_history(client, superuser, everything):
    client.force_login(superuser)
    shown = 0

    for model, _ in governed_models():
        obj = model.objects.order_by("pk").first()
        if hasattr(model, "history"):
            obj = model.history.order_by("history_id").first().instance
        info = (model._meta.app_label, model._meta.model_name)
        pages = [
            reverse("admin:{}_{}_changelist".format(*info)),
            reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
        ]
        if hasattr(model, "history"):
            record = model.history.filter(**{model._meta.pk.attname: obj.pk}).last()
            pages.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
            pages.append(
                reverse("admin:{}_{}_simple_history".format(*info), args=[obj.pk, record.pk])
            )
        for page in pages:
            assert client.get(page).status_code == 200, page
            shown += 1

    assert shown > 30


def test_environment_rules_cannot_be_unticked_in_the_admin(client, superuser):
    client.force_login(superuser)
    production = Environment.objects.get(slug="production")
    url = reverse("admin:prompts_environment_change", args=[production.pk])

    response = client.post(
        url, {"slug": "production", "name": "Production", "order": 30, "min_approvals": 0}
    )

    production.refresh_from_db()
    assert response.status_code == 403
    assert production.requires_approval
    assert production.min_approvals == 2


def test_groups_of_people_cannot_be_changed_in_the_admin(client, superuser, everything):
    client.force_login(superuser)
    outsider = UserFactory(username="eve")
    owners = everything["namespace"].team.owners_group
    auditors = Group.objects.get(name="auditors")
    url = reverse("admin:auth_user_change", args=[outsider.pk])

    response = client.post(
        url,
        {"username": "eve", "groups": [owners.pk, auditors.pk], "is_staff": "on"},
    )

    outsider.refresh_from_db()
    assert response.status_code == 403
    assert not outsider.groups.exists()
    assert not outsider.is_staff


def test_staff_who_are_not_superusers_inspect_everything(client, everything):
    staff = UserFactory(username="sam", is_staff=True)
    client.force_login(staff)

    index = client.get(reverse("admin:index"))

    assert index.status_code == 200
    for model, _ in governed_models():
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
