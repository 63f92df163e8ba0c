import re

import pytest
from playwright.sync_api import expect

from approvals.models import PromotionRequest
from approvals.services import promotion_right_grant
from prompts.services import deployment_set
from tests.factories import UserFactory, system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def signed_in(browser, live_server):
    """`signed_in(username)` -> a page of a new browser context where that user signed in."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill("secret-pass-123")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_production_promotion_needs_two_reviewers_from_their_inbox(
    signed_in, namespace, prompt, make_version, member_of, environments
):
    first = make_version(prompt, text="Hello {{name}}", message="first cut")
    second = make_version(prompt, text="Hello {{name}}, thanks for waiting", message="warmer")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["production"],
        version=first,
        actor=None,
    )
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["staging"],
        version=second,
        actor=None,
    )
    member_of(namespace, role="maintainer", username="mia")
    for username in ("rosa", "ravi"):
        promotion_right_grant(
            actor=system_actor(),
            namespace=namespace,
            environment=environments["production"],
            user=UserFactory(username=username),
        )

    requester = signed_in("mia")
    requester.goto("/prompts/support/refund-reply/")
    requester.get_by_role("link", name="Request promotion", exact=True).click()
    requester.get_by_label("Version").select_option("2")
    requester.get_by_label("Environment").select_option("production")
    requester.get_by_label("Justification").fill("Warmer wording tested in staging")
    requester.get_by_role("button", name="Request promotion").click()

    expect(requester).to_have_url(re.compile(r"/promotions/\d+/$"))
    expect(requester.locator("#decision .decision-state .state")).to_have_text("Pending")
    expect(requester.get_by_text("someone else must approve it (four-eyes rule)")).to_be_visible()
    expect(requester.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    expect(requester.locator("table.diff-side td.diff-new")).to_contain_text(
        ["Hello {{name}}, thanks for waiting"]
    )
    request_id = PromotionRequest.objects.get().pk

    for reviewer, notice in (
        ("rosa", "Approved: 1 of 2 approvals so far."),
        ("ravi", "Approved and applied: Production now runs v2."),
    ):
        page = signed_in(reviewer)
        reviews = page.get_by_role("link", name=re.compile(r"^Reviews"))
        expect(reviews).to_contain_text("1")
        reviews.click()
        page.get_by_role("link", name=f"Review #{request_id}").click()
        page.get_by_label("Comment (optional)").fill(f"{reviewer} agrees")
        page.get_by_role("button", name="Approve", exact=True).click()
        expect(page.locator("#decision [role=status]")).to_have_text(notice)
        expect(page.locator("#decision")).to_contain_text(f"{reviewer} agrees")

    expect(requester.locator("#decision .decision-state .state")).to_have_text("Pending")
    requester.reload()
    expect(requester.locator("#decision .decision-state .state")).to_have_text("Applied")
    requester.get_by_role("link", name="support/refund-reply").first.click()
    expect(requester.locator("tr[data-environment=production]")).to_contain_text("v2")
    expect(requester.locator("tr[data-environment=production]")).to_contain_text("ravi")
