"""Under the site's strict CSP, Chromium reports no violation on the main pages, the admin and
the API docs, and htmx still works (it must not inject its indicator styles or eval). The API
docs (Swagger UI and ReDoc) list the operations with every request off the test server aborted:
their assets are the portal's static files."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from prompts.services import deployment_set
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

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
    # loaded: htmx (a deferred script) has bound its handlers, else the change below is lost
    page.wait_for_url("**/prompts/support/refund-reply/", wait_until="load")
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
    expect(page.locator("table.diff-side td.diff-new")).to_contain_text(["Hi {{name}}!"])
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


@pytest.fixture
def offline(page, live_server):
    """Every request to a host other than the test server is aborted (and recorded)."""
    own = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def route(route):
        if urlsplit(route.request.url).netloc == own or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return refused


def test_swagger_ui_lists_the_operations_offline(page, violations, offline):
    page.goto("/api/v1/docs/")

    resolve = page.locator(".opblock", has_text="/api/v1/resolve/{namespace}/{name}/").first
    expect(resolve).to_be_visible()
    resolve.locator(".opblock-summary").click()  # expanding draws the parameters
    expect(resolve.locator(".parameters")).to_contain_text("namespace")
    assert page.locator(".opblock").count() > 10
    assert violations == []
    assert offline == []


def test_redoc_lists_the_operations_offline(page, violations, offline):
    page.goto("/api/v1/redoc/")

    expect(page.get_by_text("/api/v1/resolve/{namespace}/{name}/").first).to_be_attached()
    expect(page.locator("h1").first).to_contain_text("Prompt governance portal API")
    page.get_by_placeholder("Search...").fill("resolve")  # the search runs in a blob: worker
    expect(page.locator("[role=search] li").first).to_be_visible()
    assert violations == []
    assert offline == []
