"""Starting an experiment in the portal: the form adds up the weights as they are typed,
refuses a split that is not 100 %, and a production experiment waits for approval like a
promotion."""

import re

import pytest
from playwright.sync_api import expect

from approvals.models import PromotionRequest
from prompts.models import Experiment

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_start_a_production_experiment_through_the_form(
    page, sign_in, portal_data, assert_accessible
):
    # Given mia (maintainer): production runs v1, v2 ran in staging
    sign_in("mia")
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name="Start an experiment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Start an experiment")
    assert_accessible()

    # When she splits 60/30, the form says at once that the weights do not add up
    page.get_by_label("Environment").select_option("production")
    page.get_by_label("Arm A version (the control)").select_option("1")
    page.get_by_label("Arm A weight (%)").fill("60")
    page.get_by_label("Arm B version").select_option("2")
    page.get_by_label("Arm B weight (%)").fill("30")
    expect(page.locator("[data-weight-total]")).to_have_text("Total: 90 % (must be 100 %)")
    page.get_by_label("Hypothesis").fill("The warmer wording earns more positive feedback.")
    page.get_by_label("Primary metric").select_option("feedback")
    page.get_by_label("Stop if the error rate rises by more than").fill("0.02")
    page.get_by_label("Justification").fill("Ran a week in staging.")
    page.get_by_role("button", name="Start the experiment").click()

    # Then the server refuses it too, keeping what she typed
    expect(page.get_by_role("alert")).to_contain_text("The weights sum to 90 %")
    expect(page.get_by_label("Hypothesis")).to_have_value(
        "The warmer wording earns more positive feedback."
    )
    assert not Experiment.objects.exists()

    # When she fixes the split
    page.get_by_label("Arm A weight (%)").fill("70")
    expect(page.locator("[data-weight-total]")).to_have_text("Total: 100 %")
    page.get_by_role("button", name="Start the experiment").click()

    # Then the experiment waits for the production reviewers
    expect(page).to_have_url(re.compile(r"/experiments/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Awaiting approval")
    experiment = Experiment.objects.get()
    assert [(a.label, a.version.number, a.weight) for a in experiment.arms.all()] == [
        ("A", 1, 70),
        ("B", 2, 30),
    ]
    assert experiment.guardrails == [{"metric": "error_rate", "max_increase": 0.02}]
    request = PromotionRequest.objects.get(experiment=experiment)
    assert (request.kind, request.state, request.required_approvals) == ("experiment", "pending", 2)
    page.get_by_role("link", name=f"request #{request.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Experiment on support/refund-reply in Production"
    )
    assert_accessible()
