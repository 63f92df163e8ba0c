"""On a phone the header's navigation collapses behind a Menu button (portal/menu.js); on a
wide window, and without JavaScript, it is always shown."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def person(db):
    return UserFactory(username="pat")


def test_phone_menu_opens_and_closes(page, sign_in, person):
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in("pat")
    menu = page.get_by_role("button", name="Menu")
    reviews = page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews")

    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(reviews).to_be_hidden()
    header_height = page.locator("header.site").bounding_box()["height"]
    assert header_height < 80, header_height

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(reviews).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.keyboard.press("Escape")
    expect(reviews).to_be_hidden()
    expect(menu).to_be_focused()

    menu.click()
    reviews.click()
    expect(page).to_have_url(re.compile(r"/reviews/$"))


def test_wide_window_shows_the_navigation_without_a_menu_button(page, sign_in, person):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in("pat")

    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews")
    ).to_be_visible()


def test_without_javascript_the_phone_navigation_stays_open(browser, live_server, person):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 390, "height": 800}
    )
    try:
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill("pat")
        page.get_by_label("Password").fill("secret-pass-123")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")

        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews")
        ).to_be_visible()
    finally:
        context.close()
