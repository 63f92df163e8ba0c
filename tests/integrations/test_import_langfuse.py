"""`manage.py import_langfuse`: Langfuse prompts (an export file, or an instance's public API)
into namespaces, prompts, versions, deployments and promotion requests, through the services."""

import io
import json
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from approvals.models import PromotionRequest
from approvals.services import promotion_approve, promotion_right_grant
from integrations.importers.langfuse import import_prompts, read_api, read_export
from integrations.importers.langfuse.names import target_names
from portal.audit.models import AuditEntry
from portal.models import OutboxMessage
from prompts.models import Deployment, Prompt, PromptVersion
from teams.models import Namespace
from teams.services import team_create, user_create
from teams.tokens import personal_token_create
from tests.live import ROOT, Server, process_environment

pytestmark = pytest.mark.django_db

CONFIG = {"model": "gpt-4o", "temperature": 0.2}


def text(name, version, prompt, labels=(), **extra):
    """A version as Langfuse's GET answers it."""
    tags = ["billing", "Refunds & Returns"]
    entry = {"name": name, "version": version, "type": "text", "prompt": prompt, "tags": tags}
    return entry | {"config": CONFIG, "labels": list(labels), "commitMessage": None} | extra


def chat(name, version, messages, labels=()):
    entry = {"name": name, "version": version, "type": "chat", "prompt": messages}
    return entry | {"config": {}, "labels": list(labels), "tags": []}


GREETER = [
    {"role": "system", "content": "You greet {{customer}}.", "type": "chatmessage"},
    {"role": "user", "content": "Hi"},
]
EXPORT = [
    text("support/refund-reply", 4, "Hello {{name}}", ["production", "latest"]),  # a revert
    text("support/refund-reply", 1, "Hello {{name}}", commitMessage="First reply"),
    text("support/refund-reply", 2, "Hello {{name}}", commitMessage="Same again"),
    text("support/refund-reply", 3, "Hi {{ name }}, order {{order_id}}", ["development"])
    | {"config": None},
    chat("Greeter_Bot", 1, GREETER, ["development"]),
    chat("Greeter_Bot", 2, GREETER[:1], ["staging", "production"]),
    chat("support/with-history", 1, [*GREETER, {"type": "placeholder", "name": "history"}]),
    {"version": 1, "type": "text", "prompt": "nameless"},
    text("support/broken", 1, "Hello {{user.name}}"),
    text("support/qa-only", 1, "Check {{thing}}", ["qa"]),
    text("support/triage", 1, "Triage {{ticket}}", ["staging"]),
    text("support/triage", 2, "Triage {{ticket}} now", ["production"]),
]


@pytest.fixture
def importer(namespace, member_of):
    return member_of(namespace, "owner", username="importer")


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"prompts": EXPORT}))
    return path


def command(export, team) -> list[str]:
    return ["--as", "importer", "--file", str(export), "--team", team.slug, "--namespace", "misc"]


