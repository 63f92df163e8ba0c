"""The token page in Chromium: the copy button (from a static script, no CSP violation) puts
the secret on the clipboard and says so in a live region; a reload shows the secret no more."""

import pytest
from playwright.sync_api import expect

from teams.models import ApiToken
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.reportCspViolation(
  `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
), true);
"""


def test_copy_button_copies_the_secret_once_and_a_reload_issues_nothing(page, sign_in):
    violations: list[str] = []
    page.context.expose_function("reportCspViolation", lambda text: violations.append(text))
    page.add_init_script(REPORT_VIOLATIONS)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    UserFactory(username="sam")
    sign_in("sam")

    page.goto("/tokens/")
    page.get_by_label("Name").fill("laptop")
    expect(page.get_by_text("end of this day (UTC time)")).to_be_visible()
    page.get_by_role("button", name="Create token").click()

    secret_box = page.get_by_label("Token", exact=True)
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    copy = page.get_by_role("button", name="Copy token")
    expect(copy).to_be_visible()
    copy.click()
    expect(page.locator("#new-token-copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your API tokens")
    expect(page.locator("#new-token-secret")).to_have_count(0)
    assert secret not in page.content()
    assert ApiToken.objects.filter(name="laptop").count() == 1
    assert violations == []
