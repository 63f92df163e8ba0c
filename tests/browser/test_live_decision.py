"""After an approval taken on the request page (htmx), the page updates without a reload:
the decision panel, the navigation's Reviews badge and what runs now."""

import pytest
from playwright.sync_api import expect

from approvals.services import promotion_request, promotion_right_grant
from prompts.services import deployment_set
from tests.factories import UserFactory, system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_an_approval_updates_the_badge_and_what_runs_now_without_a_reload(
    page, sign_in, namespace, prompt, make_version, member_of, environments
):
    first = make_version(prompt, text="Hello {{name}}")
    second = make_version(prompt, text="Hello {{name}}, welcome back")
    for environment, version in (("development", second), ("staging", first)):
        deployment_set(
            action="deployment.seeded",
            prompt=prompt,
            environment=environments[environment],
            version=version,
            actor=None,
        )
    promotion_right_grant(
        actor=system_actor(),
        namespace=namespace,
        environment=environments["staging"],
        user=UserFactory(username="rosa"),
    )
    request = promotion_request(
        actor=member_of(namespace, role="maintainer", username="mia"),
        prompt=prompt,
        version=second,
        environment=environments["staging"],
        justification="tested in development",
    )
    sign_in("rosa")
    page.goto(f"/promotions/{request.pk}/")
    badge = page.locator("#inbox-count")
    expect(badge).to_have_text("1 waiting for your review")
    expect(page.locator("#running-now .runs-now")).to_have_text("Staging runs v1 now.")
    expect(page.locator("#running-now tr[data-environment=staging] td").first).to_have_text("v1")
    expect(page.locator("#changes-context")).to_have_text(
        "Compared with v1, which Staging runs now:"
    )
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Comment (optional)").fill("looks right")
    page.get_by_role("button", name="Approve", exact=True).click()

    expect(page.locator("#decision .notice")).to_have_text(
        "Approved and applied: Staging now runs v2."
    )
    expect(badge).to_have_text("")
    expect(page.locator("#running-now .runs-now")).to_have_text(
        "Staging runs v2 now, the version this request promotes."
    )
    expect(page.locator("#running-now tr[data-environment=staging] td").first).to_have_text("v2")
    expect(page.locator("#changes-context")).to_have_text(
        "Staging runs v2 now. Compared with v1, which ran there before this request:"
    )
    assert page.evaluate("window.notReloaded") is True
