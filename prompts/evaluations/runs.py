"""Runs of a suite against a version and a model: start, cancel, execute (the Celery task's
body), finish.

Execution: every case is rendered first (in the task's thread: rendering may use the jinja2
sandbox and the database), then the provider calls and the scoring, which touch no database,
run in a thread pool of `EVALUATION_CONCURRENCY` threads, one case per thread at a time. The
task's own thread records each finished case (insert-or-skip on (run, position)), moves the
progress on, and reads the run's state between cases: a cancelled run submits nothing more.
A pool rather than a chord: the calls are I/O-bound waits on a provider, and one task per
run keeps a run's concurrency bounded whatever the number of workers. A re-delivered task
(acks late) records only the cases still missing.

llm-rubric's judge: see `prompts.evaluations.judge`.
"""

import json
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from portal import outbox
from portal.audit.services import audit
from portal.errors import Conflict, DomainError, Invalid, PermissionDenied
from prompts.evaluations import hooks
from prompts.evaluations.assertions import score_case
from prompts.evaluations.judge import judge_for, judge_models
from prompts.evaluations.models import Case, CaseResult, Model, Run, Suite
from prompts.evaluations.providers import complete
from prompts.evaluations.providers.base import ProviderError
from prompts.models import Prompt, PromptVersion
from prompts.resolve import Resolved, render_resolved
from prompts.resolve.answers import _body, _included
from teams.permissions import Principal, can_edit_prompts

TASK = "prompts.evaluations.tasks.run_evaluation"
# Includes of the version under test render as deployed here (as a service would see them).
INCLUDES_FROM = "production"
OFFLINE_ECHO = "offline echo, not a language model"

Rendered = str | list[dict[str, str]]


def render_for(version: PromptVersion, variables: dict[str, Any]) -> Rendered:
    """The version with these variables filled in (text, or the chat messages), exactly as
    resolve's render does; includes as deployed in production. Raises `Invalid` (missing or
    unknown variables, a template error)."""
    prompt = version.prompt
    includes = _included(version, INCLUDES_FROM, host_namespace_id=prompt.namespace_id)
    body = json.dumps(_body(prompt, version, INCLUDES_FROM, includes)).encode()
    return render_resolved(Resolved(body_json=body, etag="", headers={}), variables)


def rendered_text(rendered: Rendered) -> str:
    return rendered if isinstance(rendered, str) else json.dumps(rendered, ensure_ascii=False)


def _may_run(actor: Principal | None, prompt: Prompt) -> None:
    if actor is not None and not can_edit_prompts(actor, prompt.namespace):
        raise PermissionDenied(
            f"Only people who may edit the prompts of {prompt.namespace.slug} run and cancel "
            "its evaluations."
        )


def _summary(run: Run) -> dict[str, Any]:
    return {
        "run": run.pk,
        "prompt": run.prompt.full_name,
        "version": run.version.number,
        "suite": run.suite.name,
        "model": run.model.name,
        "state": run.state,
        "trigger": run.trigger,
        "pass_rate": run.pass_rate,
    }


def _audit(actor: Principal | None, action: str, run: Run) -> None:
    audit(
        actor=actor,
        action=action,
        object_type="evaluation_run",
        object_id=run.pk,
        namespace=run.prompt.namespace.slug,
        after=_summary(run),
    )


@transaction.atomic
def run_create(
    *,
    actor: Principal | None,
    prompt: Prompt,
    version: PromptVersion,
    suite: Suite,
    model: Model,
    trigger: str = Run.Trigger.MANUAL,
) -> Run:
    """Queue a run (the task starts after commit). `actor` None: the portal itself (schedules,
    the gate)."""
    _may_run(actor, prompt)
    if version.prompt_id != prompt.pk:
        raise Invalid.field("version", f"Version {version.number} is not of {prompt.full_name}.")
    if suite.prompt_id != prompt.pk:
        raise Invalid.field("suite", f"Suite {suite.name!r} is not of {prompt.full_name}.")
    if trigger not in Run.Trigger.values:
        raise Invalid.field("trigger", f"Unknown trigger {trigger!r}.")
    total = suite.cases.count()
    if total == 0:
        raise Invalid.field("suite", f"Suite {suite.name!r} has no cases.")
    run = Run.objects.create(
        prompt=prompt,
        version=version,
        suite=suite,
        model=model,
        trigger=trigger,
        requested_by=actor if actor is not None and getattr(actor, "pk", None) else None,
        total=total,
        pass_threshold=suite.pass_threshold,
    )
    _audit(actor, "evaluation.run_created", run)
    outbox.enqueue(TASK, run.pk)
    return run


