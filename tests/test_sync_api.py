"""POST /api/v1/sync/: the report, dry run, refusals of the whole request, per-file refusals."""

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.models import PromotionRequest
from approvals.sync.files import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES
from prompts.models import Prompt, PromptVersion
from teams.tokens import personal_token_create
from tests.api.conftest import bearer, personal_client, problem, service_client
from tests.test_sync import GREETER, REPLY, SUITE, snapshot

pytestmark = pytest.mark.django_db

FILES = [
    {"path": "support/refund-reply.yaml", "content": REPLY},
    {"path": "support/greeter.yml", "content": GREETER},
]


@pytest.fixture
def url():
    return reverse("api-sync")


def test_sync_answers_the_report_per_file(url, author):
    client = personal_client(author)
    files = [
        {**FILES[0], "content": REPLY + "suites: {smoke: smoke.promptfoo.yaml}\n"},
        FILES[1],
        {"path": "support/smoke.promptfoo.yaml", "content": SUITE},
        {"path": "support/broken.yaml", "content": "namespace: support\n"},
    ]

    response = client.post(url, {"files": files}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert body["summary"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "invalid": 1,
        "promotions_opened": 0,
        "promotions_failed": 0,
    }
    broken, greeter, reply = body["results"]
    assert broken["errors"] == {"name": ["Field required"]}
    assert (greeter["status"], greeter["prompt"], greeter["version"]) == (
        "created",
        "support/greeter",
        1,
    )
    assert reply["suites"][0]["status"] == "created"
    assert reply["sha256"] == PromptVersion.objects.get(prompt__name="refund-reply").sha256

    again = client.post(url, {"files": files[:3], "dry_run": False}, format="json").json()
    assert again["ok"] is True
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]


def test_a_dry_run_with_promotion_changes_nothing(url, author):
    client = personal_client(author)
    before = snapshot()
    body = {"files": FILES, "dry_run": True, "promote": "staging", "justification": "CI"}

    response = client.post(url, body, format="json")

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["status"], r["promotion"]["status"]) for r in results] == [
        ("created", "pending")
    ] * 2
    assert response.json()["dry_run"] is True
    assert snapshot() == before
    assert not PromotionRequest.objects.exists()


def test_a_user_who_may_not_edit_gets_each_file_refused(url, namespace, member_of):
    viewer = member_of(namespace, "viewer")

    response = personal_client(viewer).post(url, {"files": FILES}, format="json")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["code"] for r in results] == ["permission_denied", "permission_denied"]
    assert not Prompt.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"files": "support/x.yaml"}, "files"),
        ({"files": [{"path": "x.yaml"}]}, "files.0.content"),
        ({"files": [{"path": "../x.yaml", "content": REPLY}]}, "path"),
        ({"files": [{"path": "/etc/x.yaml", "content": REPLY}]}, "path"),
        ({"files": [{"path": "x.txt", "content": REPLY}]}, "path"),
        ({"files": [FILES[0], FILES[0]]}, "files"),
        ({"files": FILES, "dry_run": "maybe"}, "dry_run"),
    ],
)
def test_a_malformed_request_is_a_400_problem(url, author, body, field):
    response = personal_client(author).post(url, body, format="json")

    assert response.status_code == 400, response.content
    assert field in problem(response)["errors"]
    assert not Prompt.objects.exists()


def test_limits_are_a_413_problem(url, author):
    client = personal_client(author)
    many = [{"path": f"p{i}.yaml", "content": "x: 1"} for i in range(MAX_FILES + 1)]
    huge = [{"path": "big.yaml", "content": "x: " + "y" * MAX_FILE_BYTES}]

    too_many = client.post(url, {"files": many}, format="json")
    too_big = client.post(url, {"files": huge}, format="json")

    assert too_many.status_code == 413
    assert problem(too_many)["detail"] == f"At most {MAX_FILES} files per sync; got {len(many)}."
    assert too_big.status_code == 413
    assert "big.yaml" in problem(too_big)["detail"]


def test_promote_needs_a_known_environment_and_a_justification(url, author):
    client = personal_client(author)

    unknown = client.post(
        url, {"files": FILES, "promote": "moon", "justification": "x"}, format="json"
    )
    unjustified = client.post(url, {"files": FILES, "promote": "staging"}, format="json")

    assert unknown.status_code == 422
    assert problem(unknown)["errors"] == {"promote": ["No environment 'moon'."]}
    assert unjustified.status_code == 422
    assert "justification" in problem(unjustified)["errors"]
    assert not Prompt.objects.exists()


