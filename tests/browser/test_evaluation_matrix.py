"""The evaluation matrix in Chromium: support/refund-reply (v1 in production, its model_config
naming the family `echo-family`) has a 3-case suite run on `local`; a viewer sees one column.
Staff register `echo-family-2026-12-01` (an offline echo model) through the API: the release
runs the suite on it by itself, and the viewer's matrix grows a second column, coloured by pass
rate with the number in each cell. Two runs are then compared case by case. No axe violation.
"""

import os

import pytest
from django.db import transaction
from playwright.sync_api import expect

from prompts.evaluations import runs
from prompts.evaluations.models import Case, Model, Run, Suite
from prompts.services import deployment_set
from teams.tokens import personal_token_create
from tests.factories import UserFactory, system_actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/prompts/support/refund-reply/evaluations/matrix/"
NEW_MODEL = "echo-family-2026-12-01"
SCREENSHOTS = os.environ.get("MATRIX_SCREENSHOTS", "/tmp/evaluation-matrix")


@pytest.fixture
def evaluated(prompt, make_version, member_of, environments):
    member_of(prompt.namespace, role="viewer", username="vic", password="secret-pass-123")
    v1 = make_version(
        prompt,
        text="Dear {{name}}, your refund is on its way.",
        model_config={"model": "echo-family"},
    )
    make_version(prompt, text="Dear {{name}}, no refund.", model_config={"model": "echo-family"})
    deployment_set(
        prompt=prompt,
        environment=environments["production"],
        version=v1,
        actor=None,
        action="deployment.seeded",
    )
    suite = Suite.objects.create(prompt=prompt, name="refunds", created_by=system_actor())
    for position, name in enumerate(("Ada", "Bob", "Cy"), start=1):
        Case.objects.create(
            suite=suite,
            position=position,
            description=f"refund for {name}",
            variables={"name": name},
            assertions=[
                {"type": "contains", "value": name},
                {"type": "icontains", "value": "refund"},
                {"type": "not-icontains", "value": "no refund"},
            ],
        )
    with transaction.atomic():  # committed: the eager worker runs it after the commit
        run = runs.run_create(
            actor=None,
            prompt=prompt,
            version=v1,
            suite=suite,
            model=Model.objects.get(name="local"),
        )
    assert Run.objects.get(pk=run.pk).state == "passed"
    return {"suite": suite, "first": run}


def test_the_matrix_grows_when_a_second_model_is_registered(
    page, sign_in, evaluated, assert_accessible
):
    sign_in("vic")
    page.goto(URL)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Evaluation matrix of support/refund-reply"
    )
    table = page.get_by_role("table", name="Pass rate per version and model, suite refunds")
    expect(table.locator("thead th")).to_have_count(2)  # Version, local
    expect(table.locator("thead")).to_contain_text("local (offline echo, not a language model)")
    cell = table.locator('tr[data-version="1"] td[data-model="local"]')
    expect(cell).to_have_class("band-good")
    expect(cell).to_contain_text("100 %")
    expect(cell).to_contain_text("passed")
    expect(cell).to_contain_text("3/3 cases")
    assert_accessible()

    staff = UserFactory(username="sam", is_staff=True)
    _, secret = personal_token_create(actor=staff, name="registry")
    response = page.request.post(
        "/api/v1/models/",
        data={"name": NEW_MODEL, "provider": "echo", "notes": "offline stand-in"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 201, response.text()
    release = Run.objects.get(model__name=NEW_MODEL)
    assert (release.trigger, release.state) == ("model_release", "passed")

    page.reload()

    expect(table.locator("thead th")).to_have_count(3)
    expect(table.locator(f'thead th[data-model="{NEW_MODEL}"]')).to_have_text(
        f"{NEW_MODEL} (offline echo, not a language model)"
    )
    grown = table.locator(f'tr[data-version="1"] td[data-model="{NEW_MODEL}"]')
    expect(grown).to_have_class("band-good")
    expect(grown).to_contain_text("100 %")
    expect(grown.get_by_role("link", name="100 %")).to_have_attribute(
        "href", f"/evaluations/runs/{release.pk}/"
    )
    api = page.request.get("/api/v1/prompts/support/refund-reply/evaluations/matrix/")
    assert {c["model"] for c in api.json()["suites"][0]["cells"]} == {"local", NEW_MODEL}
    page.screenshot(path=f"{SCREENSHOTS}-desktop.png", full_page=True)
    assert_accessible()

    page.set_viewport_size({"width": 390, "height": 800})  # a phone: the table scrolls inside
    page.reload()
    expect(grown).to_contain_text("100 %")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=f"{SCREENSHOTS}-phone.png", full_page=True)
    assert_accessible()


def test_two_runs_compared_case_by_case(page, sign_in, evaluated, assert_accessible):
    v2 = evaluated["suite"].prompt.versions.get(number=2)
    with transaction.atomic():
        worse = runs.run_create(
            actor=None,
            prompt=v2.prompt,
            version=v2,
            suite=evaluated["suite"],
            model=Model.objects.get(name="local"),
        )
    sign_in("vic")
    page.goto(URL)
    worse_cell = page.locator('tr[data-version="2"] td[data-model="local"]')
    expect(worse_cell).to_have_class("band-poor")
    expect(worse_cell).to_contain_text("0 %")
    expect(worse_cell).to_contain_text("failed")

    page.get_by_label("Run A").select_option(str(evaluated["first"].pk))
    page.get_by_label("Run B").select_option(str(worse.pk))
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Run {evaluated['first'].pk} against run {worse.pk}"
    )
    expect(page.locator("#compare-summary")).to_have_text("3 cases; 3 changed their verdicts.")
    first_case = page.locator('section[data-position="1"]')
    expect(first_case.locator("del").first).to_have_text("your")
    expect(first_case.locator("ins").first).to_have_text("no")
    changed = first_case.locator("tr.assertion-changed")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("not-icontains")
    expect(changed.locator("td").nth(2)).to_contain_text("passed")
    expect(changed.locator("td").nth(3)).to_contain_text("failed")
    page.screenshot(path=f"{SCREENSHOTS}-compare.png", full_page=True)
    assert_accessible()