def run(*args) -> tuple[str, bool]:
    out = io.StringIO()
    try:
        call_command("import_langfuse", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + f"\nCommandError: {exc}", False
    return out.getvalue(), True


def import_file(path, importer, **options):
    options = {"team": importer.memberships.get().team, "default_namespace": "misc"} | options
    return import_prompts(actor=importer, prompts=read_export(path), origin=path.name, **options)


def snapshot() -> dict[str, int]:
    models = (Namespace, Prompt, PromptVersion, Deployment, PromotionRequest, AuditEntry)
    return {model.__name__: model.objects.count() for model in (*models, OutboxMessage)}


def test_an_export_lands_every_version_and_label_and_reports_the_rest(export, importer, namespace):
    out, ok = run(*command(export, namespace.team))

    assert not ok  # failed prompts and a refused label: exit status 1
    reply = Prompt.objects.get(namespace__slug="support", name="refund-reply")
    versions = list(reply.versions.order_by("number"))
    imported = "Imported from Langfuse (export.json): support/refund-reply v{}".format
    assert [(v.template, v.variables, v.model_config, v.message) for v in versions] == [
        ("Hello {{name}}", ["name"], CONFIG, "First reply"),
        ("Hi {{ name }}, order {{order_id}}", ["name", "order_id"], {}, imported(3)),  # null
        ("Hello {{name}}", ["name"], CONFIG, imported(4)),  # a revert is a new version
    ]
    assert all(v.author == importer for v in versions)
    assert sorted(reply.tags.values_list("slug", flat=True)) == ["billing", "refunds-returns"]
    deployments = {
        (d.prompt.name, d.environment.slug, d.version.number) for d in Deployment.objects.all()
    }
    assert deployments == {("refund-reply", "development", 2), ("greeter-bot", "development", 1)}
    requests = PromotionRequest.objects.filter(state="pending").order_by("pk")
    assert [
        (r.prompt.name, r.environment.slug, r.version.number, r.state, r.required_approvals)
        for r in requests
    ] == [
        ("greeter-bot", "staging", 2, "pending", 1),
        ("refund-reply", "staging", 3, "pending", 1),  # production's first step
        ("triage", "staging", 1, "pending", 1),  # production's step would supersede it: deferred
    ]
    assert requests[1].requested_by == importer
    assert requests[1].justification == (
        "Imported from Langfuse (export.json): support/refund-reply v4 holds the label "
        "'production' there."
    )
    greeter = Prompt.objects.get(name="greeter-bot")
    assert (greeter.namespace.slug, greeter.kind) == ("misc", "chat")
    assert greeter.namespace.team == namespace.team
    assert greeter.versions.get(number=1).messages == [
        {"role": "system", "content": "You greet {{customer}}."},
        {"role": "user", "content": "Hi"},
    ]
    assert Prompt.objects.get(name="qa-only").versions.count() == 1  # kept; its label refused
    assert not Prompt.objects.filter(name__in=["with-history", "broken"]).exists()
    lines = out.splitlines()
    assert "created   Greeter_Bot → misc/greeter-bot" in lines
    assert "          namespace misc created for team " + namespace.team.slug in lines
    assert "          v2: skipped as v1 (identical to v1 in Langfuse)" in lines
    assert "          v4: created as v3" in lines
    assert any(
        line.startswith("          label production → v3: requested (request #") for line in lines
    )
    assert (
        "          label production → v2: deferred: v2 must run in staging before production, "
        "and staging's label names v1: promote v2 through staging in the portal, then run the "
        "import again"
    ) in lines
    assert "failed    (entry 8)" in lines
    assert any("chat placeholder ('history')" in line for line in lines)
    assert any(
        line.startswith("          error: v1: Invalid placeholder {{user.name}}") for line in lines
    )
    assert any(
        line.startswith("          label qa → v1: refused: No environment 'qa'") for line in lines
    )
    assert next(line for line in lines if line.startswith("prompts: ")) == (
        "prompts: 4 created, 0 updated, 0 unchanged, 3 failed; versions: 8 created, 0 exists, "
        "1 skipped; labels: 2 deployed, 3 requested, 0 held, 1 pending, 1 deferred, 1 refused."
    )
    assert AuditEntry.objects.filter(action="namespace.created", object_id="misc").exists()


def test_a_second_run_changes_nothing(export, importer):
    first = import_file(export, importer)
    before = snapshot()

    second = import_file(export, importer)

    assert snapshot() == before
    by_name = {result.source: result for result in second.results}
    reply = by_name["support/refund-reply"]
    assert reply.status == "unchanged"
    versions = [(v["source"], v["state"], v["target"]) for v in reply.versions]
    assert versions == [(1, "exists", 1), (2, "skipped", 1), (3, "exists", 2), (4, "exists", 3)]
    labels = [(label["label"], label["state"]) for label in reply.labels]
    assert labels == [("development", "held"), ("production", "pending")]
    assert first.summary["prompts"]["created"] == 4
    assert second.summary["versions"]["created"] == 0


def test_a_dry_run_prints_the_plan_and_changes_nothing(export, importer, namespace):
    before = snapshot()

    out, ok = run(*command(export, namespace.team), "--dry-run")

    assert snapshot() == before
    assert not Namespace.objects.filter(slug="misc").exists()
    assert mail.outbox == []
    assert out.startswith("Dry run (nothing changed) of an import from Langfuse (export.json).")
    assert "created   support/refund-reply → support/refund-reply" in out
    assert "          v4: created as v3" in out
    assert not ok  # the same failures as a real run


def test_labels_follow_the_approvals_on_the_next_run(
    export, importer, namespace, environments, staff, member_of
):
    import_file(export, importer)
    greeter = Prompt.objects.get(name="greeter-bot")
    reviewers = [member_of(greeter.namespace, "viewer") for _ in range(2)]
    for person in reviewers:
        for slug in ("staging", "production"):
            right = {"environment": environments[slug], "user": person}
            promotion_right_grant(actor=staff, namespace=greeter.namespace, **right)
    staging = PromotionRequest.objects.get(prompt=greeter, environment__slug="staging")
    promotion_approve(actor=reviewers[0], request=staging, comment="fine")

    report = import_file(export, importer)

    result = next(r for r in report.results if r.source == "Greeter_Bot")
    labels = [(label["label"], label["state"]) for label in result.labels]
    assert labels == [("development", "held"), ("staging", "held"), ("production", "requested")]
    production = PromotionRequest.objects.get(prompt=greeter, environment__slug="production")
    assert (production.state, production.required_approvals, production.version.number) == (
        ("pending", 2, 2)
    )
    assert Deployment.objects.get(prompt=greeter, environment__slug="staging").version.number == 2


def test_a_missing_namespace_without_a_team_fails_that_prompt_only(tmp_path, importer):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([text("support/a-b", 1, "x"), text("sales/pitch", 1, "y")]))

    report = import_file(path, importer, team=None)

    statuses = [(r.source, r.status) for r in report.results]
    assert statuses == [("sales/pitch", "failed"), ("support/a-b", "created")]
    error = "No namespace 'sales': give --team to create the missing namespaces."
    assert report.results[0].errors == [error]
    assert not report.ok


