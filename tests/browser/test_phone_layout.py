"""On a phone-sized window (390 x 844) the main pages need no sideways scrolling: wide tables
scroll inside their own named, focusable region, the header wraps, long words wrap. The focus
ring keeps a contrast of at least 3:1 against the page (WCAG 2.2). Set PORTAL_SCREENSHOTS to a
directory to keep full-page screenshots at 390 and 1280 px wide."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from approvals.services import promotion_request, promotion_right_grant
from prompts.services import deployment_set
from teams.tokens import personal_token_create, service_token_create
from tests.factories import PromptFactory, UserFactory, system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LONG_URL = "https://runbooks.example.com/support/refund-reply/escalations/" + "x" * 60

# Elements wider than their box that scroll sideways must be reachable by keyboard and named
# (axe-core's scrollable-region-focusable); the page itself must not scroll sideways.
LAYOUT = """() => {
  const root = document.documentElement;
  const unreachable = [];
  for (const element of document.querySelectorAll("body *")) {
    const overflow = getComputedStyle(element).overflowX;
    if (!["auto", "scroll"].includes(overflow) || element.scrollWidth <= element.clientWidth) {
      continue;
    }
    const named = element.hasAttribute("aria-label") || element.hasAttribute("aria-labelledby");
    if (element.tabIndex < 0 || !named) {
      unreachable.push(element.outerHTML.slice(0, 120));
    }
  }
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, unreachable};
}"""

# WCAG relative luminance and contrast of the focused element's outline against white.
FOCUS_RING = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const [r, g, b] = style.outlineColor.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  return {
    tag: element.tagName,
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    contrast: 1.05 / (luminance + 0.05),
  };
}"""


@pytest.fixture
def seeded(namespace, prompt, make_version, member_of, environments):
    """A namespace with a deployed prompt, a pending staging request, tokens and audit entries."""
    staff = UserFactory(username="sam", is_staff=True)
    maintainer = member_of(namespace, role="maintainer", username="mia")
    prompt.description = f"Answers refund questions; see {LONG_URL} before changing it."
    prompt.save(update_fields=["description"])
    v1 = make_version(prompt, text="Hello {{name}}", message="first cut")
    v2 = make_version(
        prompt,
        text="Hello {{name}}, thanks for waiting. " * 4 + LONG_URL,
        message="warmer, with the runbook link",
    )
    v3 = make_version(prompt, text="Hi {{name}}, thanks for waiting", message="shorter")
    for slug, version in (("production", v1), ("staging", v2), ("development", v3)):
        deployment_set(
            action="deployment.seeded",
            prompt=prompt,
            environment=environments[slug],
            version=version,
            actor=None,
        )
    PromptFactory(namespace=namespace, name="order-status-with-a-rather-long-name", tags=["faq"])
    promotion_right_grant(
        actor=system_actor(), namespace=namespace, environment=environments["staging"], user=staff
    )
    pending = promotion_request(
        actor=maintainer,
        prompt=prompt,
        version=v3,
        environment=environments["staging"],
        justification=f"Shorter wording, checked against {LONG_URL}",
    )
    personal_token_create(actor=staff, name="laptop-scripts")
    service_token_create(
        actor=system_actor(), namespaces=[namespace], name="support-bot-production"
    )
    return {"prompt": prompt, "request": pending}


def test_main_pages_fit_a_phone_without_sideways_scrolling(page, sign_in, seeded):
    shots = os.environ.get("PORTAL_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    prompt = seeded["prompt"]
    base = f"/prompts/{prompt.namespace.slug}/{prompt.name}/"
    pages = {
        "home": ("/", "Prompts"),
        "prompt": (base, prompt.full_name),
        "version": (f"{base}v/2/", "v2"),
        "deployments": (f"{base}deployments/", "Deployment history"),
        "promote": (f"{base}promote/", "Request promotion"),
        "reviews": ("/reviews/", "Reviews"),
        "request": (f"/promotions/{seeded['request'].pk}/", "Promote"),
        "namespace": (f"/namespaces/{prompt.namespace.slug}/", prompt.namespace.slug),
        "audit": ("/audit/", "Audit log"),
        "environments": ("/environments/", "Environments"),
        "people": ("/people/", "People"),
        "tokens": ("/tokens/", "Your API tokens"),
        "team": (f"/teams/{prompt.namespace.team.slug}/", prompt.namespace.team.name),
        "new-prompt": ("/prompts/new/", "New prompt"),
        "new-version": (f"{base}versions/new/", "New version"),
        "not-found": ("/prompts/support/no-such-prompt/", "Page not found"),
    }

    page.set_viewport_size(PHONE)
    page.goto("/login/")
    _check_layout(page, "login", shots)
    sign_in("sam")

    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        for name, (path, heading) in pages.items():
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
            _check_layout(page, f"{name}-{viewport['width']}", shots)

    page.set_viewport_size(PHONE)
    page.goto("/reviews/")
    expect(page.locator(f"tr[data-request='{seeded['request'].pk}']")).to_be_visible()
    for tag in ("A", "A", "BUTTON"):  # the skip link, the brand, the Menu button
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        assert ring["tag"] == tag, ring
        assert ring["style"] != "none", ring
        assert ring["width"] >= 2, ring
        assert ring["contrast"] >= 3, ring


def _check_layout(page, name: str, shots: str | None) -> None:
    page.wait_for_load_state("networkidle")  # the Reviews badge arrives over htmx
    if shots:
        page.screenshot(path=f"{shots}/{name}.png", full_page=True)
    layout = page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= layout["innerWidth"], (name, layout)
    assert layout["unreachable"] == [], (name, layout)
