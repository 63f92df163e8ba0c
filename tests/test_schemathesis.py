"""Schemathesis against a live gunicorn server on the suite's PostgreSQL and Redis, reading the
schema the server serves: once with a staff person's personal token, once with a viewer's.

Every answer must be no 5xx, carry a documented status code and content type, match the
schema of that status, and never be a 429 (the callers are valid and slow). The schema's
request examples are sent first; path parameters and some body fields name objects of a small
seeded world (so operations on one object reach it, not only its 404). Examples per operation
are bounded and generation is deterministic (hypothesis derandomized), so a failure reproduces
on the next run and in CI; the failure report names each case with a curl line."""

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from approvals.services import promotion_request, promotion_right_grant
from prompts.lifecycle import prompt_deprecate, prompt_retire
from prompts.models import Environment, Prompt, PromptVersion
from prompts.services import deployment_set, version_create
from teams.tokens import personal_token_create, service_token_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)
from tests.live import BIN, Server, process_environment

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "valid_token_not_throttled",  # tests/schemathesis_hooks.py
]
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
MAX_EXAMPLES = 10
# Who fuzzes (each run on a world of its own, in its own file), and with which phases. The
# coverage phase sends each operation's boundary and invalid inputs (about 2,000 requests, most
# of the time); input validation answers a viewer as it answers staff, so it runs once, as
# staff. The viewer's run checks what a viewer is answered.
RUNS = {
    "vera": ("examples", "fuzzing"),
    "stella": ("examples", "coverage", "fuzzing"),
}
# Each run is bounded by its examples; this only stops a hung run.
RUN_TIMEOUT_SECONDS = 300  # the staff run takes about 150 s on a quiet machine


class World:
    """Team `support` (owner olive, maintainer max, viewer vera) owns the internal namespace
    `support`: a mustache text prompt `refund-reply` (production ran v1 then v2, staging and
    development run v3, which includes `signature`, and v3 is asked for production), a jinja2
    chat prompt `triage`, a deprecated jinja2 text prompt `digest` and a retired `legacy`
    that production still points at. Team `search` (owner sam) owns the private namespace `search`
    with `rank`. olive and the staff person stella may promote to production in `support`.
    stella and vera fuzz. The names match the schema's request examples."""

    def __init__(self):
        admin = system_actor()
        environments = {e.slug: e for e in Environment.objects.all()}
        support = TeamFactory(slug="support", name="Support")
        search = TeamFactory(slug="search", name="Search")
        self.namespace = NamespaceFactory(slug="support", team=support, visibility="internal")
        private = NamespaceFactory(slug="search", team=search, visibility="private")
        users = {
            name: UserFactory(username=name, is_staff=name == "stella")
            for name in ("olive", "max", "vera", "sam", "stella")
        }
        for name, team, role in (
            ("olive", support, "owner"),
            ("max", support, "maintainer"),
            ("vera", support, "viewer"),
            ("sam", search, "owner"),
        ):
            MembershipFactory(team=team, user=users[name], role=role)
        for holder in ("olive", "stella"):  # stella's approvals and rollbacks go through
            promotion_right_grant(
                actor=admin,
                namespace=self.namespace,
                environment=environments["production"],
                user=users[holder],
            )

        signature = PromptFactory(namespace=self.namespace, name="signature")
        version_create(
            prompt=signature, author=users["max"], template="The {{team}} team", variables=["team"]
        )
        refund = PromptFactory(namespace=self.namespace, name="refund-reply", tags=["billing"])
        replies = [
            version_create(
                prompt=refund,
                author=users["max"],
                template=text,
                variables=["customer", "amount"],
                model_config={"model": "gpt-4o-mini", "temperature": 0.2},
                message=f"wording {number}",
            )
            for number, text in enumerate(
                (
                    "Hello {{customer}}, {{amount}} will be refunded.",
                    "Hi {{customer}}, we refund {{amount}}.",
                    "Dear {{customer}}, {{amount}} is refunded within five days. "
                    "{{> support/signature}}",
                ),
                1,
            )
        ]
        triage = PromptFactory(namespace=self.namespace, name="triage", kind=Prompt.Kind.CHAT)
        version_create(
            prompt=triage,
            author=users["max"],
            messages=[
                {"role": "system", "content": "You triage for {{ team|title }}."},
                {"role": "user", "content": "{% if ticket %}{{ ticket }}{% endif %}"},
            ],
            template_format=PromptVersion.TemplateFormat.JINJA2,
            variables=["team", "ticket"],
        )
        digest = PromptFactory(namespace=self.namespace, name="digest")
        version_create(
            prompt=digest,
            author=users["max"],
            template="{% for item in items %}- {{ item }}\n{% endfor %}",
            template_format=PromptVersion.TemplateFormat.JINJA2,
            variables=["items"],
        )
        legacy = PromptFactory(namespace=self.namespace, name="legacy")
        version_create(prompt=legacy, author=users["max"], template="Old reply", variables=[])
        rank = PromptFactory(namespace=private, name="rank")
        version_create(
            prompt=rank, author=users["sam"], template="Rank {{query}}", variables=["query"]
        )

        for prompt, environment, version in (
            (refund, "production", replies[0]),
            (refund, "production", replies[1]),
            (refund, "development", replies[2]),
            (refund, "staging", replies[2]),
            (triage, "development", triage.versions.get()),
            (digest, "development", digest.versions.get()),
            (rank, "production", rank.versions.get()),
            (legacy, "production", legacy.versions.get()),
        ):
            deployment_set(
                prompt=prompt,
                environment=environments[environment],
                version=version,
                actor=admin,
                action="deployment.seeded",
            )
        prompt_deprecate(
            actor=admin,
            prompt=digest,
            reason="Replaced by refund-reply.",
            sunset_at=timezone.now() + dt.timedelta(days=30),
            successor=refund,
        )
        prompt_retire(actor=admin, prompt=legacy, reason="Nobody calls it.")
        self.pending = promotion_request(
            actor=users["max"],
            prompt=refund,
            version=replies[2],
            environment=environments["production"],
            justification="Says when the money arrives; reviewed in staging.",
        )
        self.service_token, _ = service_token_create(
            actor=users["olive"], namespaces=[self.namespace], name="support-bot"
        )
        self.tokens = {}
        self.spare_tokens = {}
        for name in ("stella", "vera"):
            self.tokens[name] = personal_token_create(actor=users[name], name="fuzz")[1]
            self.spare_tokens[name] = personal_token_create(actor=users[name], name="spare")[0]

    def config(self, who: str) -> str:
        """schemathesis.toml for a run as `who`: fixed generation, and path parameters that
        name this world's objects. The caller's own user and token are never targets (a
        fuzzed PATCH or DELETE would end the run's authentication)."""
        return f"""
hooks = "{HOOKS}"
continue-on-failure = true
request-timeout = 20

[generation]
max-examples = {MAX_EXAMPLES}
deterministic = true
database = "none"

[reports]
directory = "reports"
[reports.har]
enabled = true

# The schema declares no links; the seeded objects and path parameters stand in for them.
[phases.stateful]
enabled = false

[parameters]
"path.namespace" = {{ dictionary = "namespaces" }}
"path.name" = {{ dictionary = "prompts" }}
"path.team" = {{ dictionary = "teams" }}
"path.username" = "max"
"path.environment" = {{ dictionary = "environments" }}
"path.number" = {{ dictionary = "versions" }}

"query.environment" = {{ dictionary = "environments", probability = 0.8 }}
"body.environment" = {{ dictionary = "environments", probability = 0.8 }}
"body.namespace" = {{ dictionary = "namespaces", probability = 0.8 }}
"body.team" = {{ dictionary = "teams", probability = 0.8 }}
"body.username" = {{ dictionary = "usernames", probability = 0.8 }}
"body.prompt" = {{ dictionary = "full_names", probability = 0.8 }}
"body.version" = {{ dictionary = "versions", probability = 0.8 }}

[dictionaries.namespaces]
values = ["support", "search"]
[dictionaries.prompts]
values = ["refund-reply", "triage", "digest", "signature", "legacy", "rank"]
[dictionaries.teams]
values = ["support", "search"]
[dictionaries.environments]
values = ["development", "staging", "production"]
[dictionaries.versions]
values = [1, 2, 3]
[dictionaries.usernames]
values = ["max", "olive", "sam"]
[dictionaries.full_names]
values = ["support/refund-reply", "support/triage", "support/digest", "search/rank"]

[[operations]]
include-path-regex = "^/api/v1/promotions/\\\\{{id\\\\}}/"
parameters = {{ "path.id" = {self.pending.pk} }}

[[operations]]
include-path = "/api/v1/tokens/{{id}}/"
parameters = {{ "path.id" = "{self.spare_tokens[who].prefix}" }}

[[operations]]
include-path = "/api/v1/namespaces/{{namespace}}/service-tokens/{{id}}/"
parameters = {{ "path.id" = "{self.service_token.prefix}" }}
"""


