"""The home list in Chromium: what runs where, filters, search by tag and by template text,
clickable tags; and the autocomplete of a user field."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def names(page) -> list[str]:
    return page.locator("table.prompt-list tbody tr[data-prompt]").evaluate_all(
        "rows => rows.map(row => row.dataset.prompt)"
    )


def test_columns_filters_search_and_tags(page, sign_in, portal_data):
    sign_in("vic")
    row = page.locator("tr[data-prompt='support/refund-reply']")

    expect(row.locator("td[data-environment=production]")).to_have_text("v1")
    expect(row.locator("td[data-environment=staging]")).to_have_text("v2 ahead of Production")
    expect(row.locator("td[data-environment=development]")).to_have_text("v3 ahead of Staging")
    expect(
        page.locator("tr[data-prompt='support/triage'] td[data-environment=production]")
    ).to_contain_text("nothing runs in Production")
    assert names(page) == ["support/order-status", "support/refund-reply", "support/triage"]

    page.get_by_label("Tag", exact=True).select_option("faq")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"tag=faq"))
    assert names(page) == ["support/order-status", "support/triage"]
    expect(page.get_by_label("Tag", exact=True)).to_have_value("faq")

    page.get_by_role("link", name="Clear search and filters").click()
    page.get_by_label("Runs in", exact=True).select_option("production")
    page.get_by_role("button", name="Apply filters").click()
    assert names(page) == ["support/refund-reply"]

    page.get_by_role("link", name="Clear search and filters").click()
    page.get_by_label("Search prompts", exact=True).fill(
        "sort support mail"
    )  # a chat message's text
    page.get_by_role("button", name="Search", exact=True).click()
    assert names(page) == ["support/triage"]

    page.get_by_label("Search prompts", exact=True).fill("thanks for waiting")  # a template's text
    page.get_by_role("button", name="Search", exact=True).click()
    assert names(page) == ["support/refund-reply"]
    expect(page.get_by_role("status")).to_contain_text("1 prompt matches.")

    page.get_by_label("Search prompts", exact=True).fill("faq")  # a tag
    page.get_by_role("button", name="Search", exact=True).click()
    assert names(page) == ["support/order-status", "support/triage"]

    page.get_by_role("link", name="Clear search and filters").click()
    page.locator("tr[data-prompt='support/triage']").get_by_role(
        "link", name="Prompts tagged faq"
    ).click()
    expect(page).to_have_url(re.compile(r"/\?tag=faq$"))
    assert names(page) == ["support/order-status", "support/triage"]


def test_the_member_field_suggests_people_as_one_types(page, sign_in, portal_data):
    sign_in("sam")
    page.goto("/teams/" + portal_data["prompt"].namespace.team.slug + "/")

    page.get_by_label("Username").press_sequentially("vi")

    options = page.locator("#member_username-suggestions option")
    expect(options).to_have_count(1)
    expect(options).to_have_attribute("value", "vic")
