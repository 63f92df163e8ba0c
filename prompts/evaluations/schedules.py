"""Which runs the portal starts by itself, and the regression check.

- Nightly (`nightly_start`): every suite of every prompt deployed in production runs on the
  model its production version's `model_config["model"]` names (matched to a registered
  `Model` by name; none registered: skipped and logged) and on every model of the owning team's
  watch list. Once per night: a (suite, version, model) with a scheduled run created since the
  last midnight UTC is left alone.
- Model release (`model_release_start`): every suite of a prompt whose deployed versions'
  `model_config` names the model, its family, or a registered model of its family runs on it,
  once per registration or release date: a (suite, version, model) with a run created since the
  model last changed is left alone, so a task queued twice starts each run once.
- Regression (`regression_check`, on `hooks.run_finished`): a finished run whose pass rate is
  below the last passing run of the same suite, version and model tells the owning team. A
  model release's first run on the new model is held to the last passing run on a model of
  its family (the one it would replace).

Runs are started by the portal itself (`actor=None`) through `runs.run_create`, which audits
and queues them; a target it refuses (a suite without cases, say) is logged and skipped.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.errors import DomainError
from prompts.evaluations import runs
from prompts.evaluations.matrix import run_url
from prompts.evaluations.models import CaseResult, Model, Run, Suite, WatchedModel
from prompts.models import Deployment, Prompt, PromptVersion
from teams.notifications import events
from teams.notifications.services import notify

logger = logging.getLogger(__name__)

PRODUCTION = "production"
# States whose pass rate counts for the regression check (an error or a cancel says nothing
# about the prompt's quality).
JUDGED = (Run.State.PASSED, Run.State.FAILED)
# pg_advisory_xact_lock's first key for the runs of one suite ("eval").
SUITE_LOCK = 0x6576616C
# Failing cases named in a regression's notification body (the run page has them all).
BODY_CASES = 10


@dataclass(frozen=True)
class Target:
    suite: Suite
    version: PromptVersion
    model: Model


def last_midnight_utc(now: dt.datetime | None = None) -> dt.datetime:
    now = (now or timezone.now()).astimezone(dt.UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _config_model(version: PromptVersion) -> str:
    config = version.model_config if isinstance(version.model_config, dict) else {}
    name = config.get("model")
    return name.strip() if isinstance(name, str) else ""


def _deployments(*, environment: str | None) -> QuerySet[Deployment]:
    found = Deployment.objects.exclude(prompt__state=Prompt.State.RETIRED).select_related(
        "prompt__namespace", "version", "environment"
    )
    if environment is not None:
        found = found.filter(environment__slug=environment)
    return found.order_by("prompt_id", "environment__order")


def nightly_targets() -> list[Target]:
    """(suite, production version, model) for every production deployment: its configured
    model (when registered) and its team's watched models."""
    by_name = {model.name: model for model in Model.objects.all()}
    watched: dict[int, list[Model]] = {}
    for row in WatchedModel.objects.select_related("model").order_by("model__name"):
        watched.setdefault(row.team_id, []).append(row.model)
    targets: list[Target] = []
    for deployment in _deployments(environment=PRODUCTION):
        prompt, version = deployment.prompt, deployment.version
        models: list[Model] = []
        configured = _config_model(version)
        if configured in by_name:
            models.append(by_name[configured])
        else:
            logger.info(
                "nightly: %s v%s names model %r, which is not registered: skipped",
                prompt.full_name,
                version.number,
                configured,
            )
        for model in watched.get(prompt.namespace.team_id, []):
            if model not in models:
                models.append(model)
        for suite in Suite.objects.filter(prompt=prompt).order_by("name"):
            targets += [Target(suite, version, model) for model in models]
    return targets


def release_names(model: Model) -> set[str]:
    """The `model_config["model"]` values that name this model: its name, its family, and
    the names of the registered models of its family."""
    names = {model.name}
    if model.family:
        names.add(model.family)
        names.update(Model.objects.filter(family=model.family).values_list("name", flat=True))
    return names


def release_targets(*, model: Model) -> list[Target]:
    """(suite, version, model) for every deployed version whose configured model is one of
    `release_names` (each version once, whatever the environments it runs in)."""
    names = release_names(model)
    versions: dict[int, PromptVersion] = {}
    for deployment in _deployments(environment=None):
        if _config_model(deployment.version) in names:
            versions.setdefault(deployment.version_id, deployment.version)
    targets: list[Target] = []
    for version in versions.values():
        for suite in Suite.objects.filter(prompt_id=version.prompt_id).order_by("name"):
            targets.append(Target(suite, version, model))
    return targets


