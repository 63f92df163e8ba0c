"""The evaluation flow as a maintainer lives it in Chromium: from the prompt page, write a suite
of three cases in the portal, run it on `local`, watch the run page's progress bar finish and
read the per-case results; then staff register a second model and the version × model matrix
grows a column."""

import re

import pytest
from playwright.sync_api import expect

from prompts.evaluations.models import Run, Suite
from teams.tokens import personal_token_create
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CASES = (("Ada", "Ada"), ("Bob", "Bob"), ("Cy", "Zed"))  # the third expects what is not there


def test_write_a_suite_run_it_and_see_the_matrix_grow(
    page, sign_in, prompt, make_version, member_of, assert_accessible
):
    member_of(prompt.namespace, role="maintainer", username="mia", password="secret-pass-123")
    make_version(prompt, text="Hello {{name}}, your refund is on its way.")

    # Given mia on the prompt page: she writes a suite of three cases in the portal
    sign_in("mia")
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name="Suites of support/refund-reply").click()
    page.locator("#suite-form").get_by_label("Name").fill("greetings")
    page.get_by_role("button", name="Create suite").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suite greetings")
    for name, expected in CASES:
        page.locator("#add-case").click()
        page.get_by_label("name", exact=True).fill(name)
        page.locator("#id_case-a0_type").select_option("contains")
        page.locator("#id_case-a0_value").fill(expected)
        page.get_by_role("button", name="Add case").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Suite greetings")
    expect(page.locator("main")).to_contain_text("Zed")

    # When she runs it on local from the prompt's runs page
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name="Runs of support/refund-reply").click()
    page.get_by_label("Suite", exact=True).select_option(str(Suite.objects.get().pk))
    page.get_by_label("Model", exact=True).select_option("local")
    page.get_by_role("button", name="Run").click()

    # Then the run page's bar reaches 100 % and each case says why it passed or failed
    expect(page).to_have_url(re.compile(r"/evaluations/runs/\d+/$"))
    expect(page.locator("#run-percent")).to_have_text("100 %", timeout=10_000)
    expect(page.locator("#run-state")).to_have_text("Failed")  # 2 of 3 under a 100 % threshold
    results = page.locator("article.case-result")
    expect(results).to_have_count(3)
    expect(results.nth(0)).to_contain_text("Hello Ada, your refund is on its way.")
    expect(results.nth(2).locator(".assertion-failed")).to_contain_text("Zed")
    expect(page.locator("#offline-echo")).to_contain_text("offline echo, not a language model")
    assert_accessible()
    run = Run.objects.get()
    assert (run.state, run.passed_cases, run.total) == ("failed", 2, 3)

    # When staff register a second (offline) model and mia runs the suite on it
    staff = UserFactory(username="sam", is_staff=True)
    _, secret = personal_token_create(actor=staff, name="registry")
    registered = page.request.post(
        "/api/v1/models/",
        data={"name": "echo-2", "provider": "echo", "notes": "a second offline model"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert registered.status == 201, registered.text()
    page.goto("/prompts/support/refund-reply/evaluations/")
    page.get_by_label("Suite", exact=True).select_option(str(Suite.objects.get().pk))
    page.get_by_label("Model", exact=True).select_option("echo-2")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#run-percent")).to_have_text("100 %", timeout=10_000)

    # Then the matrix has a column per model, each cell with its pass rate
    page.goto("/prompts/support/refund-reply/")
    page.get_by_role("link", name="Version × model matrix of support/refund-reply").click()
    table = page.get_by_role("table", name="Pass rate per version and model, suite greetings")
    expect(table.locator("thead th[data-model]")).to_have_count(2)
    for model in ("local", "echo-2"):
        expect(table.locator(f'tr[data-version="1"] td[data-model="{model}"]')).to_contain_text(
            "67 %"
        )
    assert_accessible()
