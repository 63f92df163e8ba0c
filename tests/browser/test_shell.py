import pytest
from playwright.sync_api import expect

from prompts.services import deployment_set
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_user_signs_in_and_opens_a_prompt_page(page, sign_in, prompt, make_version, environments):
    first = make_version(prompt, text="Hello {{name}}", message="first cut")
    make_version(prompt, text="Hi {{name}}", message="friendlier")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["production"],
        version=first,
        actor=None,
    )
    UserFactory(username="reader")

    page.goto("/")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?next=/")
    sign_in("reader")
    page.get_by_role("link", name="support/refund-reply").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("support/refund-reply")
    expect(page.locator("tr[data-environment=production]")).to_contain_text("v1")
    expect(page.get_by_role("cell", name="friendlier")).to_be_visible()
    page.get_by_role("link", name="v2").first.click()
    expect(page.locator("table.diff-side")).to_contain_text("Hi {{name}}")
