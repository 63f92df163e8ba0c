"""Prompts as code, end to end: promotion requests that need the usual approvals, export then
sync as a no-op, and the management commands' output and exit status."""

import io

import pytest
from django.core.management import CommandError, call_command

from approvals.models import PromotionRequest
from approvals.services import promotion_approve, promotion_right_grant
from approvals.sync import prompts_export, prompts_sync, read_folder
from portal.audit.models import AuditEntry
from portal.errors import Invalid
from prompts.evaluations.suites import suite_import
from prompts.models import Deployment, Prompt, PromptVersion
from prompts.services import prompt_create, version_create
from tests.test_sync import GREETER, REPLY, SUITE, snapshot, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path, namespace):
    return write(tmp_path, {"support/refund-reply.yaml": REPLY, "support/greeter.yml": GREETER})


@pytest.fixture
def reviewers(namespace, environments, staff, member_of):
    """Two viewers of the team holding the staging and production rights."""
    people = [member_of(namespace, "viewer") for _ in range(2)]
    for person in people:
        for slug in ("staging", "production"):
            promotion_right_grant(
                actor=staff, namespace=namespace, environment=environments[slug], user=person
            )
    return people


def promote(actor, folder, environment):
    return prompts_sync(
        actor=actor,
        files=read_folder(folder),
        promote=environment,
        justification=f"CI: merged to main, to {environment}",
    )


def test_promote_opens_requests_that_need_the_usual_approvals(folder, author, reviewers):
    report = promote(author, folder, "staging")

    promotions = [result.promotion for result in report.results]
    assert [p["status"] for p in promotions] == ["pending", "pending"]
    assert all(p["opened"] and p["required_approvals"] == 1 for p in promotions)
    requests = PromotionRequest.objects.order_by("pk")
    assert [(r.requested_by, r.version.number, r.environment.slug) for r in requests] == [
        (author, 1, "staging"),
        (author, 1, "staging"),
    ]
    assert requests[0].justification == "CI: merged to main, to staging"
    assert not Deployment.objects.exists()
    # Unchanged files whose version waits for approval: no second request.
    again = promote(author, folder, "staging")
    assert [r.promotion["status"] for r in again.results] == ["pending", "pending"]
    assert not any(r.promotion["opened"] for r in again.results)
    assert PromotionRequest.objects.count() == 2

    for request in requests:
        promotion_approve(actor=reviewers[0], request=request, comment="fine")
    assert Deployment.objects.filter(environment__slug="staging").count() == 2
    assert [r.promotion["status"] for r in promote(author, folder, "staging").results] == [
        "deployed",
        "deployed",
    ]

    to_production = promote(author, folder, "production")

    assert [r.status for r in to_production.results] == ["unchanged", "unchanged"]
    assert [r.promotion["required_approvals"] for r in to_production.results] == [2, 2]
    request = PromotionRequest.objects.get(pk=to_production.results[1].promotion["request"])
    promotion_approve(actor=reviewers[0], request=request)
    request.refresh_from_db()
    assert request.state == "pending"  # production needs two approvals
    promotion_approve(actor=reviewers[1], request=request)
    request.refresh_from_db()
    assert request.state == "applied"


def test_a_changed_file_is_proposed_and_supersedes_the_older_request(folder, author, reviewers):
    first = promote(author, folder, "staging").results[1].promotion["request"]
    reply = folder / "support/refund-reply.yaml"
    reply.write_text(reply.read_text().replace("Hello", "Hi"))

    result = promote(author, folder, "staging").results[1]

    assert (result.status, result.version, result.promotion["version"]) == ("updated", 2, 2)
    assert PromotionRequest.objects.get(pk=first).state == "superseded"


def test_a_refused_promotion_is_reported_and_keeps_the_version(folder, author, reviewers):
    report = promote(author, folder, "production")  # not yet in staging

    result = report.results[1]
    assert (result.status, result.version) == ("created", 1)
    assert result.promotion["status"] == "failed"
    assert result.promotion["code"] == "environment_order"
    assert not report.ok
    assert PromptVersion.objects.count() == 2
    assert not PromotionRequest.objects.exists()


def test_promote_is_checked_before_any_file(folder, author):
    with pytest.raises(Invalid, match="No environment"):
        promote(author, folder, "moon")
    with pytest.raises(Invalid, match="justification"):
        prompts_sync(actor=author, files=read_folder(folder), promote="staging")
    assert not Prompt.objects.exists()