def test_only_people_sync(url, namespace, staff):
    service = service_client(actor=staff, namespaces=[namespace])

    assert APIClient().post(url, {"files": FILES}, format="json").status_code == 401
    assert service.post(url, {"files": FILES}, format="json").status_code == 403
    assert not Prompt.objects.exists()


def test_a_scoped_token_needs_promotions_request_to_promote(url, namespace, author):
    _, writer = personal_token_create(actor=author, name="ci", scopes=["versions:write"])
    _, reader = personal_token_create(actor=author, name="reader", scopes=["read"])
    _, both = personal_token_create(
        actor=author, name="ci", scopes=["versions:write", "promotions:request"]
    )
    promote = {"files": FILES, "promote": "staging", "justification": "CI"}

    refused = bearer(writer).post(url, promote, format="json")
    read_only = bearer(reader).post(url, {"files": FILES}, format="json")

    assert refused.status_code == 403
    assert problem(refused)["code"] == "token_scope"
    assert read_only.status_code == 403
    assert not Prompt.objects.exists()
    written = bearer(writer).post(url, {"files": FILES}, format="json")
    assert written.status_code == 200, written.content
    promoted = bearer(both).post(url, promote, format="json").json()
    assert promoted["summary"]["promotions_opened"] == 2


def test_the_advertised_total_fits_the_body_limit_and_beyond_is_a_clean_413(url, author):
    client = personal_client(author)
    per_file = MAX_FILE_BYTES
    # Suite files no prompt names are checked against the limits and not parsed.
    full = [
        {"path": f"s{i}.promptfoo.yaml", "content": "#" * per_file}
        for i in range(MAX_TOTAL_BYTES // per_file)
    ]
    over_total = [*full, {"path": "one-more.promptfoo.yaml", "content": "#"}]
    over_body = [
        {"path": f"s{i}.promptfoo.yaml", "content": "#" * per_file}
        for i in range(settings.DATA_UPLOAD_MAX_MEMORY_SIZE // per_file + 1)
    ]

    at_limit = client.post(url, {"files": full, "dry_run": True}, format="json")
    beyond_total = client.post(url, {"files": over_total, "dry_run": True}, format="json")
    beyond_body = client.post(url, {"files": over_body, "dry_run": True}, format="json")

    assert MAX_TOTAL_BYTES < settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert at_limit.status_code == 200, at_limit.content
    assert beyond_total.status_code == 413
    assert problem(beyond_total)["code"] == "too_large"
    assert problem(beyond_total)["detail"] == (
        f"The files hold {MAX_TOTAL_BYTES + 1} bytes; at most {MAX_TOTAL_BYTES} per sync."
    )
    assert beyond_body.status_code == 413
    assert problem(beyond_body)["code"] == "body_too_large"


def test_a_file_marked_not_utf8_is_reported_invalid_and_the_others_sync(url, author):
    files = [*FILES, {"path": "support/latin1.yaml", "content": "", "not_utf8": True}]

    response = personal_client(author).post(url, {"files": files}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert [(r["path"], r["status"]) for r in body["results"]] == [
        ("support/greeter.yml", "created"),
        ("support/latin1.yaml", "invalid"),
        ("support/refund-reply.yaml", "created"),
    ]
    assert body["results"][1]["code"] == "invalid_text"
    assert body["results"][1]["errors"] == {
        "file": ["support/latin1.yaml is not UTF-8 text; save it as UTF-8."]
    }


def test_a_read_only_token_may_dry_run_and_is_refused_a_real_sync(url, author):
    # teams.scopes maps the endpoint to `read`; the view asks `versions:write` unless dry run.
    _, secret = personal_token_create(actor=author, name="pull requests", scopes=["read"])
    reader = bearer(secret)
    before = snapshot()

    plan = reader.post(url, {"files": FILES, "dry_run": True}, format="json")
    real = reader.post(url, {"files": FILES}, format="json")
    promote = {"files": FILES, "dry_run": True, "promote": "staging", "justification": "CI"}
    plan_promotion = reader.post(url, promote, format="json")

    assert plan.status_code == 200, plan.content
    assert [r["status"] for r in plan.json()["results"]] == ["created", "created"]
    assert real.status_code == 403
    assert problem(real)["code"] == "token_scope"
    assert "versions:write" in problem(real)["detail"]
    assert plan_promotion.status_code == 403
    assert "promotions:request" in problem(plan_promotion)["detail"]
    assert snapshot() == before
