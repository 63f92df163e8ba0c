"""Prompts as code: `approvals.sync` and the prompts_sync / prompts_export commands."""

import textwrap
from pathlib import Path

import pytest

from approvals.models import PromotionRequest
from approvals.sync import prompts_sync, read_folder
from portal.audit.models import AuditEntry
from portal.models import OutboxMessage
from prompts.evaluations.models import Case, Suite
from prompts.models import Prompt, PromptVersion
from tests.factories import MembershipFactory, NamespaceFactory, UserFactory

pytestmark = pytest.mark.django_db

REPLY = """\
namespace: support
name: refund-reply
description: Answers a refund request.
tags: [billing, refunds]
variables: [name]
model_config: {model: gpt-4o-mini, temperature: 0.2}
template: |
  Hello {{name}},
  your refund is on its way.
message: First reply
"""
GREETER = """\
namespace: support
name: greeter
kind: chat
template_format: jinja2
variables: [user]
messages:
  - {role: system, content: You are kind.}
  - {role: user, content: "Hi, I am {{ user }}"}
"""
SUITE = """\
description: The promises we make
tests:
  - description: names the customer
    vars: {name: Ada}
    assert:
      - {type: icontains, value: ada}
  - vars: {name: Bob}
    assert:
      - {type: contains, value: refund}
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for path, content in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(textwrap.dedent(content))
    return folder


def sync(actor, folder: Path, **kwargs):
    return prompts_sync(actor=actor, files=read_folder(folder), **kwargs)


def statuses(report) -> dict[str, str]:
    return {result.path: result.status for result in report.results}


def snapshot() -> dict[str, int]:
    models = (Prompt, PromptVersion, Suite, Case, AuditEntry, PromotionRequest, OutboxMessage)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def folder(tmp_path, namespace):
    return write(tmp_path, {"support/refund-reply.yaml": REPLY, "support/greeter.yml": GREETER})


def test_first_sync_creates_and_a_second_run_changes_nothing(folder, author):
    report = sync(author, folder)

    assert statuses(report) == {
        "support/greeter.yml": "created",
        "support/refund-reply.yaml": "created",
    }
    assert report.ok
    reply = PromptVersion.objects.get(prompt__name="refund-reply")
    assert (reply.number, reply.author, reply.message) == (1, author, "First reply")
    assert reply.template == "Hello {{name}},\nyour refund is on its way.\n"
    assert reply.model_config == {"model": "gpt-4o-mini", "temperature": 0.2}
    prompt = Prompt.objects.get(name="refund-reply")
    assert sorted(prompt.tags.values_list("slug", flat=True)) == ["billing", "refunds"]
    greeter = PromptVersion.objects.get(prompt__name="greeter")
    assert greeter.message == "Synced from support/greeter.yml"  # no message: the path
    assert greeter.template_format == "jinja2"
    actions = list(AuditEntry.objects.values_list("action", flat=True).order_by("seq"))
    assert actions[-4:] == ["prompt.created", "version.created"] * 2
    before = snapshot()

    again = sync(author, folder)

    assert set(statuses(again).values()) == {"unchanged"}
    assert [r.version for r in again.results] == [1, 1]
    assert [r.sha256 for r in again.results] == [r.sha256 for r in report.results]
    assert snapshot() == before


def test_one_new_version_per_changed_file(folder, author):
    sync(author, folder)
    reply = folder / "support/refund-reply.yaml"
    reply.write_text(reply.read_text().replace("Hello", "Hi").replace("First", "Shorter"))
    audit_before = AuditEntry.objects.count()

    report = sync(author, folder)

    changed, same = report.results[1], report.results[0]
    assert (changed.status, changed.previous_version, changed.version) == ("updated", 1, 2)
    assert changed.changes == ["version"]
    assert (same.status, same.version) == ("unchanged", 1)
    newest = PromptVersion.objects.get(prompt__name="refund-reply", number=2)
    assert (newest.message, newest.parent.number) == ("Shorter reply", 1)
    assert PromptVersion.objects.count() == 3
    assert list(
        AuditEntry.objects.filter(seq__gt=audit_before).values_list("action", flat=True)
    ) == ["version.created"]
    assert sync(author, folder).summary["unchanged"] == 2


def test_description_and_tags_follow_the_file_without_a_version(folder, author):
    sync(author, folder)
    reply = folder / "support/refund-reply.yaml"
    reply.write_text(reply.read_text().replace("[billing, refunds]", "[billing]"))

    (result,) = [r for r in sync(author, folder).results if r.status != "unchanged"]

    assert (result.status, result.changes, result.version) == ("updated", ["tags"], 1)
    assert list(Prompt.objects.get(name="refund-reply").tags.values_list("slug", flat=True)) == [
        "billing"
    ]


def test_invalid_files_are_reported_and_the_others_still_sync(tmp_path, namespace, author):
    folder = write(
        tmp_path,
        {
            "a-broken.yaml": "namespace: support\nname: [unclosed\n",
            "b-unknown-key.yaml": REPLY.replace("refund-reply", "typo").replace(
                "message:", "mesage:"
            ),
            "c-mismatch.yaml": REPLY.replace("refund-reply", "mismatch").replace(
                "[name]", "[name, order]"
            ),
            "d-bad-suite.yaml": REPLY.replace("refund-reply", "with-bad-suite")
            + "suites: {smoke: d.promptfoo.yaml}\n",
            "d.promptfoo.yaml": "tests: 7\n",
            "e-missing-suite.yaml": REPLY.replace("refund-reply", "lonely")
            + "suites: {smoke: nowhere.promptfoo.yaml}\n",
            "f-nowhere.yaml": REPLY.replace("namespace: support", "namespace: nowhere"),
            "g-fine.yaml": REPLY,
        },
    )

    report = sync(author, folder)

    results = {result.path: result for result in report.results}
    assert [r.status for r in report.results] == ["invalid"] * 6 + ["created"]
    assert "d.promptfoo.yaml" not in results  # suite files are read through their prompt
    assert "line 3" in results["a-broken.yaml"].errors["file"][0]
    assert results["b-unknown-key.yaml"].errors == {"mesage": ["Unknown key."]}
    assert results["c-mismatch.yaml"].code == "variables_mismatch"
    assert "tests: must be a list" in results["d-bad-suite.yaml"].errors["content"][0]
    assert results["d-bad-suite.yaml"].prompt == "support/with-bad-suite"
    assert "nowhere.promptfoo.yaml" in results["e-missing-suite.yaml"].errors["suites"][0]
    assert results["f-nowhere.yaml"].code == "not_found"
    assert not report.ok
    # Nothing half-written: the file whose suite failed left no prompt and no version.
    assert list(Prompt.objects.values_list("name", flat=True)) == ["refund-reply"]
    assert not AuditEntry.objects.filter(object_id__contains="with-bad-suite").exists()


def test_dry_run_reports_the_plan_and_changes_nothing(folder, author):
    sync(author, folder)
    reply = folder / "support/refund-reply.yaml"
    reply.write_text(reply.read_text().replace("Hello", "Hi") + "suites: {smoke: s.promptfoo.yaml}")
    write(
        folder,
        {"support/s.promptfoo.yaml": SUITE, "support/new.yaml": REPLY.replace("refund-", "")},
    )
    before = snapshot()

    plan = sync(author, folder, dry_run=True)

    assert snapshot() == before
    assert statuses(plan) == {
        "support/greeter.yml": "unchanged",
        "support/new.yaml": "created",
        "support/refund-reply.yaml": "updated",
    }
    assert plan.results[2].changes == ["version", "suite smoke"]
    assert plan.results[2].version == 2
    real = sync(author, folder)
    assert [r.as_dict() for r in real.results] == [r.as_dict() for r in plan.results]
    assert snapshot() != before


def test_suites_beside_a_prompt_are_imported_once_and_follow_their_file(folder, author):
    reply = folder / "support/refund-reply.yaml"
    reply.write_text(reply.read_text() + "suites:\n  smoke: refund-reply.smoke.promptfoo.yaml\n")
    write(folder, {"support/refund-reply.smoke.promptfoo.yaml": SUITE})

    first = sync(author, folder).results[1]

    assert first.suites == [
        {
            "name": "smoke",
            "path": "support/refund-reply.smoke.promptfoo.yaml",
            "status": "created",
            "cases": 2,
            "warnings": [],
        }
    ]
    suite = Suite.objects.get(name="smoke")
    assert suite.description == "The promises we make"
    before = snapshot()
    assert sync(author, folder).results[1].suites[0]["status"] == "unchanged"
    assert snapshot() == before

    suite_file = folder / "support/refund-reply.smoke.promptfoo.yaml"
    suite_file.write_text(SUITE.replace("value: refund", "value: money"))
    changed = sync(author, folder).results[1]

    assert (changed.status, changed.changes) == ("updated", ["suite smoke"])
    assert changed.suites[0]["status"] == "updated"
    assert [c.assertions[0]["value"] for c in suite.cases.order_by("position")] == ["ada", "money"]
    new_entries = AuditEntry.objects.filter(seq__gt=max(0, before["AuditEntry"]))
    assert list(new_entries.values_list("action", flat=True).order_by("seq"))[-1] == "case.changed"


def test_a_user_who_may_not_edit_is_refused_per_file(folder, namespace, member_of):
    viewer = member_of(namespace, "viewer")
    MembershipFactory(team=NamespaceFactory(slug="viewers-own").team, user=viewer)
    write(folder, {"own/mine.yaml": REPLY.replace("namespace: support", "namespace: viewers-own")})

    report = sync(viewer, folder)

    assert statuses(report) == {
        "own/mine.yaml": "created",
        "support/greeter.yml": "invalid",
        "support/refund-reply.yaml": "invalid",
    }
    refused = report.results[2]
    assert refused.code == "permission_denied"
    assert "maintainers and owners" in refused.errors["file"][0]
    assert not Prompt.objects.filter(namespace__slug="support").exists()


def test_hostile_yaml_is_an_invalid_file_not_a_crash(tmp_path, namespace, author):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    folder = write(
        tmp_path,
        {
            "alias-bomb.yaml": bomb,
            "deep.yaml": "[" * 5000,
            "deep-suite.yaml": REPLY + "suites: {smoke: deep.promptfoo.yaml}\n",
            "deep.promptfoo.yaml": "tests: " + "[" * 5000,
            "date.yaml": REPLY.replace(
                "description: Answers a refund request.", "description: 2026-01-01"
            ),
        },
    )

    report = sync(author, folder)

    assert [r.status for r in report.results] == ["invalid"] * 4
    errors = {r.path: r.errors for r in report.results}
    assert "more than 100000 values" in errors["alias-bomb.yaml"]["file"][0]
    assert "nests deeper" in errors["deep.yaml"]["file"][0]
    assert "nests too deeply" in errors["deep-suite.yaml"]["content"][0]
    assert "date values are not supported" in errors["date.yaml"]["file"][0]
    assert not Prompt.objects.exists()


def test_a_file_that_is_not_utf8_is_invalid_and_the_others_still_sync(folder, author):
    latin1 = REPLY.replace("refund-reply", "café").replace("Hello", "Grüß").encode("latin-1")
    (folder / "support/latin1.yaml").write_bytes(latin1)
    (folder / "support/latin1.promptfoo.yaml").write_bytes("tests: []  # é".encode("latin-1"))
    write(
        folder,
        {
            "support/with-suite.yaml": REPLY.replace("refund-reply", "with-suite")
            + "suites: {smoke: latin1.promptfoo.yaml}\n"
        },
    )

    report = sync(author, folder)

    assert statuses(report) == {
        "support/greeter.yml": "created",
        "support/latin1.yaml": "invalid",
        "support/refund-reply.yaml": "created",
        "support/with-suite.yaml": "invalid",
    }
    unreadable, with_suite = report.results[1], report.results[3]
    assert (unreadable.code, unreadable.prompt) == ("invalid_text", None)
    assert unreadable.errors == {
        "file": ["support/latin1.yaml is not UTF-8 text; save it as UTF-8."]
    }
    assert with_suite.errors == {
        "suites": ["support/latin1.promptfoo.yaml is not UTF-8 text; save it as UTF-8."]
    }
    assert not report.ok
    assert sorted(Prompt.objects.values_list("name", flat=True)) == ["greeter", "refund-reply"]


def test_another_teams_internal_namespace_is_refused_even_when_unchanged(folder, author):
    sync(author, folder)
    outsider = UserFactory()  # the namespace is internal: they may read it, not edit it
    before = snapshot()

    for dry_run in (True, False):
        report = sync(outsider, folder, dry_run=dry_run)

        assert set(statuses(report).values()) == {"invalid"}
        assert {r.code for r in report.results} == {"permission_denied"}
        assert "maintainers and owners of" in report.results[0].errors["file"][0]
        assert not report.ok
    assert snapshot() == before
