import re

import pytest
from playwright.sync_api import expect

from prompts.models import PromptVersion

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_maintainer_creates_a_prompt_and_two_versions_and_sees_the_diff(
    page, sign_in, namespace, member_of
):
    member_of(namespace, role="maintainer", username="mia")
    sign_in("mia")

    page.get_by_role("link", name="New prompt").click()
    page.get_by_label("Namespace").select_option("support")
    page.get_by_label("Name", exact=True).fill("welcome")
    page.get_by_label("Kind").select_option("text")
    page.get_by_label("Tags").fill("onboarding")
    page.get_by_role("button", name="Create prompt").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("support/welcome")
    expect(page.get_by_role("cell", name="No versions yet.")).to_be_visible()
    page.get_by_role("link", name="New version").click()
    page.get_by_label("Template", exact=True).fill("Hello {{name}}")
    page.get_by_label("Variables").fill("name")
    page.get_by_label("Commit message").fill("first cut")
    page.get_by_role("button", name="Create version").click()

    expect(page).to_have_url(re.compile(r"/prompts/support/welcome/v/1/$"))
    expect(page.get_by_text("This is the first version.")).to_be_visible()
    page.get_by_role("link", name="New version").click()
    expect(page.get_by_label("Template", exact=True)).to_have_value("Hello {{name}}")
    page.get_by_label("Template", exact=True).fill("Hello {{name}},\nwelcome aboard!")
    page.get_by_label("Commit message").fill("warmer")
    page.get_by_role("button", name="Create version").click()

    expect(page).to_have_url(re.compile(r"/prompts/support/welcome/v/2/$"))
    diff = page.locator("table.diff-side")
    expect(diff.locator("td.diff-new")).to_contain_text(["Hello {{name}},", "welcome aboard!"])
    expect(diff.locator("td.diff-new ins")).to_have_text([",", "welcome aboard!"])
    expect(diff.locator("td.diff-old")).to_contain_text(["Hello {{name}}"])
    assert PromptVersion.objects.get(prompt__name="welcome", number=2).template == (
        "Hello {{name}},\nwelcome aboard!"
    )


def test_version_form_shows_errors_without_writing(page, sign_in, prompt, make_version, author):
    make_version(prompt, text="Hello {{name}}")
    sign_in("author")

    page.goto("/prompts/support/refund-reply/versions/new/")
    page.get_by_label("Template", exact=True).fill("Hello {{name}} about {{order_id}}")
    page.get_by_label("Commit message").fill("mention the order")
    page.get_by_role("button", name="Create version").click()

    expect(page.get_by_text("used in the template but not declared: order_id")).to_be_visible()
    expect(page.get_by_label("Variables")).to_have_attribute("aria-invalid", "true")
    assert PromptVersion.objects.filter(prompt=prompt).count() == 1
