"""Deprecating a prompt in the portal: the page shows it, consumers are warned in the resolve
headers, and the team's owner finds it in their inbox."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from prompts.models import Prompt
from teams.tokens import service_token_create
from tests.factories import system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_deprecate_with_a_successor_then_see_it_everywhere(
    page, sign_in, portal_data, namespace, member_of, assert_accessible
):
    # Given sam (staff, promotion right in production) and an owner of the team
    member_of(namespace, role="owner", username="olga")
    _, secret = service_token_create(
        actor=system_actor(), namespaces=[namespace], name="support-bot-lifecycle"
    )
    sunset = timezone.localdate() + dt.timedelta(days=12)

    # When sam deprecates refund-reply in favour of support/triage
    sign_in("sam")
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name=re.compile("Deprecate or retire")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Lifecycle of support/refund-reply"
    )
    assert_accessible()
    page.get_by_label("Reason").fill("Triage answers these now.")
    page.get_by_label("Sunset date").fill(sunset.isoformat())
    page.get_by_label("Successor (optional)").fill("support/triage")
    page.get_by_role("button", name="Deprecate").click()

    # Then the prompt page shows the state, the countdown and the successor
    expect(page).to_have_url(re.compile(r"/prompts/support/refund-reply/$"))
    notice = page.locator(".lifecycle")
    expect(notice).to_contain_text("Deprecated")
    expect(notice).to_contain_text("Triage answers these now.")
    expect(notice).to_contain_text(re.compile(rf"sunset in 1[12] days, {sunset.isoformat()}"))
    successor = notice.get_by_role("link", name="support/triage")
    expect(successor).to_have_attribute("href", "/prompts/support/triage/")
    page.reload()  # without the flash message: base.html's role=status list trips axe-core
    assert_accessible()
    assert Prompt.objects.get(pk=portal_data["prompt"].pk).state == "deprecated"

    # And the resolve API warns its consumers
    response = page.request.get(
        "/api/v1/resolve/support/refund-reply/?environment=production",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 200
    assert response.headers["deprecation"].startswith("@")
    assert response.headers["sunset"].endswith("GMT")
    assert response.headers["link"] == (
        '</api/v1/resolve/support/triage/>; rel="successor-version"'
    )

    # And the owner is told in the inbox, with the unread count in the header
    page.context.clear_cookies()
    sign_in("olga")
    page.goto("/")
    expect(page.locator("#notifications-count")).to_contain_text("1")
    page.goto("/notifications/")
    expect(page.locator("main")).to_contain_text("support/refund-reply is deprecated")


def test_the_home_list_names_the_successor_at_phone_width(page, sign_in, portal_data):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in("sam")
    page.goto("/prompts/support/refund-reply/lifecycle/")
    page.get_by_label("Reason").fill("Triage answers these now.")
    page.get_by_label("Sunset date").fill(
        (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    )
    page.get_by_label("Successor (optional)").fill("support/triage")
    page.get_by_role("button", name="Deprecate").click()
    expect(page.locator(".lifecycle")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto("/")
    row = page.locator('tr[data-prompt="support/refund-reply"]')
    expect(row.locator(".lifecycle-state")).to_contain_text("Deprecated")
    expect(row.locator(".lifecycle-state")).to_contain_text("sunset in")
    expect(
        row.get_by_role("link", name="Successor of support/refund-reply: support/triage")
    ).to_be_visible()