@pytest.fixture
def server():
    # The playground's rate (30 an hour per person) is a product limit, not what is fuzzed here.
    started = Server(
        process_environment(settings.REDIS_URL, LOG_LEVEL="ERROR", PLAYGROUND_RATE="100000/hour")
    )
    yield started.start()
    started.stop()


def run_schemathesis(
    server: Server, config: str, token: str, phases: tuple[str, ...], workdir
) -> tuple[int, str, float]:
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(config)
    started = time.monotonic()
    finished = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "--config-file",
            str(config_file),
            "--no-color",
            "run",
            f"{server.url}/api/v1/schema/?format=json",
            "--url",
            server.url,
            "--checks",
            ",".join(CHECKS),
            "--phases",
            ",".join(phases),
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    return finished.returncode, finished.stdout + finished.stderr, time.monotonic() - started


def fuzz_as(who: str, server: Server, tmp_path) -> None:
    """One run of schemathesis as `who` (RUNS), on a world of its own."""
    world = World()
    workdir = tmp_path / who
    workdir.mkdir()
    code, output, seconds = run_schemathesis(
        server, world.config(who), world.tokens[who], RUNS[who], workdir
    )
    print(
        f"=== schemathesis as {who} ({', '.join(RUNS[who])}): exit {code}, {seconds:.1f} s; "
        f"every request in {workdir / 'reports'} (HAR) ===\n{output}"
    )
    assert code == 0, output


def test_the_api_answers_as_its_schema_says_to_staff(server, tmp_path):
    """The staff run (examples, coverage, fuzzing). The viewer's run is
    tests/test_schemathesis_viewer.py: a file of its own, so xdist runs the two side by side."""
    fuzz_as("stella", server, tmp_path)
