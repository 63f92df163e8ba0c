"""Stale-prompt detection (prompts.stale, prompts.tasks) on crafted data in frozen time: stale
prompts per namespace setting, deprecated prompts still resolved, sunsets passed (retired
automatically where the namespace opts in), one digest per team per run, not sent again when
nothing is new, and the beat schedules the migration registers."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from portal.audit.models import AuditEntry
from prompts import stale
from prompts.lifecycle import prompt_deprecate
from prompts.models import Prompt, StaleDigest
from prompts.resolve import counts
from prompts.services import deployment_set, version_create
from prompts.tasks import flush_resolve_counts, retire_past_sunset, stale_digest
from teams.notifications.events import PROMPT_RETIRED, STALE_DIGEST
from teams.notifications.models import Notification
from teams.services.namespaces import namespace_update
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory
from tests.factories import system_actor as setup_admin

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


class Teams:
    """`support` (default: stale after 90 days, told at sunsets; owner sue) and `search`
    (stale after 30 days, retires at sunsets; owner sam), with prompts created at T0."""

    def __init__(self, environments):
        self.env = environments
        self.admin = setup_admin()
        self.support = NamespaceFactory(slug="support")
        self.search = NamespaceFactory(slug="search")
        namespace_update(
            actor=self.admin, namespace=self.search, stale_after_days=30, auto_retire=True
        )
        self.sue, self.sam = UserFactory(username="sue"), UserFactory(username="sam")
        MembershipFactory(team=self.support.team, user=self.sue, role="owner")
        MembershipFactory(team=self.search.team, user=self.sam, role="owner")

    def prompt(self, full_name: str, *, deployed: str | None = None) -> Prompt:
        namespace, _, name = full_name.partition("/")
        prompt = PromptFactory(namespace=getattr(self, namespace), name=name)
        version = self.version(prompt)
        if deployed:
            self.deploy(prompt, deployed, version)
        return prompt

    def version(self, prompt: Prompt):
        number = prompt.versions.count() + 1
        return version_create(prompt=prompt, author=self.admin, template=f"Hello, take {number}")

    def deploy(self, prompt: Prompt, environment: str, version=None):
        deployment_set(
            prompt=prompt,
            environment=self.env[environment],
            version=version or prompt.versions.order_by("-number").first(),
            actor=self.admin,
            action="deployment.seeded",
        )

    def deprecate(self, prompt: Prompt, *, sunset: dt.datetime | None = None) -> None:
        prompt_deprecate(actor=self.admin, prompt=prompt, reason="superseded", sunset_at=sunset)


def digests(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, event=STALE_DIGEST).order_by("pk"))


@pytest.fixture
def world(environments):
    with time_machine.travel(T0, tick=False):
        return Teams(environments)


def subjects(findings: list[stale.Finding]) -> set[tuple[str, str]]:
    return {(finding.kind, finding.subject) for finding in findings}


def test_stale_prompts_follow_each_namespace_setting(world):
    with time_machine.travel(T0, tick=False):
        world.prompt("support/quiet", deployed="development")
        world.prompt("search/quiet")
        edited, redeployed = world.prompt("support/edited"), world.prompt("support/redeployed")
        fresh = world.prompt("search/fresh")
        world.deprecate(world.prompt("support/deprecated"))  # told about otherwise
    with time_machine.travel(days(70), tick=False):
        world.version(edited)
        world.version(fresh)
    with time_machine.travel(days(80), tick=False):
        world.deploy(redeployed, "staging")

    assert subjects(stale.stale_prompts(now=days(61))) == {("stale", "search/quiet")}
    found = stale.stale_prompts(now=days(91))
    assert subjects(found) == {("stale", "support/quiet"), ("stale", "search/quiet")}
    assert {f.line for f in found} >= {"support/quiet: unchanged for 91 days (since 2026-03-02)"}
    assert subjects(stale.stale_prompts(now=days(101))) == {
        ("stale", "support/quiet"),
        ("stale", "search/quiet"),
        ("stale", "search/fresh"),
    }


def test_the_scan_costs_the_same_queries_for_3_prompts_or_30(world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            stale.scan(now=days(400))
        return len(captured)

    with time_machine.travel(T0, tick=False):
        for i in range(3):
            world.prompt(f"support/few-{i}", deployed="development")
        few = queries()
        for i in range(27):
            prompt = world.prompt(f"search/more-{i}", deployed="development")
            if i % 3 == 0:
                world.deprecate(prompt, sunset=days(10))
        counts.note(namespace="search", name="more-0", environment="production", caller="svc")
        flush_resolve_counts()

    assert queries() == few <= 6
    # 21 active and stale; search retires the 9 deprecated ones (not reported until it has);
    # the counted resolve is from T0, outside the window at day 400.
    assert subjects(stale.scan(now=days(400))) == {
        ("stale", f"support/few-{i}") for i in range(3)
    } | {("stale", f"search/more-{i}") for i in range(27) if i % 3}


def test_running_the_digest_twice_sends_one_digest_per_team(world):
    with time_machine.travel(T0, tick=False):
        world.prompt("support/quiet")
        world.prompt("search/quiet")

    with time_machine.travel(days(91), tick=False):
        assert stale_digest() == 2
        assert stale_digest() == 0

    (sue,) = digests(world.sue)
    (sam,) = digests(world.sam)
    assert sue.team == world.support.team
    assert "support/quiet: unchanged for 91 days" in sue.body
    assert "search/" not in sue.body
    assert [f["prompt"] for f in sam.data["findings"]] == ["search/quiet"]
    assert StaleDigest.objects.get(team=world.support.team).sent_at == days(91)


def test_a_team_with_nothing_new_gets_no_digest(world):
    with time_machine.travel(T0, tick=False):
        world.prompt("search/quiet")
        old = world.prompt("support/old")
        world.deprecate(old, sunset=days(40))
    with time_machine.travel(days(31), tick=False):
        stale_digest()
    with time_machine.travel(days(35), tick=False):
        stale_digest()  # search: the same finding; support: none yet
    assert (len(digests(world.sam)), len(digests(world.sue))) == (1, 0)

    with time_machine.travel(days(41), tick=False):
        stale_digest()  # support's sunset passed: news for support only

    assert (len(digests(world.sam)), len(digests(world.sue))) == (1, 1)
    assert "support/old: its sunset (2026-04-11 09:00 UTC) has passed" in digests(world.sue)[0].body


def test_findings_that_went_away_and_came_back_are_news_again(world):
    with time_machine.travel(T0, tick=False):
        quiet = world.prompt("search/quiet")
    with time_machine.travel(days(31), tick=False):
        stale_digest()
    with time_machine.travel(days(32), tick=False):
        world.version(quiet)
        stale_digest()
    with time_machine.travel(days(63), tick=False):
        stale_digest()

    assert len(digests(world.sam)) == 2


def test_deprecated_prompts_still_resolved_name_their_callers(world):
    with time_machine.travel(T0, tick=False):
        old = world.prompt("support/old", deployed="production")
        world.deprecate(old, sunset=days(60))
    with time_machine.travel(days(5), tick=False):
        for caller in ("billing-worker", "billing-worker", "mailer", ""):
            counts.note(namespace="support", name="old", environment="production", caller=caller)
        counts.note(namespace="support", name="old", environment="staging", caller="mailer")
        stale_digest()
        stale_digest()
        counts.note(namespace="support", name="old", environment="production", caller="mailer")
        stale_digest()  # more resolves by the same callers: nothing new

    (digest,) = digests(world.sue)
    lines = digest.body.splitlines()
    assert (
        "- support/old in production: resolved 4 times in the last 7 days by "
        "billing-worker, mailer, people"
    ) in lines
    assert "support/old in staging: resolved 1 times in the last 7 days by mailer" in digest.body
    production = next(f for f in digest.data["findings"] if f.get("environment") == "production")
    assert production["callers"] == {"billing-worker": 2, "mailer": 1, "people": 1}

    with time_machine.travel(days(6), tick=False):
        counts.note(namespace="support", name="old", environment="production", caller="cron")
        stale_digest()  # a new caller is news
    assert len(digests(world.sue)) == 2
    with time_machine.travel(days(20), tick=False):
        assert stale.still_resolved(now=days(20)) == []  # nothing in the last 7 days


def test_sunsets_passed_retire_where_the_namespace_opts_in_and_are_told_elsewhere(world):
    with time_machine.travel(T0, tick=False):
        search_old = world.prompt("search/old", deployed="development")
        support_old = world.prompt("support/old", deployed="development")
        later = world.prompt("search/later")
        for prompt in (search_old, support_old):
            world.deprecate(prompt, sunset=days(10))
        world.deprecate(later, sunset=days(20))

    with time_machine.travel(days(9), tick=False):
        assert retire_past_sunset() == 0
    with time_machine.travel(days(10), tick=False):
        assert retire_past_sunset() == 1
        assert retire_past_sunset() == 0
        stale_digest()
        stale_digest()

    search_old.refresh_from_db()
    support_old.refresh_from_db()
    later.refresh_from_db()
    assert (search_old.state, support_old.state, later.state) == (
        "retired",
        "deprecated",
        "deprecated",
    )
    entry = AuditEntry.objects.get(action="prompt.retired", object_id="search/old")
    assert (entry.actor, entry.actor_type) == ("system", "system")  # no person acted
    assert "retires deprecated prompts automatically" in entry.justification
    assert digests(world.sam) == []  # the retirement told sam itself:
    (told,) = Notification.objects.filter(user=world.sam, event=PROMPT_RETIRED)
    assert told.data["prompt"] == "search/old"
    (sue,) = digests(world.sue)
    assert "support/old: its sunset (2026-03-12 09:00 UTC) has passed" in sue.body
    assert "Sunset passed" in sue.body


def test_a_prompt_reactivated_before_the_sweep_is_not_retired(world):
    with time_machine.travel(T0, tick=False):
        prompt = world.prompt("search/old")
        world.deprecate(prompt, sunset=days(10))

    with time_machine.travel(days(11), tick=False):
        Prompt.objects.filter(pk=prompt.pk).update(sunset_at=days(30))  # moved meanwhile
        assert stale.retire_due(now=days(11)) == []


def test_other_apps_add_findings_through_the_hook(world):
    def pending_requests(*, now):
        return [
            stale.Finding(
                team_id=world.support.team_id,
                kind=stale.PENDING_REQUEST,
                subject="support/x",
                line="support/x: promotion to production pending for 10 days",
            )
        ]

    stale.digest_findings.register(pending_requests)
    try:
        with time_machine.travel(days(1), tick=False):
            stale_digest()
    finally:
        stale.digest_findings._functions.remove(pending_requests)

    (digest,) = digests(world.sue)
    assert (
        "Promotion requests pending for a while:\n"
        "- support/x: promotion to production pending for 10 days"
    ) in digest.body
    assert digest.url == "/teams/" + world.support.team.slug + "/"


NAMES = {
    "prompts-flush-resolve-counts": "prompts.tasks.flush_resolve_counts",
    "prompts-retire-past-sunset": "prompts.tasks.retire_past_sunset",
    "prompts-stale-digest": "prompts.tasks.stale_digest",
}


def test_the_migration_registers_a_beat_schedule_for_each_task_and_reverses():
    with connection.cursor() as cursor:  # rows written earlier in this transaction (restored
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # data-migration rows) block no DROP
    executor = MigrationExecutor(connection)
    executor.migrate([("prompts", "0005_resolve_counts_stale_digests")])
    assert not PeriodicTask.objects.filter(name__in=NAMES).exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    tasks = {task.name: task for task in PeriodicTask.objects.filter(name__in=NAMES)}
    assert {name: task.task for name, task in tasks.items()} == NAMES
    assert (
        tasks["prompts-stale-digest"].crontab.hour,
        tasks["prompts-stale-digest"].crontab.minute,
    ) == ("6", "0")
    assert tasks["prompts-flush-resolve-counts"].interval.every == 10
    assert all(task.enabled for task in tasks.values())


def test_a_finding_that_went_away_sends_nothing_new(world):
    support = world.support.team

    def finding(name: str) -> stale.Finding:
        return stale.Finding(team_id=support.pk, kind=stale.STALE, subject=name, line=name)

    with time_machine.travel(T0, tick=False):
        assert stale.digest_send(findings=[finding("a"), finding("b")], now=T0) == [support.pk]
        assert stale.digest_send(findings=[finding("a")], now=T0) == []  # b went away
        assert stale.digest_send(findings=[finding("a"), finding("b")], now=T0) == [support.pk]
