from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from approvals.models import PromotionRequest
from portal.audit.selectors import verify
from prompts.evaluations.models import Run
from prompts.metrics.models import CallEvent
from prompts.models import Deployment, Environment, Experiment, Prompt, PromptVersion
from teams.models import Membership, Namespace, Team

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            get_user_model(),
            Team,
            Membership,
            Namespace,
            Prompt,
            PromptVersion,
            Deployment,
        )
    }


def test_bootstrap_demo_builds_a_realistic_portfolio_and_is_idempotent(settings):
    settings.EMBEDDED = True
    first_out = StringIO()
    call_command("bootstrap_demo", stdout=first_out)
    after_first = _counts()

    second_out = StringIO()
    call_command("bootstrap_demo", stdout=second_out)

    assert _counts() == after_first
    assert after_first["Team"] == 3
    assert after_first["Namespace"] == 4
    assert 8 <= after_first["Prompt"] <= 12
    assert set(Prompt.objects.values_list("kind", flat=True)) == {"text", "chat"}
    assert all(p.versions.count() >= 2 for p in Prompt.objects.all())
    environments = Environment.objects.count()
    assert after_first["Deployment"] == after_first["Prompt"] * environments
    assert "admin / admin" in first_out.getvalue()
    assert "already exists" in second_out.getvalue()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password("admin")
    assert PromotionRequest.objects.filter(state="pending").count() == 2
    assert verify().ok


def test_production_mode_never_uses_the_well_known_admin_password(settings):
    settings.EMBEDDED = False
    out = StringIO()

    call_command("bootstrap_demo", stdout=out)

    admin = get_user_model().objects.get(username="admin")
    assert not admin.check_password("admin")
    printed = out.getvalue().split("Created superuser: admin / ")[1].split()[0]
    assert admin.check_password(printed)


def test_demo_teams_say_how_to_reach_them(settings):
    settings.EMBEDDED = True
    call_command("bootstrap_demo", stdout=StringIO())

    support = Team.objects.get(slug="customer-support")
    assert (support.contact_email, support.contact_channel) == (
        "support-prompts@example.com",
        "#support-prompts",
    )


def test_the_demo_runs_an_approved_experiment_with_calls_to_show(settings):
    settings.EMBEDDED = True
    call_command("bootstrap_demo", stdout=StringIO())
    events = CallEvent.objects.count()
    again = StringIO()
    call_command("bootstrap_demo", stdout=again)

    experiment = Experiment.objects.get()
    assert (experiment.prompt.full_name, experiment.environment.slug, experiment.state) == (
        "search-ranking/query-rewrite",
        "production",
        "running",
    )
    request = experiment.promotion_request
    assert request.state == "applied"
    assert sorted(r.reviewer.username for r in request.reviews.all()) == ["frank", "grace"]
    assert events > 4000
    assert CallEvent.objects.count() == events  # the same keys: nothing twice
    assert "0 new call events" in again.getvalue()
    assert (
        CallEvent.objects.filter(experiment_id=experiment.pk).values("arm").distinct().count() == 2
    )


def test_the_demo_evaluates_query_rewrite_on_the_offline_model(
    settings, django_capture_on_commit_callbacks
):
    settings.EMBEDDED = True
    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap_demo", stdout=StringIO())
    call_command("bootstrap_demo", stdout=StringIO())

    results = sorted(
        (run.version.number, run.model.name, run.state, run.passed_cases, run.total)
        for run in Run.objects.select_related("version", "model")
    )
    assert results == [(3, "local", "failed", 2, 3), (4, "local", "passed", 3, 3)]
