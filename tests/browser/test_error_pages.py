"""In a browser the 404 and 403 pages are the portal's own: inside its layout (header and main
navigation), with a heading, the reason the portal gave and a way home, and with no axe-core
violation."""

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_an_unknown_address_shows_the_portal_s_404_page(
    page, sign_in, namespace, member_of, assert_accessible
):
    member_of(namespace, role="maintainer", username="mia")
    sign_in("mia")

    response = page.goto("/no-such-page/")

    assert response.status == 404
    expect(page).to_have_title("Not found · Prompt portal")
    _expect_the_portal_layout(page, "mia")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("alert")).to_contain_text("There is nothing at /no-such-page/")
    assert_accessible()
    page.get_by_role("link", name="Go to the home page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Prompts")


def test_a_viewer_opening_the_version_form_sees_why_it_is_refused(
    page, sign_in, namespace, prompt, make_version, member_of, assert_accessible
):
    make_version(prompt, text="Hello {{name}}")
    member_of(namespace, role="viewer", username="vic")
    sign_in("vic")

    response = page.goto("/prompts/support/refund-reply/versions/new/")

    assert response.status == 403
    expect(page).to_have_title("Not allowed · Prompt portal")
    _expect_the_portal_layout(page, "vic")
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not do this")
    reason = f"Why: Only maintainers and owners of {namespace.team.slug} write versions here."
    expect(page.get_by_role("alert")).to_have_text(reason)
    expect(page.get_by_text("You are signed in as vic.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in as someone else")).to_be_visible()
    assert_accessible()
    page.get_by_role("link", name="Go to the home page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Prompts")


def _expect_the_portal_layout(page, username: str) -> None:
    header = page.get_by_role("banner")
    expect(header.get_by_role("link", name="Prompt portal")).to_be_visible()
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Home")).to_be_visible()
    expect(navigation.get_by_role("link", name="New prompt")).to_be_visible()
    expect(header).to_contain_text(f"Signed in as {username}")