def test_names_map_to_slugs_and_collisions_are_refused():
    mapped = target_names(
        ["support/Refund_Reply", "support/refund-reply", "Ab/B/C d", "plain", "9lives/x", "xy/é"],
        "misc",
    )

    assert mapped["Ab/B/C d"] == ("ab", "b-c-d")
    assert mapped["plain"] == ("misc", "plain")
    assert "would both become support/refund-reply" in mapped["support/Refund_Reply"]
    assert "would both become support/refund-reply" in mapped["support/refund-reply"]
    assert "cannot become a namespace slug" in mapped["9lives/x"]
    assert "cannot become a name slug" in mapped["xy/é"]
    assert "give --namespace" in target_names(["plain"], None)["plain"]


def test_the_api_reader_pages_through_the_list_and_fetches_each_version(httpserver):
    listed = [("support/refund-reply", [1, 2]), ("greeter", [1])]
    for page, (name, versions) in enumerate(listed, start=1):
        httpserver.expect_request(
            "/api/public/v2/prompts", query_string={"page": str(page), "limit": "50"}
        ).respond_with_json(
            {
                "data": [{"name": name, "type": "text", "versions": versions, "labels": []}],
                "meta": {"page": page, "limit": 50, "totalItems": 2, "totalPages": 2},
            }
        )
    for name, number, body in [
        ("support/refund-reply", 1, text("support/refund-reply", 1, "Hello {{name}}")),
        ("support/refund-reply", 2, text("support/refund-reply", 2, "Hi {{name}}")),
    ]:
        httpserver.expect_request(
            f"/api/public/v2/prompts/{name}", query_string={"version": str(number)}
        ).respond_with_json(body)
    httpserver.expect_request("/api/public/v2/prompts/greeter").respond_with_json(
        {"message": "Prompt not found", "error": "LangfuseNotFoundError"}, status=404
    )

    prompts = read_api(httpserver.url_for("/"), "pk-lf-1", "sk-lf-2")

    assert [(p.name, [v.number for v in p.versions]) for p in prompts] == [
        ("greeter", []),
        ("support/refund-reply", [1, 2]),
    ]
    assert prompts[0].problems[0].endswith("answered 404: Prompt not found")
    assert prompts[1].problems == []
    requests = [request for request, _ in httpserver.log]
    assert {request.headers["Authorization"] for request in requests} == {
        "Basic cGstbGYtMTpzay1sZi0y"  # pk-lf-1:sk-lf-2
    }
    assert "/api/public/v2/prompts/support%2Frefund-reply?version=1" in {
        request.environ["REQUEST_URI"] for request in requests
    }


