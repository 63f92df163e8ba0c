"""axe-core finds no WCAG 2.0, 2.1 or 2.2 (A and AA) violation on the portal's main pages,
each filled with realistic data and seen by the person who would use it, on a desktop and on
a phone-sized window (targets crowd together when the layout wraps). The API docs are
third-party (Swagger UI, ReDoc) and not checked here."""

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PROMPT = "/prompts/support/refund-reply/"
CHAT = "/prompts/support/triage/"

# name: (who signs in, path, the first-level heading that shows the page is the right one)
PAGES = {
    "sign-in": (None, "/login/", "Sign in"),
    "home": ("mia", "/", "Prompts"),
    "prompt": ("mia", PROMPT, "support/refund-reply"),
    "version-with-diff": ("mia", f"{PROMPT}v/2/", "v2"),
    "new-text-version": ("mia", f"{PROMPT}versions/new/", "New version"),
    "new-chat-version": ("mia", f"{CHAT}versions/new/", "New version"),
    "new-prompt": ("mia", "/prompts/new/", "New prompt"),
    "environments": ("sam", "/environments/", "Environments"),
    "promotion-form": ("mia", f"{PROMPT}promote/", "Request promotion"),
    "pending-request": ("sam", "/promotions/{request}/", "Promote"),
    "reviews": ("sam", "/reviews/", "Reviews"),
    "deployment-history": ("sam", f"{PROMPT}deployments/", "Deployment history"),
    "rollback-confirm": ("sam", f"{PROMPT}deployments/", "Roll back Production?"),
    "namespace": ("sam", "/namespaces/support/", "support"),
    "team": ("sam", "/teams/{team}/", "{team_name}"),
    "tokens": ("sam", "/tokens/", "Your API tokens"),
    "people": ("sam", "/people/", "People"),
    "audit-log": ("sam", "/audit/", "Audit log"),
    "not-found": ("mia", "/prompts/support/no-such-prompt/", "Page not found"),
    "lifecycle": ("sam", f"{PROMPT}lifecycle/", "Lifecycle of support/refund-reply"),
    "metrics-dashboard": ("vic", f"{PROMPT}metrics/", "Metrics of support/refund-reply"),
    "notifications": ("mia", "/notifications/", "Notifications"),
    "notification-settings": ("mia", "/notifications/settings/", "E-mail settings"),
    "team-sent": ("sam", "/teams/{team}/notifications/", "What was sent to {team}"),
}


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_axe_violations(name, width, page, sign_in, portal_data, assert_accessible):
    username, path, heading = PAGES[name]
    page.set_viewport_size({"width": width, "height": 900})
    team = portal_data["prompt"].namespace.team
    values = {"request": portal_data["request"].pk, "team": team.slug, "team_name": team.name}
    if username:
        sign_in(username)

    page.goto(path.format(**values))
    if name == "rollback-confirm":
        _review_production_rollback(page)
    if name == "pending-request":
        expect(page.get_by_role("button", name="Approve", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Reject", exact=True)).to_be_visible()

    expect(page.get_by_role("heading", level=1)).to_contain_text(heading.format(**values))
    assert_accessible()


def _review_production_rollback(page) -> None:
    """From the deployment history to the confirmation of going back to v2 in production,
    which was rolled back from: the page's warnings show."""
    production = page.locator("#env-production")
    production.get_by_text("Roll back Production").click()
    production.get_by_label("Justification").fill("The refund wording is fixed in the FAQ")
    production.get_by_role("button", name="Review the rollback of Production").click()


def test_the_check_reports_what_breaks_a_rule(page, axe):
    """Guards against a check that passes because it checks nothing."""
    page.goto("/login/")
    page.evaluate("() => document.querySelector('label[for=id_username]').remove()")

    violations = axe()

    assert [violation["id"] for violation in violations] == ["label"]
    assert violations[0]["nodes"][0]["target"] == "#id_username"
