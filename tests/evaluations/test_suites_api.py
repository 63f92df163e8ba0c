"""The suites API: list, create, read, change, delete, cases, import and export, through real
URLs, with the audit entries the writes leave."""

import textwrap

import pytest
import yaml

from portal.audit.models import AuditEntry
from prompts.evaluations.models import Case, Model, Run, Suite
from tests.api.conftest import personal_client, problem
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROMPTFOO_YAML = textwrap.dedent(
    """\
    description: Refund replies
    defaultTest:
      vars:
        tone: friendly
      assert:
        - type: not-contains
          value: sorry
      threshold: 0.5
    tests:
      - description: greets by name
        vars:
          name: Ada
        assert:
          - type: contains
            value: Ada
            weight: 2
          - type: icontains
            value: HELLO
      - vars:
          name: Bob
          tone: terse
        assert:
          - type: javascript
            value: output.length > 3
          - type: starts-with
            value: Hello
        threshold: 1
    """
)


@pytest.fixture
def url(prompt):
    return f"/api/v1/prompts/{prompt.namespace.slug}/{prompt.name}/suites/"


@pytest.fixture
def maintainer(author):
    return personal_client(author)


@pytest.fixture
def viewer(prompt, member_of):
    return personal_client(member_of(prompt.namespace, role="viewer"))


def create(client, url, **body):
    return client.post(url, {"name": "smoke", **body}, format="json")


def test_create_list_read_and_change_a_suite(url, maintainer, viewer):
    case = {
        "description": "says hello",
        "variables": {"name": "Ada"},
        "assertions": [{"type": "contains", "value": "Ada"}],
    }
    created = create(maintainer, url, description="quick", pass_threshold=0.5, cases=[case])
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "smoke"
    assert body["pass_threshold"] == 0.5
    assert body["case_count"] == 1
    assert body["cases"][0]["position"] == 1
    assert body["cases"][0]["assertions"] == case["assertions"]

    listed = viewer.get(url).json()
    assert listed["count"] == 1
    assert listed["results"][0]["case_count"] == 1
    assert viewer.get(f"{url}{body['id']}/").json()["cases"][0]["variables"] == {"name": "Ada"}

    changed = maintainer.patch(f"{url}{body['id']}/", {"pass_threshold": 1}, format="json")
    assert changed.status_code == 200
    assert changed.json()["pass_threshold"] == 1.0
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["suite.created", "suite.changed"]
    entry = AuditEntry.objects.get(action="suite.changed")
    assert entry.before["pass_threshold"] == 0.5
    assert entry.after["pass_threshold"] == 1.0


def test_bad_input_is_a_422_problem_naming_the_field(url, maintainer):
    bad = create(maintainer, url, cases=[{"assertions": [{"type": "nonsense", "value": 1}]}])
    assert bad.status_code == 422
    assert "cases[0].assertions" in problem(bad)["errors"]
    assert problem(create(maintainer, url, pass_threshold=2))["errors"]["pass_threshold"]
    assert Suite.objects.count() == 0

    assert create(maintainer, url).status_code == 201
    duplicate = create(maintainer, url)
    assert duplicate.status_code == 409
    assert problem(duplicate)["code"] == "already_exists"


def test_cases_are_added_changed_and_deleted(url, maintainer, viewer):
    suite = create(maintainer, url).json()
    cases = f"{url}{suite['id']}/cases/"
    added = maintainer.post(
        cases,
        {"variables": {"name": "Ada"}, "assertions": [{"type": "equals", "value": "Hi"}]},
        format="json",
    )
    assert added.status_code == 201
    case_id = added.json()["id"]
    assert viewer.post(cases, {}, format="json").status_code == 403

    changed = maintainer.patch(f"{cases}{case_id}/", {"threshold": 0.5}, format="json")
    assert changed.status_code == 200
    assert changed.json()["threshold"] == 0.5
    assert changed.json()["variables"] == {"name": "Ada"}
    unsound = maintainer.patch(
        f"{cases}{case_id}/", {"assertions": [{"type": "latency"}]}, format="json"
    )
    assert unsound.status_code == 422
    assert problem(unsound)["errors"]["assertions"] == ["Assertion 1 (latency): needs a threshold."]

    assert maintainer.delete(f"{cases}{case_id}/").status_code == 204
    assert not Case.objects.exists()
    assert {"case.created", "case.changed", "case.deleted"} <= set(
        AuditEntry.objects.values_list("action", flat=True)
    )


def test_a_suite_without_runs_is_deleted_one_with_runs_is_kept(
    url, maintainer, prompt, make_version, author
):
    first = create(maintainer, url).json()
    assert maintainer.delete(f"{url}{first['id']}/").status_code == 204
    kept = create(maintainer, url).json()
    Run.objects.create(
        prompt=prompt,
        version=make_version(prompt),
        suite_id=kept["id"],
        model=Model.objects.get(name="local"),
        requested_by=author,
    )
    refused = maintainer.delete(f"{url}{kept['id']}/")
    assert refused.status_code == 409
    assert "has evaluation runs" in problem(refused)["detail"]
    assert Suite.objects.filter(pk=kept["id"]).exists()