ROW = {"name": "support/refund-reply", "type": "text", "versions": [1], "labels": []}
META = {"page": 1, "limit": 50, "totalItems": 1, "totalPages": 1}


@pytest.mark.parametrize(
    ("page", "complaint"),
    [
        ({"data": [ROW], "meta": []}, "`meta` is not an object"),
        ({"data": [ROW], "meta": {**META, "totalPages": "3"}}, "`meta.totalPages` is not"),
        ({"data": [{**ROW, "versions": 5}], "meta": META}, "`versions` of 'support/refund-reply'"),
        ({"data": [{**ROW, "versions": ["1"]}], "meta": META}, "is not a list of version"),
        ({"data": [ROW, 7], "meta": META}, "a row of `data` is not a prompt"),
        ({"data": [{**ROW, "name": None}], "meta": META}, "a row of `data` is not a prompt"),
        ("[" * 100_000, "did not answer JSON"),
    ],
)
def test_a_source_answering_junk_stops_the_import_with_its_reason(
    httpserver, importer, page, complaint
):
    answer = httpserver.expect_request("/api/public/v2/prompts")
    if isinstance(page, str):
        answer.respond_with_data(page, content_type="application/json")
    else:
        answer.respond_with_json(page)
    source = ["--url", httpserver.url_for("/"), "--public-key", "pk", "--secret-key", "sk"]
    before = snapshot()

    out, ok = run("--as", "importer", "--namespace", "misc", *source)

    assert not ok
    assert complaint in out, out
    assert snapshot() == before


# The source portal's prompts, written through its services (run with `manage.py shell -c`).
SEED = """
from django.contrib.auth import get_user_model
from approvals.services import promotion_request
from prompts.models import Environment
from prompts.services import prompt_create, version_create
from teams.models import Team
from teams.services.namespaces import namespace_create
admin = get_user_model().objects.get(username="langfuse-admin")
support = namespace_create(actor=admin, slug="support", team=Team.objects.get(slug="source"))
reply = prompt_create(actor=admin, namespace=support, name="refund-reply", tags=["billing"])
version_create(prompt=reply, author=admin, template="Hello {{name}}", variables=["name"],
               model_config={"model": "gpt-4o", "temperature": 0.3}, message="First reply")
second = version_create(prompt=reply, author=admin, template="Hi {{name}}, {{order_id}}",
                        variables=["name", "order_id"], message="Mention the order")
promotion_request(actor=admin, prompt=reply, version=second,
                  environment=Environment.objects.get(slug="development"), justification="seed")
greeter = prompt_create(actor=admin, namespace=support, name="greeter", kind="chat")
version_create(prompt=greeter, author=admin, message="Greet",
               messages=[{"role": "system", "content": "Greet {{customer}}."}],
               variables=["customer"])
"""