def _locked(run_id: int) -> Run:
    return (
        Run.objects.select_for_update(of=("self",))
        .select_related("prompt__namespace", "version", "suite", "model")
        .get(pk=run_id)
    )


@transaction.atomic
def run_cancel(*, actor: Principal | None, run: Run) -> Run:
    _may_run(actor, run.prompt)
    run = _locked(run.pk)
    if run.is_finished:
        raise Conflict(f"Run {run.pk} has already finished ({run.state}).")
    run.state = Run.State.CANCELLED
    run.finished_at = timezone.now()
    _figures(run)
    run.save()
    _audit(actor, "evaluation.run_cancelled", run)
    hooks.run_finished(run=run)
    return run


# --- Execution --------------------------------------------------------------------------------


@dataclass
class _Job:
    case: Case
    rendered: Rendered | None = None
    error: str = ""


@dataclass
class _Outcome:
    job: _Job
    fields: dict[str, Any] = field(default_factory=dict)


def _start(run_id: int) -> Run | None:
    """Mark the run running (first delivery) and return it; None when there is nothing to do."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.is_finished:
            return None
        if run.state == Run.State.QUEUED:
            run.state = Run.State.RUNNING
            run.started_at = timezone.now()
            run.total = run.suite.cases.count()
            run.save(update_fields=["state", "started_at", "total"])
        return run


def _call(job: _Job, run: Run, judge: Callable[..., Any]) -> _Outcome:
    """One case through the provider and the assertions (no database here: a pool thread)."""
    fields: dict[str, Any] = {}
    try:
        completion = complete(
            model=run.model, rendered=job.rendered, model_config=run.version.model_config or {}
        )
        fields |= {
            "output": completion.text,
            "latency_ms": completion.latency_ms,
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "cost_usd": completion.cost_usd,
        }
        scored = score_case(
            output=completion.text,
            assertions=job.case.assertions,
            threshold=job.case.threshold,
            latency_ms=completion.latency_ms,
            cost_usd=completion.cost_usd,
            judge=lambda rubric, output: judge(rubric, output, job.case),
        )
        fields |= {"passed": scored.passed, "score": scored.score, "assertions": scored.assertions}
    except ProviderError as exc:
        fields["error"] = str(exc) or "The provider failed."
    except DomainError as exc:
        fields["error"] = exc.detail
    except Exception as exc:  # a case must never crash its run; the type says enough
        fields["error"] = f"The case failed unexpectedly ({type(exc).__name__})."
    return _Outcome(job=job, fields=fields)


def _record(run: Run, outcomes: list[_Outcome]) -> None:
    """Insert what is not there yet (a re-delivered task skips recorded cases), then move the
    progress on (never backwards: two deliveries may count at once)."""
    rows = [
        CaseResult(
            run=run,
            case=o.job.case,
            position=o.job.case.position,
            description=o.job.case.description,
            variables=o.job.case.variables,
            rendered="" if o.job.rendered is None else rendered_text(o.job.rendered),
            **({"error": o.job.error} | o.fields),
        )
        for o in outcomes
    ]
    CaseResult.objects.bulk_create(rows, ignore_conflicts=True)
    recorded = (
        CaseResult.objects.filter(run=OuterRef("pk"))
        .values("run")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Run.objects.filter(pk=run.pk).update(done=Greatest(F("done"), Coalesce(Subquery(recorded), 0)))


def _cancelled(run: Run) -> bool:
    return Run.objects.filter(pk=run.pk, state=Run.State.CANCELLED).exists()


def _jobs(run: Run) -> list[_Job]:
    """The cases not yet recorded, rendered; a case that does not render carries its error."""
    recorded = set(run.results.values_list("position", flat=True))
    jobs = []
    for case in run.suite.cases.order_by("position"):
        if case.position in recorded:
            continue
        job = _Job(case=case)
        try:
            job.rendered = render_for(run.version, case.variables)
        except DomainError as exc:
            job.error = f"The prompt does not render with this case's variables: {exc.detail}"
        jobs.append(job)
    return jobs


def _fan_out(
    run: Run, pending: list[_Job], pool: ThreadPoolExecutor, concurrency: int, judge
) -> None:
    """At most `concurrency` cases in flight; each finished batch recorded at once; nothing
    more submitted once the run is cancelled."""
    in_flight: set[Future] = set()
    queue = iter(pending)
    stopped = False
    while True:
        while not stopped and len(in_flight) < concurrency:
            job = next(queue, None)
            if job is None:
                break
            in_flight.add(pool.submit(_call, job, run, judge))
        if not in_flight:
            return
        finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
        _record(run, [f.result() for f in finished])
        stopped = stopped or _cancelled(run)


def run_execute(*, run_id: int) -> Run | None:
    """The task's body: record every missing case, then finish the run. Safe to run twice."""
    run = _start(run_id)
    if run is None:
        return None
    jobs = _jobs(run)
    failed = [_Outcome(job=j) for j in jobs if j.error]
    if failed:
        _record(run, failed)
    pending = [j for j in jobs if not j.error]
    judge = judge_for(run.model, judge_models([j.case for j in pending]))
    concurrency = max(1, min(settings.EVALUATION_CONCURRENCY, len(pending)))
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    try:
        _fan_out(run, pending, pool, concurrency, judge)
    except BaseException:  # a time limit, a lost database: drop what waits, keep what is done
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return run_finish(run_id=run.pk)


