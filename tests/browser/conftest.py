"""Playwright driving Debian's Chromium (installed by `make test`), against `live_server`;
axe-core (installed by `make test` in tests/browser/axe) for the accessibility checks; a set
of governance data that fills the main pages."""

import os
import shutil
from pathlib import Path

import pytest

from approvals.services import promotion_request, promotion_right_grant, rollback
from prompts.models import Prompt
from prompts.services import deployment_set, prompt_create, version_create
from teams.tokens import personal_token_create, service_token_create
from tests.factories import PromptFactory, UserFactory, system_actor

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
AXE_SCRIPT = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: what the portal promises.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map((node) => ({
      target: node.target.join(" "),
      html: node.html.slice(0, 200),
      summary: node.failureSummary,
    })),
  }));
}"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it.")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by the
    # test body (fixtures, assertions) are synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    def sign_in(username: str, password: str = "secret-pass-123") -> None:
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")

    return sign_in


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"axe-core not found at {AXE_SCRIPT}; `make test` installs it (npm ci).")
    return AXE_SCRIPT.read_text()


@pytest.fixture
def axe(page, axe_source):
    """`axe()` -> the WCAG 2.x A and AA violations axe-core finds on the page as it is now.

    The portal's CSP (script-src 'self', no nonce) blocks page.add_script_tag, which inserts
    an inline script; page.evaluate runs over the DevTools protocol, where the page's CSP does
    not apply, so the policy under test stays as it is served (no bypass_csp)."""

    def run() -> list[dict]:
        page.wait_for_load_state("networkidle")  # the Reviews badge arrives over htmx
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(axe_source)
        return page.evaluate(AXE_RUN, AXE_TAGS)

    return run


def axe_report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']}: {node['html']}" for node in violation["nodes"])
    return "\n".join(lines)


@pytest.fixture
def assert_accessible(page, axe):
    """`assert_accessible()` fails the test with every axe violation on the current page: its
    rule id, what the rule asks and the elements that break it."""

    def check() -> None:
        violations = axe()
        if violations:
            pytest.fail(
                f"axe-core found {len(violations)} violation(s) on {page.url}:\n"
                + axe_report(violations),
                pytrace=False,
            )

    return check


@pytest.fixture
def portal_data(namespace, prompt, make_version, member_of, environments):
    """A namespace with a text prompt deployed everywhere (production rolled back once), a chat
    prompt, a pending staging request, tokens and the audit entries all that leaves. People:
    sam (staff, promotion right in staging and production), mia (maintainer, requester), vic
    (viewer)."""
    staff = UserFactory(username="sam", is_staff=True)
    maintainer = member_of(namespace, role="maintainer", username="mia")
    member_of(namespace, role="viewer", username="vic")
    v1 = make_version(prompt, text="Hello {{name}}", message="first cut")
    v2 = make_version(prompt, text="Hello {{name}}, thanks for waiting.", message="warmer")
    v3 = make_version(prompt, text="Hi {{name}}, thanks for waiting", message="shorter")
    for slug, versions in (("production", (v1, v2)), ("staging", (v2,)), ("development", (v3,))):
        for version in versions:
            deployment_set(
                action="deployment.seeded",
                prompt=prompt,
                environment=environments[slug],
                version=version,
                actor=None,
            )
    for slug in ("staging", "production"):
        promotion_right_grant(
            actor=system_actor(), namespace=namespace, environment=environments[slug], user=staff
        )
    rollback(
        actor=staff,
        prompt=prompt,
        environment=environments["production"],
        justification="Customers read the warmer wording as a promise of a refund",
    )
    chat = prompt_create(
        actor=maintainer, namespace=namespace, name="triage", kind=Prompt.Kind.CHAT, tags=["faq"]
    )
    version_create(
        prompt=chat,
        author=maintainer,
        messages=[
            {"role": "system", "content": "Sort support mail for {{team}}."},
            {"role": "user", "content": "{{mail}}"},
        ],
        variables=["team", "mail"],
        message="first cut",
    )
    PromptFactory(namespace=namespace, name="order-status", tags=["faq"])
    pending = promotion_request(
        actor=maintainer,
        prompt=prompt,
        version=v3,
        environment=environments["staging"],
        justification="Shorter wording, checked with the support leads",
    )
    personal_token_create(actor=staff, name="laptop-scripts")
    service_token_create(
        actor=system_actor(), namespaces=[namespace], name="support-bot-production"
    )
    return {"prompt": prompt, "chat": chat, "request": pending}