def _maintenance(db: dict) -> psycopg.Connection:
    server = {"host": db["HOST"], "port": db["PORT"] or None, "user": db["USER"]}
    password = db["PASSWORD"] or None
    return psycopg.connect(**server, password=password, dbname="postgres", autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_an_import_from_this_portals_langfuse_api_on_a_second_database(staff):
    # Given a Langfuse-compatible source: this portal on a clone of the test database, where
    # an admin's personal token exists and prompts are then written through the services.
    admin = user_create(
        actor=staff, username="langfuse-admin", password="a long source pass 42", is_staff=True
    )
    token, secret = personal_token_create(actor=admin, name="import")
    team = team_create(actor=staff, slug="source", name="Source")
    database = connection.settings_dict
    clone = f"import_source_{uuid.uuid4().hex[:12]}"
    connection.close()
    with _maintenance(database) as maintenance:
        # A template must have no other session: a server or thread of an earlier test in this
        # worker may still hold one while it shuts down.
        maintenance.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [database["NAME"]],
        )
        maintenance.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{database["NAME"]}"')
    env = process_environment(
        settings.REDIS_URL,
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{clone}"
        ),
        CACHE_KEY_PREFIX=f"{settings.CACHES['default']['KEY_PREFIX']}-source",
    )
    server = seed = None
    try:
        shell = [sys.executable, "manage.py", "shell", "-c", SEED]
        # It writes while the server starts (the server reads per request).
        output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        seed = subprocess.Popen(shell, cwd=ROOT, env=env, **output)
        server = Server(env).start()
        output, _ = seed.communicate(timeout=60)
        assert seed.returncode == 0, output.decode()
        keys = ["--public-key", token.prefix, "--secret-key", secret]
        args = ["--as", "staff-user", "--url", server.url, *keys, "--team", team.slug]

        # When it is imported into the test database, twice
        first, first_ok = run(*args)
        before = snapshot()
        second, second_ok = run(*args)
        paged = read_api(server.url, token.prefix, secret, page_size=1)
        refused, refused_ok = run(*args[:-4], "--public-key", token.prefix, "--secret-key", "x")
    finally:
        if seed is not None and seed.poll() is None:
            seed.kill()
        if server is not None:
            server.stop()
        with _maintenance(database) as maintenance:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')

    # Then every version landed in order, with its message and config, and its label
    assert first_ok, first
    reply = Prompt.objects.get(namespace__slug="support", name="refund-reply")
    assert reply.namespace.team == team
    config = {"model": "gpt-4o", "temperature": 0.3}  # v2 inherited it there: explicit here
    versions = reply.versions.order_by("number")
    assert [(v.number, v.template, v.message, v.model_config) for v in versions] == [
        (1, "Hello {{name}}", "First reply", config),
        (2, "Hi {{name}}, {{order_id}}", "Mention the order", config),
    ]
    assert list(reply.tags.values_list("slug", flat=True)) == ["billing"]
    assert Deployment.objects.get(prompt=reply, environment__slug="development").version.number == 2
    greeter = Prompt.objects.get(name="greeter")
    messages = [{"role": "system", "content": "Greet {{customer}}."}]
    assert (greeter.kind, greeter.versions.get().messages) == ("chat", messages)
    assert all(v.author == staff for v in PromptVersion.objects.all())
    assert f"Import from Langfuse ({server.url})." in first
    # and the second run changed nothing; the list pages; a wrong secret is refused
    assert second_ok, second
    assert snapshot() == before
    assert "prompts: 0 created, 0 updated, 2 unchanged, 0 failed" in second
    listed = [(p.name, [v.number for v in p.versions]) for p in paged]
    assert listed == [("support/greeter", [1]), ("support/refund-reply", [1, 2])]
    assert not refused_ok
    assert "answered 401" in refused