def _figures(run: Run) -> int:
    """Set the run's figures from its recorded cases; returns how many cases erred."""
    figures = CaseResult.objects.filter(run=run).aggregate(
        done=Count("pk"),
        passed=Count("pk", filter=Q(passed=True)),
        errors=Count("pk", filter=~Q(error="")),
        cost=Sum("cost_usd"),
        latency=Avg("latency_ms"),
    )
    run.done = figures["done"]
    run.passed_cases = figures["passed"]
    run.pass_rate = figures["passed"] / run.total if run.total else None
    run.total_cost_usd = figures["cost"] or 0.0
    run.mean_latency_ms = figures["latency"]
    return figures["errors"]


@transaction.atomic
def run_fail(*, run_id: int, error: str) -> Run:
    """End a run that cannot go on (its task gave up) as `error`, with what it recorded."""
    run = _locked(run_id)
    if run.is_finished:
        return run
    _figures(run)
    run.state = Run.State.ERROR
    run.error = error
    run.finished_at = timezone.now()
    run.save()
    _audit(None, "evaluation.run_finished", run)
    hooks.run_finished(run=run)
    return run


@transaction.atomic
def run_finish(*, run_id: int) -> Run:
    """Give the run its final figures and state, once; then tell who listens."""
    run = _locked(run_id)
    if run.is_finished:
        return run
    errors = _figures(run)
    if run.done < run.total:
        return run  # another delivery is still recording: it finishes the run
    if errors == run.total:
        run.state = Run.State.ERROR
        first = run.results.exclude(error="").order_by("position").first()
        run.error = f"No case could run. First error: {first.error}" if first else ""
    elif run.pass_rate is not None and run.pass_rate >= run.pass_threshold:
        run.state = Run.State.PASSED
    else:
        run.state = Run.State.FAILED
    run.finished_at = timezone.now()
    run.save()
    _audit(None, "evaluation.run_finished", run)
    hooks.run_finished(run=run)
    return run
