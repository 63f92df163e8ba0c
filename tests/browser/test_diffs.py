"""The version page's diff in a real browser: the changed word highlighted side by side, a
link (no script) to the inline view, and both fit a phone without sideways page scrolling."""

import re

import pytest
from playwright.sync_api import expect

from prompts.services import prompt_create, version_create
from tests.factories import UserFactory, system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_one_word_change_is_highlighted_side_by_side_and_inline(
    page, sign_in, prompt, make_version, assert_accessible
):
    make_version(prompt, text="Hello {{name}}, thanks for waiting.\nBye")
    make_version(prompt, text="Hello {{name}}, thanks for calling.\nBye")
    UserFactory(username="reader")
    sign_in("reader")

    page.goto("/prompts/support/refund-reply/v/2/")

    side = page.locator("table.diff-side")
    expect(side.locator("tr.diff-changed td.diff-old del")).to_have_text(["waiting"])
    expect(side.locator("tr.diff-changed td.diff-new ins")).to_have_text(["calling"])
    expect(side.locator("tr.diff-same td.diff-new")).to_have_text(["Bye"])
    highlight = side.locator("ins").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert highlight not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(page.get_by_role("link", name="Side by side")).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("region", name="Template")).to_be_visible()
    assert_accessible()

    page.get_by_role("link", name="Inline").click()

    expect(page).to_have_url(re.compile(r"\?against=1&view=inline#diff-heading$"))
    expect(page.locator("table.diff-side")).to_have_count(0)
    inline = page.locator("table.diff-inline")
    expect(inline.locator("tr.diff-removed del")).to_have_text(["waiting"])
    expect(inline.locator("tr.diff-added ins")).to_have_text(["calling"])
    expect(inline.locator("tr.diff-added td.diff-text")).to_contain_text(["added: Hello"])
    expect(page.get_by_role("link", name="Inline")).to_have_attribute("aria-current", "true")
    assert_accessible()

    for view in ("side", "inline"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"/prompts/support/refund-reply/v/2/?view={view}")
        layout = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert layout[0] <= layout[1], (view, layout)


def test_a_chat_diff_shows_each_message_with_its_role_in_both_views(
    page, sign_in, namespace, author, assert_accessible
):
    chat = prompt_create(actor=system_actor(), namespace=namespace, name="triage", kind="chat")
    system = {"role": "system", "content": "Sort tickets by urgency."}
    version_create(
        prompt=chat,
        author=author,
        messages=[system, {"role": "user", "content": "Ticket: {{ticket}}"}],
        variables=["ticket"],
        model_config={"temperature": 0.2},
    )
    version_create(
        prompt=chat,
        author=author,
        messages=[
            system,
            {"role": "assistant", "content": "Urgent first."},
            {"role": "user", "content": "Ticket <b>{{ticket}}</b>"},
        ],
        variables=["ticket"],
        model_config={"temperature": 0.2, "max_tokens": 200},
    )
    UserFactory(username="reader")
    sign_in("reader")

    for view in ("side", "inline"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"/prompts/support/triage/v/2/?view={view}")

        messages = page.locator("li.diff-message")
        expect(messages).to_have_count(3)
        expect(messages.nth(0)).to_contain_text("unchanged")
        expect(messages.nth(1)).to_contain_text("Message 2")
        expect(messages.nth(1)).to_contain_text("added")
        expect(messages.nth(2)).to_contain_text("Message 3 (was 2)")
        expect(messages.nth(2).locator("ins")).to_have_text(["<b>", "</b>"])
        expect(page.get_by_role("region", name="Settings")).to_contain_text("max_tokens")
        assert_accessible()
