"""A rollback goes through a confirm page. Going back to a version the environment was rolled
back from is a move forward to a withdrawn version: the page says both, in a styled warning,
before anything changes."""

import re

import pytest
from playwright.sync_api import expect

from portal.audit.models import AuditEntry
from prompts.models import Deployment

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

WITHDRAWN = "Customers read the warmer wording as a promise of a refund"


def test_rolling_forward_to_a_withdrawn_version_warns_then_applies(
    page, sign_in, portal_data, environments, assert_accessible
):
    # Given production ran v1, then v2, and sam rolled it back to v1 (portal_data)
    prompt = portal_data["prompt"]
    sign_in("sam")
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name="Deployment history and rollback").click()
    production = page.locator("#env-production")
    production.get_by_text("Roll back Production").click()
    production.get_by_label("Roll back to").select_option("2")
    production.get_by_label("Justification").fill("The FAQ now says refunds need a review")
    production.get_by_role("button", name="Review the rollback of Production").click()

    # The confirm page warns and nothing has changed yet
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll back Production?")
    warning = page.locator(".warning")
    expect(warning).to_have_attribute("role", "alert")
    expect(warning).to_contain_text(
        "This moves Production forward, not back: v2 is newer than v1, which runs now."
    )
    expect(warning).to_contain_text(
        re.compile(
            r"v2 was rolled back from in Production on \d{4}-\d\d-\d\d \d\d:\d\d by sam, "
            rf"because: “{WITHDRAWN}”\. Going to it brings back the version someone withdrew\."
        )
    )
    expect(warning).to_have_css("border-left-style", "solid")
    expect(warning).to_have_css("background-color", "rgb(255, 248, 235)")
    assert_accessible()
    assert _production_version(prompt) == 1

    # Confirmed: production runs v2 again, and the history and audit log say so
    page.get_by_role("button", name="Yes, roll Production forward to v2").click()
    expect(page).to_have_url(re.compile(r"/deployments/#env-production$"))
    expect(page.get_by_role("status")).to_have_text("Rolled back Production: it now runs v2.")
    latest = production.locator("tbody tr").first
    expect(latest).to_contain_text("Rollback")
    expect(latest).to_contain_text("The FAQ now says refunds need a review")
    assert _production_version(prompt) == 2
    entry = AuditEntry.objects.filter(action="deployment.rolled_back").latest("seq")
    assert (entry.actor, entry.justification) == ("sam", "The FAQ now says refunds need a review")


def _production_version(prompt) -> int:
    return Deployment.objects.get(prompt=prompt, environment__slug="production").version.number