def test_import_promptfoo_yaml_merges_default_test_and_reports_unknown_types(url, maintainer):
    imported = maintainer.post(
        f"{url}import/",
        {"name": "refunds", "format": "promptfoo", "content": PROMPTFOO_YAML},
        format="json",
    )
    assert imported.status_code == 201, imported.content
    body = imported.json()
    first, second = body["suite"]["cases"]
    assert body["suite"]["description"] == "Refund replies"
    assert first["description"] == "greets by name"
    assert first["variables"] == {"tone": "friendly", "name": "Ada"}
    assert first["assertions"] == [
        {"type": "not-contains", "value": "sorry"},
        {"type": "contains", "value": "Ada", "weight": 2},
        {"type": "icontains", "value": "HELLO"},
    ]
    assert first["threshold"] == 0.5
    assert second["variables"] == {"name": "Bob", "tone": "terse"}
    assert second["threshold"] == 1.0
    assert [a["type"] for a in second["assertions"]] == [
        "not-contains",
        "javascript",
        "starts-with",
    ]
    assert body["warnings"] == [
        {"case": 2, "warnings": ["Test 2: Assertion 2 (javascript): unknown assertion type."]}
    ]
    assert AuditEntry.objects.get(action="suite.imported").after["warnings"] == body["warnings"]


def test_bad_yaml_is_a_422_naming_the_line(url, maintainer):
    broken = "tests:\n  - vars:\n      name: Ada\n    assert: [\n  - oops\n"
    answer = maintainer.post(
        f"{url}import/", {"name": "x", "format": "promptfoo", "content": broken}, format="json"
    )
    assert answer.status_code == 422
    assert problem(answer)["errors"]["content"][0].startswith("line 5:")
    jsonl = maintainer.post(
        f"{url}import/",
        {"name": "x", "format": "jsonl", "content": '{"vars": {}}\n{oops\n'},
        format="json",
    )
    assert problem(jsonl)["errors"]["content"][0].startswith("line 2: invalid JSON")
    assert not Suite.objects.exists()


@pytest.mark.parametrize("fmt", ["promptfoo", "jsonl"])
def test_export_round_trips(url, maintainer, fmt):
    original = maintainer.post(
        f"{url}import/",
        {"name": "refunds", "format": "promptfoo", "content": PROMPTFOO_YAML},
        format="json",
    ).json()["suite"]
    exported = maintainer.get(f"{url}{original['id']}/export/?format={fmt}")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    text = exported.content.decode()
    if fmt == "promptfoo":
        assert yaml.safe_load(text)["tests"][0]["vars"]["name"] == "Ada"
    again = maintainer.post(
        f"{url}import/", {"name": "again", "format": fmt, "content": text}, format="json"
    ).json()["suite"]

    def shape(suite):
        keys = ("position", "description", "variables", "assertions", "threshold")
        return [{key: case[key] for key in keys} for case in suite["cases"]]

    assert shape(again) == shape(original)


def test_import_warns_of_cases_that_will_not_render_on_the_latest_version(
    url, maintainer, prompt, make_version
):
    make_version(prompt)  # declares `name`
    content = '{"vars": {"name": "Ada"}}\n{"vars": {"nom": "Bob"}}\n'
    body = maintainer.post(
        f"{url}import/", {"name": "vars", "format": "jsonl", "content": content}, format="json"
    ).json()
    assert body["warnings"] == [
        {
            "case": 2,
            "warnings": [
                "Variables do not match the latest version's: missing: name.",
                "Variables do not match the latest version's: unknown: nom.",
            ],
        }
    ]


def test_jsonl_import(url, maintainer):
    content = (
        '{"description": "one", "vars": {"name": "Ada"}, "assert": [{"type": "regex", '
        '"value": "A.a"}], "threshold": 0.5}\n\n{"vars": {"name": "Bob"}, "assert": []}\n'
    )
    body = maintainer.post(
        f"{url}import/", {"name": "lines", "format": "jsonl", "content": content}, format="json"
    ).json()
    assert [c["description"] for c in body["suite"]["cases"]] == ["one", ""]
    assert body["suite"]["cases"][0]["threshold"] == 0.5
    assert body["warnings"] == []


def test_readers_read_writers_write_outsiders_see_nothing(url, maintainer, viewer, prompt):
    suite = create(maintainer, url).json()
    assert viewer.patch(f"{url}{suite['id']}/", {"name": "x"}, format="json").status_code == 403
    assert (
        viewer.post(
            f"{url}import/", {"name": "x", "format": "jsonl", "content": "{}"}, format="json"
        ).status_code
        == 403
    )
    assert viewer.get(f"{url}{suite['id']}/export/?format=jsonl").status_code == 200
    prompt.namespace.visibility = "private"
    prompt.namespace.save()
    outsider = personal_client(UserFactory())
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"{url}{suite['id']}/").status_code == 404
    assert outsider.get(f"{url}99999/").status_code == 404
