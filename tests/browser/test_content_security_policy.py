"""Under the site's strict CSP, Chromium reports no violation on the main pages, the admin and
the API docs, and htmx still works (it must not inject its indicator styles or eval)."""

import re

import pytest
from playwright.sync_api import expect

from prompts.services import deployment_set
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Stands in for Swagger UI's bundle, from the CDN or our static files alike (the test machine
# cannot reach the CDN): it records what the page's init script, a request to the portal of its
# own, passed to it.
SWAGGER_UI_STUB = """
window.SwaggerUIBundle = function (config) {
  document.querySelector(config.dom_id).dataset.schemaUrl = config.url;
  return {initOAuth() {}};
};
window.SwaggerUIBundle.presets = {apis: {}};
"""

# Runs before the page's own scripts (injected by Playwright, so the CSP does not apply to it).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.reportCspViolation(
  `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
), true);
"""


@pytest.fixture
def violations(page):
    """Every CSP violation the page reports, as a DOM event or on the console."""
    reported: list[str] = []
    page.context.expose_function("reportCspViolation", lambda text: reported.append(text))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            reported.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return reported


@pytest.fixture
def deployed(prompt, make_version, environments):
    first = make_version(prompt, text="Hello {{name}}", message="first cut")
    second = make_version(prompt, text="Hi {{name}}!", message="friendlier")
    for environment, version in (("production", first), ("development", second)):
        deployment_set(
            action="deployment.seeded",
            prompt=prompt,
            environment=environments[environment],
            version=version,
            actor=None,
        )
    return prompt


def test_main_pages_and_htmx_work_without_a_violation(page, sign_in, violations, deployed):
    UserFactory(username="sam", is_staff=True)

    page.goto("/login/")
    sign_in("sam")

    page.get_by_role("link", name="support/refund-reply").click()
    prompt_url = page.url
    preview = page.locator("#use-it")
    expect(preview).to_contain_text("Preview v1 in production")
    preview.get_by_label("Environment").select_option("development")
    expect(preview).to_contain_text("Preview v2 in development")
    preview.get_by_label("name").fill("Ada")
    preview.get_by_role("button", name="Render").click()
    expect(preview.locator("pre.rendered")).to_have_text("Hi Ada!")
    assert page.url == prompt_url  # htmx swapped the panel; the form was not submitted

    page.goto("/prompts/support/refund-reply/v/2/")
    expect(page.locator("pre.diff span.add")).to_contain_text(["+Hi {{name}}!"])
    page.goto("/audit/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit log")

    assert violations == []


def test_admin_pages_work_without_a_violation(page, sign_in, violations, deployed):
    UserFactory(username="sam", is_staff=True)
    sign_in("sam")

    for path, heading in [
        ("/admin/", "Site administration"),
        ("/admin/prompts/prompt/", "Select prompt to view"),
        (f"/admin/prompts/prompt/{deployed.pk}/change/", "View prompt"),
        (f"/admin/prompts/prompt/{deployed.pk}/history/", "View history"),
    ]:
        page.goto(path)
        expect(page.locator("#content h1")).to_contain_text(heading)

    assert violations == []


def test_api_docs_run_their_init_script_from_the_portal(page, violations):
    # Playwright tries the route registered last first.
    page.route(re.compile(r"^https://cdn\.jsdelivr\.net/"), lambda route: route.fulfill(body=""))
    page.route(
        re.compile(r"/swagger-ui-bundle\.js$"),
        lambda route: route.fulfill(body=SWAGGER_UI_STUB, content_type="text/javascript"),
    )

    page.goto("/api/v1/docs/")

    expect(page.locator("#swagger-ui")).to_have_attribute("data-schema-url", "/api/v1/schema/")
    assert violations == []
