"""The suite pages through real URLs: list and create, import by pasting promptfoo YAML, a
suite's page with its cases and export links, add / edit / delete a case with variable fields
and assertion rows; readers see but may not write (403), outsiders of a private namespace get
404."""

import pytest
from django.test import Client

from portal.audit.models import AuditEntry
from prompts.evaluations.models import Case, Model, Run, Suite
from prompts.services import version_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

YAML = """\
defaultTest:
  assert:
    - type: not-contains
      value: sorry
tests:
  - description: greets
    vars: {name: Ada}
    assert:
      - type: icontains
        value: ada
  - vars: {name: Bob}
    assert:
      - type: python
        value: output
"""


@pytest.fixture
def page(prompt, author):
    version_create(
        prompt=prompt,
        author=author,
        template="Hello {{name}} from {{team}}",
        variables=["name", "team"],
    )
    return f"/prompts/{prompt.namespace.slug}/{prompt.name}/suites/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def maintainer(author):
    return client_for(author)


@pytest.fixture
def suite(prompt, author):
    return Suite.objects.create(prompt=prompt, name="smoke", created_by=author)


def case_post(**extra):
    body = {
        "case-description": "says hi",
        "case-var_name": "Ada",
        "case-var_team": "",
        "case-variables_json": '{"extra": [1, 2]}',
        "case-threshold": "",
        "case-a0_type": "contains",
        "case-a0_value": "Ada",
        "case-a0_weight": "2",
        "case-a1_type": "contains-any",
        "case-a1_value": '["Hello", "Hi"]',
        "case-a2_type": "not-levenshtein",
        "case-a2_value": "Goodbye",
        "case-a2_threshold": "3",
    }
    return body | extra


def test_list_and_create_a_suite(page, maintainer):
    assert maintainer.get(page).status_code == 200
    created = maintainer.post(page, {"name": "smoke", "description": "", "pass_threshold": "0.8"})
    assert created.status_code == 302
    suite = Suite.objects.get()
    assert suite.pass_threshold == 0.8
    listed = maintainer.get(page)
    assert b"smoke" in listed.content
    duplicate = maintainer.post(page, {"name": "smoke", "pass_threshold": "1"})
    assert duplicate.status_code == 422
    assert b"already has a suite" in duplicate.content


def test_add_edit_and_delete_a_case(page, maintainer, suite):
    base = f"{page}{suite.pk}/"
    form = maintainer.get(f"{base}cases/new/")
    assert form.status_code == 200
    assert b'name="case-var_name"' in form.content
    assert b'name="case-var_team"' in form.content
    added = maintainer.post(f"{base}cases/new/", case_post())
    assert added.status_code == 302, added.content.decode()[:2000]
    case = Case.objects.get()
    assert case.variables == {"extra": [1, 2], "name": "Ada"}
    assert case.assertions == [
        {"type": "contains", "value": "Ada", "weight": 2.0},
        {"type": "contains-any", "value": ["Hello", "Hi"]},
        {"type": "not-levenshtein", "value": "Goodbye", "threshold": 3.0},
    ]
    detail = maintainer.get(base)
    assert b"not-levenshtein" in detail.content
    assert b"?format=promptfoo" in detail.content

    edit = maintainer.get(f"{base}cases/{case.pk}/")
    assert b'value="Ada"' in edit.content
    changed = maintainer.post(
        f"{base}cases/{case.pk}/",
        case_post(**{"case-a1_type": "", "case-a2_type": "", "case-threshold": "0.5"}),
    )
    assert changed.status_code == 302
    case.refresh_from_db()
    assert case.threshold == 0.5
    assert case.assertions == [{"type": "contains", "value": "Ada", "weight": 2.0}]

    unsound = maintainer.post(
        f"{base}cases/{case.pk}/", case_post(**{"case-a0_type": "latency", "case-a0_value": ""})
    )
    assert unsound.status_code == 422
    assert b"needs a threshold" in unsound.content

    assert maintainer.post(f"{base}cases/{case.pk}/delete/").status_code == 302
    assert not Case.objects.exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"case.created", "case.changed", "case.deleted"} <= actions


def test_import_by_pasting_promptfoo_yaml_shows_the_warnings(page, maintainer):
    answer = maintainer.post(
        f"{page}import/", {"name": "pasted", "format": "promptfoo", "content": YAML}, follow=True
    )
    assert answer.status_code == 200
    suite = Suite.objects.get(name="pasted")
    assert suite.cases.count() == 2
    assert b"Assertion 2 (python): unknown assertion type." in answer.content
    bad = maintainer.post(
        f"{page}import/", {"name": "bad", "format": "promptfoo", "content": "tests: [\n- a: b: c\n"}
    )
    assert bad.status_code == 422
    assert b"line 2" in bad.content


def test_a_suite_with_runs_is_not_deleted(page, maintainer, suite, prompt, author):
    Run.objects.create(
        prompt=prompt,
        version=prompt.versions.get(),
        suite=suite,
        model=Model.objects.get(name="local"),
        requested_by=author,
    )
    answer = maintainer.post(f"{page}{suite.pk}/delete/", follow=True)
    assert b"has evaluation runs" in answer.content
    assert Suite.objects.filter(pk=suite.pk).exists()
    empty = Suite.objects.create(prompt=prompt, name="empty", created_by=author)
    assert maintainer.post(f"{page}{empty.pk}/delete/").status_code == 302
    assert not Suite.objects.filter(pk=empty.pk).exists()


def test_readers_see_but_may_not_write(page, suite, prompt, member_of):
    viewer = client_for(member_of(prompt.namespace, role="viewer"))
    assert viewer.get(page).status_code == 200
    assert b"New suite" not in viewer.get(page).content
    assert viewer.get(f"{page}{suite.pk}/").status_code == 200
    assert viewer.post(page, {"name": "x", "pass_threshold": "1"}).status_code == 403
    assert viewer.post(f"{page}{suite.pk}/cases/new/", case_post()).status_code == 403
    assert viewer.post(f"{page}{suite.pk}/delete/").status_code == 403
    imported = viewer.post(f"{page}import/", {"name": "x", "format": "jsonl", "content": "{}"})
    assert imported.status_code == 403
    assert Suite.objects.count() == 1
    assert not Case.objects.exists()


def test_private_prompts_are_404_for_outsiders_and_pages_need_sign_in(page, suite, prompt):
    assert Client().get(page).status_code == 302  # to the sign-in page
    prompt.namespace.visibility = "private"
    prompt.namespace.save()
    outsider = client_for(UserFactory())
    for path in (page, f"{page}{suite.pk}/", f"{page}{suite.pk}/cases/new/", f"{page}import/"):
        assert outsider.get(path).status_code == 404
    assert outsider.post(f"{page}{suite.pk}/delete/").status_code == 404


def test_editing_a_case_keeps_what_the_rows_do_not_show(page, maintainer, suite):
    case = suite.cases.create(
        position=1,
        variables={"name": "Ada"},
        assertions=[{"type": "llm-rubric", "value": "is kind", "provider": "judge-model"}],
    )
    body = case_post(
        **{"case-a0_type": "llm-rubric", "case-a0_value": "is kinder", "case-a0_weight": ""}
    )
    body |= {"case-a1_type": "", "case-a2_type": ""}
    assert maintainer.post(f"{page}{suite.pk}/cases/{case.pk}/", body).status_code == 302
    case.refresh_from_db()
    assert case.assertions == [
        {"type": "llm-rubric", "value": "is kinder", "provider": "judge-model"}
    ]