def test_export_then_sync_is_a_no_op(tmp_path, namespace, author):
    text = prompt_create(
        actor=author,
        namespace=namespace,
        name="refund-reply",
        description="Refunds",
        tags=["billing"],
    )
    version_create(prompt=text, author=author, template="Hi {{name}}", variables=["name"])
    version_create(
        prompt=text,
        author=author,
        template="Hello {{name}}\n  with  spaces \nand a tail   \n",
        variables=["name"],
        model_config={"model": "local", "temperature": 0.5, "stop": ["\n"]},
        message="Second: multi-line",
    )
    chat = prompt_create(actor=author, namespace=namespace, name="greeter", kind="chat")
    version_create(
        prompt=chat,
        author=author,
        messages=[
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "{{ q }}"},
        ],
        template_format="jinja2",
        variables=["q"],
    )
    suite_import(actor=author, prompt=text, name="smoke tests", format="promptfoo", content=SUITE)
    prompt_create(actor=author, namespace=namespace, name="empty")  # no version: not exported
    out = io.StringIO()

    call_command("prompts_export", str(tmp_path), "--namespace", "support", stdout=out)

    assert "Wrote 2 prompts (3 files)" in out.getvalue()
    assert sorted(p.name for p in (tmp_path / "support").iterdir()) == [
        "greeter.yaml",
        "refund-reply.smoke-tests.promptfoo.yaml",
        "refund-reply.yaml",
    ]
    exported = (tmp_path / "support/refund-reply.yaml").read_text()
    assert "template: |" in exported or 'template: "' in exported
    assert "suites:\n  smoke tests: refund-reply.smoke-tests.promptfoo.yaml" in exported
    before = snapshot()

    report = prompts_sync(actor=author, files=read_folder(tmp_path))

    assert [r.status for r in report.results] == ["unchanged", "unchanged"]
    assert report.results[1].suites[0]["status"] == "unchanged"
    assert snapshot() == before


def test_the_sync_command_prints_a_report_and_exits_non_zero_on_invalid_files(
    folder, author, reviewers
):
    out = io.StringIO()
    call_command("prompts_sync", str(folder), "--as", "author", stdout=out)
    assert "created   support/refund-reply.yaml  support/refund-reply v1" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == (
        "2 created, 0 updated, 0 unchanged, 0 invalid, 0 promotions opened, 0 promotions failed."
    )
    write(folder, {"support/zz-bad.yaml": "namespace: support\nname: zz\nkind: poem\n"})
    audit_before = AuditEntry.objects.count()

    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(
            "prompts_sync",
            str(folder),
            "--as=author",
            "--dry-run",
            "--promote=staging",
            "--justification=ship it",
            stdout=out,
        )

    assert failure.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert "invalid   support/zz-bad.yaml" in lines
    assert "          kind: Input should be 'text' or 'chat'" in lines
    assert "          promotion: v1 to staging: pending" in lines[1]
    assert lines[-1].startswith("Dry run (nothing changed): 0 created, 0 updated, 2 unchanged")
    assert AuditEntry.objects.count() == audit_before
    assert not PromotionRequest.objects.exists()


def test_export_makes_the_same_few_queries_for_many_prompts(
    namespace, author, django_assert_max_num_queries
):
    for index in range(40):
        prompt = prompt_create(
            actor=author, namespace=namespace, name=f"p{index}", tags=["billing", f"t{index}"]
        )
        for number in range(3):
            version_create(prompt=prompt, author=author, template=f"v{number} of {index}")
        if index % 2:
            suite_import(
                actor=author, prompt=prompt, name="smoke", format="promptfoo", content=SUITE
            )
    prompt_create(actor=author, namespace=namespace, name="empty")  # no version: not exported

    with django_assert_max_num_queries(8):
        as_author = prompts_export(actor=author)
    with django_assert_max_num_queries(8):
        everything = prompts_export()

    assert as_author == everything
    assert len([f for f in everything if not f.path.endswith(".promptfoo.yaml")]) == 40
    assert "template: v2 of 7" in next(f.content for f in everything if f.path == "support/p7.yaml")


def test_the_sync_command_reports_a_file_that_is_not_utf8_and_syncs_the_others(folder, author):
    (folder / "support/latin1.yaml").write_bytes("name: café\n".encode("latin-1"))
    out = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("prompts_sync", str(folder), "--as", "author", stdout=out)

    assert failure.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[1:3] == [
        "invalid   support/latin1.yaml",
        "          file: support/latin1.yaml is not UTF-8 text; save it as UTF-8.",
    ]
    assert lines[-1].startswith("2 created, 0 updated, 0 unchanged, 1 invalid")
    assert Prompt.objects.count() == 2


def test_the_sync_command_names_its_user(folder):
    with pytest.raises(CommandError, match="No active user named 'ghost'"):
        call_command("prompts_sync", str(folder), "--as", "ghost")
    with pytest.raises(CommandError, match="the following arguments are required: --as"):
        call_command("prompts_sync", str(folder))