def _take_turn(suite: Suite) -> None:
    """Serialize the check-then-create of one suite's runs until the transaction ends: a
    PostgreSQL advisory lock rather than the suite's row, which people editing the suite and
    every run's insert (its foreign key) also lock, and which a worker may hold while it waits
    for the audit chain. SQLite (the embedded mode) has one writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SUITE_LOCK, suite.pk % 2**31])


def _start(*, target: Target, trigger: str, since: dt.datetime, same_trigger: bool) -> Run | None:
    """Start one run unless one of the same suite, version and model (and trigger, when
    `same_trigger`) was created since `since`. Two tasks at once take turns per suite (see
    `_take_turn`), so each starts it once."""
    already = {"trigger": trigger} if same_trigger else {}
    with transaction.atomic():
        _take_turn(target.suite)
        exists = Run.objects.filter(
            suite=target.suite,
            version=target.version,
            model=target.model,
            created_at__gte=since,
            **already,
        ).exists()
        if exists:
            return None
        try:
            with transaction.atomic():
                return runs.run_create(
                    actor=None,
                    prompt=target.version.prompt,
                    version=target.version,
                    suite=target.suite,
                    model=target.model,
                    trigger=trigger,
                )
        except DomainError as exc:
            logger.warning(
                "%s: suite %s of %s v%s on %s not started: %s",
                trigger,
                target.suite.name,
                target.version.prompt_id,
                target.version.number,
                target.model.name,
                exc,
            )
            return None


def nightly_start(*, now: dt.datetime | None = None) -> list[Run]:
    """The nightly schedule: the runs it started (none the second time in one night)."""
    since = last_midnight_utc(now)
    started = [
        _start(target=t, trigger=Run.Trigger.SCHEDULE, since=since, same_trigger=True)
        for t in nightly_targets()
    ]
    return [run for run in started if run is not None]


def model_release_start(*, model: Model) -> list[Run]:
    """A model was registered or its release date changed: the runs started on it."""
    since = model.updated_at
    started = [
        _start(target=t, trigger=Run.Trigger.MODEL_RELEASE, since=since, same_trigger=False)
        for t in release_targets(model=model)
    ]
    return [run for run in started if run is not None]


def previous_pass(*, run: Run) -> Run | None:
    """The last passing run of the run's suite, version and model finished before it. A run
    started by a model's release, on a model with no such run yet, is held to the last
    passing run of its suite and version on another model of the same family (the model it
    would replace)."""
    passing = (
        Run.objects.filter(
            suite_id=run.suite_id,
            version_id=run.version_id,
            state=Run.State.PASSED,
            pass_rate__isnull=False,
            finished_at__lte=run.finished_at,
        )
        .exclude(pk=run.pk)
        .select_related("model")
        .order_by("-finished_at", "-pk")
    )
    same = passing.filter(model_id=run.model_id).first()
    if same is not None or run.trigger != Run.Trigger.MODEL_RELEASE or not run.model.family:
        return same
    return passing.filter(model__family=run.model.family).exclude(model_id=run.model_id).first()


def _failing_lines(run: Run) -> tuple[list[int], list[str]]:
    positions: list[int] = []
    lines: list[str] = []
    for result in CaseResult.objects.filter(run=run, passed=False).order_by("position"):
        positions.append(result.position)
        if len(lines) >= BODY_CASES:
            continue
        reasons = [
            str(a.get("reason") or a.get("type"))
            for a in result.assertions
            if isinstance(a, dict) and not a.get("passed")
        ]
        why = "; ".join(reasons) or result.error or "failed"
        name = f"#{result.position}" + (f" {result.description}" if result.description else "")
        lines.append(f"- case {name}: {why}")
    if len(positions) > len(lines):
        lines.append(f"… and {len(positions) - len(lines)} more failing cases.")
    return positions, lines


def regression_check(*, run: Run) -> bool:
    """Tell the owning team when the finished run's pass rate is below the last passing run of
    the same suite, version and model. True when it did."""
    if run.state not in JUDGED or run.pass_rate is None or run.finished_at is None:
        return False
    previous = previous_pass(run=run)
    if previous is None or run.pass_rate >= previous.pass_rate:
        return False
    run = Run.objects.select_related("prompt__namespace__team", "version", "suite", "model").get(
        pk=run.pk
    )
    prompt = run.prompt
    positions, lines = _failing_lines(run)
    elsewhere = f" on {previous.model.name}" if previous.model_id != run.model_id else ""
    subject = (
        f"Evaluation regressed: {prompt.full_name} v{run.version.number} on {run.model.name} "
        f"({run.suite.name}) {run.pass_rate:.0%} < {previous.pass_rate:.0%}{elsewhere}"
    )
    body = "\n".join(
        [
            f"Run {run.pk} of suite {run.suite.name} passed {run.passed_cases} of {run.total} "
            f"cases ({run.pass_rate:.1%}); the last passing run, {previous.pk}{elsewhere}, "
            f"passed {previous.pass_rate:.1%}.",
            "Failing cases:",
            *lines,
        ]
    )
    notify(
        event=events.EVALUATION_REGRESSED,
        team=prompt.namespace.team,
        subject=subject,
        body=body,
        url=run_url(run),
        data={
            "run": run.pk,
            "previous_run": previous.pk,
            "prompt": prompt.full_name,
            "version": run.version.number,
            "suite": run.suite_id,
            "suite_name": run.suite.name,
            "model": run.model.name,
            "pass_rate": run.pass_rate,
            "previous_pass_rate": previous.pass_rate,
            "previous_model": previous.model.name,
            "failing_cases": positions,
            "trigger": run.trigger,
        },
    )
    return True


def on_run_finished(*, run: Run, **_: object) -> None:
    """`hooks.run_finished` handler (registered in EvaluationsConfig.ready)."""
    regression_check(run=run)
