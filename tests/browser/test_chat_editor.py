"""The chat message editor of the new-version form: with JavaScript, rows are added, removed
and moved in the page (labelled per row, the focus kept on a sensible control, no CSP
violation, no sideways scrolling on a phone); without it, the same form works on submit."""

import re

import pytest
from playwright.sync_api import expect

from prompts.models import PromptVersion
from prompts.services import prompt_create, version_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

FIRST = [
    {"role": "system", "content": "You help with {{product}}."},
    {"role": "user", "content": "{{question}}"},
]
FORM = "/prompts/support/assistant/versions/new/"

# The page must not scroll sideways (as in test_phone_layout.py).
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def maintainer(namespace, member_of):
    return member_of(namespace, role="maintainer", username="mia")


@pytest.fixture
def chat(namespace, maintainer):
    prompt = prompt_create(actor=maintainer, namespace=namespace, name="assistant", kind="chat")
    version_create(
        prompt=prompt,
        author=maintainer,
        messages=FIRST,
        variables=["product", "question"],
        message="first cut",
    )
    return prompt


@pytest.fixture
def violations(page):
    """The CSP violations Chromium reports on the console."""
    reported: list[str] = []
    page.on(
        "console",
        lambda message: (
            reported.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return reported


def _focused_name(page) -> str:
    return page.evaluate("() => document.activeElement.textContent.trim()")


def test_a_maintainer_adds_changes_moves_and_removes_messages(
    page, sign_in, chat, violations, assert_accessible
):
    sign_in("mia")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(FORM)

    rows = page.locator("[data-chat-row]")
    expect(rows).to_have_count(2)  # the spare empty rows are for readers without JavaScript
    expect(page.get_by_label("Content of message 1")).to_have_value(FIRST[0]["content"])
    expect(page.get_by_label("Position of message 1")).to_be_hidden()
    assert page.evaluate(FITS)

    page.get_by_role("button", name="Add a message").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_label("Role of message 3")).to_be_focused()
    page.get_by_label("Role of message 3").select_option("assistant")
    page.get_by_label("Content of message 3").fill("Happy to help with {{product}}.")
    page.get_by_label("Role of message 2").select_option("tool")
    assert_accessible()

    page.get_by_role("button", name="Move message 3 up").click()
    expect(page.get_by_role("button", name="Move message 2 up")).to_be_focused()
    expect(page.get_by_label("Role of message 2")).to_have_value("assistant")
    page.get_by_role("button", name="Move message 2 up").click()
    # At the top "up" is disabled, so the focus goes to "down" of the same message.
    expect(page.get_by_role("button", name="Move message 1 up")).to_be_disabled()
    expect(page.get_by_role("button", name="Move message 1 down")).to_be_focused()
    page.keyboard.press("Enter")  # keyboard: back down to position 2
    expect(page.get_by_label("Content of message 2")).to_have_value(
        "Happy to help with {{product}}."
    )

    page.get_by_role("button", name="Add a message").click()
    page.get_by_role("button", name="Remove message 4").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("button", name="Remove message 3")).to_be_focused()
    page.get_by_role("button", name="Remove message 1").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_role("button", name="Remove message 1")).to_be_focused()
    expect(page.get_by_text("Removed message 1; 2 left.")).to_be_visible()
    assert page.evaluate(FITS)

    page.get_by_label("Content of message 2").fill("Line one\nline two, about {{question}}")
    page.get_by_label("Commit message").fill("assistant first")
    page.get_by_role("button", name="Create version").click()

    expect(page).to_have_url(re.compile(r"/prompts/support/assistant/v/2/$"))
    assert PromptVersion.objects.get(prompt=chat, number=2).messages == [
        {"role": "assistant", "content": "Happy to help with {{product}}."},
        {"role": "tool", "content": "Line one\nline two, about {{question}}"},
    ]
    assert violations == []


def test_an_added_message_left_empty_is_an_error_on_its_row(page, sign_in, chat, assert_accessible):
    sign_in("mia")
    page.goto(FORM)

    page.get_by_role("button", name="Add a message").click()
    page.get_by_label("Commit message").fill("oops")
    page.get_by_role("button", name="Create version").click()

    expect(page.get_by_text("A message below needs fixing.")).to_be_visible()
    expect(page.get_by_label("Content of message 3")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Write this message's content, or remove the message.")).to_be_visible()
    assert_accessible()
    page.get_by_role("button", name="Remove message 3").click()
    page.get_by_label("Content of message 2").fill("{{question}}?")
    page.get_by_role("button", name="Create version").click()

    expect(page).to_have_url(re.compile(r"/v/2/$"))
    assert PromptVersion.objects.get(prompt=chat, number=2).messages == [
        FIRST[0],
        {"role": "user", "content": "{{question}}?"},
    ]


def test_without_javascript_positions_remove_boxes_and_spare_rows_work(browser, live_server, chat):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/login/")
        page.get_by_label("Username").fill("mia")
        page.get_by_label("Password").fill("secret-pass-123")
        page.get_by_role("button", name="Sign in").click()
        page.goto(FORM)
        page.set_viewport_size({"width": 390, "height": 844})

        expect(page.locator("[data-chat-row]")).to_have_count(4)
        expect(page.get_by_role("button", name="Add a message")).to_be_hidden()
        assert page.evaluate(FITS)
        page.get_by_label("Remove message 1").check()
        page.get_by_label("Role of message 3").select_option("assistant")
        page.get_by_label("Content of message 3").fill("Ask me about {{product}}.")
        page.get_by_label("Position of message 3").fill("0")
        page.get_by_label("Commit message").fill("no script")
        page.get_by_role("button", name="Create version").click()

        expect(page).to_have_url(re.compile(r"/v/2/$"))
    finally:
        context.close()
    assert PromptVersion.objects.get(prompt=chat, number=2).messages == [
        {"role": "assistant", "content": "Ask me about {{product}}."},
        {"role": "user", "content": "{{question}}"},
    ]
