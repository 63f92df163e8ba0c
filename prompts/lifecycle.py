"""Prompt lifecycle writes: active → deprecated (reason, sunset, successor) → retired, and back.

Consumers see the state at once: resolve answers carry Deprecation/Sunset/Link headers for a
deprecated prompt and 410 for a retired one; every change invalidates the prompt's cached answers
on commit. Every step is audited, and the owning team is told (`teams.notifications.notify`,
in the same transaction: its owners' and maintainers' inboxes, e-mail, the team's webhooks).

Who: maintainers and owners of the owning team (`teams.permissions.can_edit_prompts`, which
staff pass too). When the prompt runs (has a deployment) in a protected environment, the actor
must also hold the promotion right there: that right lives in approvals, above prompts, so
prompts asks through the `teams.hooks.promotion_right` hook that approvals registers in its
`AppConfig.ready` (with nothing registered the answer is no). Staff stand in for that right:
they are the ones who grant it in protected environments, and each step is audited.

Retiring before the sunset (or without one) is an override: staff only, with a justification,
audited as `prompt.retired_early` (its `after` carries `override: true`).

Successors: an active prompt the actor may read, never the prompt itself, never a cycle. The
prompt and every prompt on its successor's chain are locked in id order (docs/locking.md:
prompts, one level, by id), and the chain is walked again under the locks, so two concurrent
deprecations (A→B and B→A) are serialised and the second sees the first.
"""

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid, NotFound, PermissionDenied
from portal.transactions import atomic_write
from portal.validation import check_note
from prompts import experiments, selectors
from prompts import resolve as resolve_cache
from prompts.models import Deployment, Experiment, Prompt
from teams import hooks, permissions
from teams.models import Namespace
from teams.notifications import events
from teams.notifications.services import notify
from teams.permissions import Principal, require

MAX_CHAIN = 100


def _state(prompt: Prompt) -> dict:
    return {
        "state": prompt.state,
        "reason": prompt.deprecation_reason,
        "sunset_at": prompt.sunset_at.isoformat() if prompt.sunset_at else None,
        "successor": prompt.successor.full_name if prompt.successor else None,
    }


def successor_get(*, actor: Principal, full_name: str) -> Prompt:
    """The prompt a deprecation names as successor (`namespace/name`), if the actor may read
    it; anything else is an invalid `successor` field, never a 404 of the request."""
    namespace, _, name = (full_name or "").strip().partition("/")
    try:
        return selectors.prompt_get(user=actor, namespace=namespace, name=name)
    except NotFound as exc:
        raise Invalid.field("successor", f"No prompt {full_name} you may read.") from exc


def _lock(pks: set[int]) -> dict[int, Prompt]:
    rows = (
        Prompt.objects.select_for_update(of=("self",))
        .filter(pk__in=pks)
        .select_related("namespace__team", "successor__namespace")
        .order_by("pk")
    )
    return {row.pk: row for row in rows}


def _chain(start: int | None, known: dict[int, int | None]) -> list[int]:
    """Ids along the successor chain from `start`, as far as `known` (id → successor id) says."""
    chain: list[int] = []
    current = start
    while current is not None and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        if current not in known:
            break
        current = known[current]
    return chain


def _successor_ids(pks: list[int]) -> dict[int, int | None]:
    return dict(Prompt.objects.filter(pk__in=pks).values_list("pk", "successor_id"))


def _lock_with_chain(prompt: Prompt, successor: Prompt | None) -> tuple[Prompt, dict[int, Prompt]]:
    """Lock the prompt and the successor's whole chain (id order); walk it again under the
    locks until every prompt on it is locked."""
    wanted = {prompt.pk}
    if successor is not None:
        wanted |= set(_chain(successor.pk, _successor_ids_along(successor.pk)))
    while True:
        locked = _lock(wanted)
        if prompt.pk not in locked:
            raise NotFound(f"No prompt {prompt.full_name}.")
        if successor is None:
            return locked[prompt.pk], locked
        chain = _chain(successor.pk, {pk: row.successor_id for pk, row in locked.items()})
        missing = set(chain) - set(locked)
        if not missing:
            return locked[prompt.pk], locked
        if missing <= wanted:  # asked for and not found: deleted meanwhile
            raise Invalid.field("successor", "The successor no longer exists.")
        wanted |= missing


def _successor_ids_along(start: int) -> dict[int, int | None]:
    known: dict[int, int | None] = {}
    current: int | None = start
    while current is not None and current not in known and len(known) < MAX_CHAIN:
        known.update(_successor_ids([current]))
        current = known.get(current)
    return known


def _running_protected(prompt: Prompt) -> QuerySet[Deployment]:
    return Deployment.objects.filter(prompt=prompt, environment__protected=True).select_related(
        "environment"
    )


def _require_rights(actor: Principal, prompt: Prompt) -> None:
    require(
        permissions.can_edit_prompts(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} change its lifecycle.",
    )
    if permissions.is_staff(actor):
        return
    for deployment in _running_protected(prompt):
        answers = hooks.promotion_right(
            user=actor, namespace=prompt.namespace, environment=deployment.environment
        )
        require(
            bool(answers) and all(answers),
            f"{prompt.full_name} runs in {deployment.environment.slug}: changing its lifecycle "
            f"takes the promotion right there as well.",
        )


EVENTS = {
    "prompt.deprecated": (events.PROMPT_DEPRECATED, "is deprecated"),
    "prompt.retired": (events.PROMPT_RETIRED, "is retired"),
    "prompt.retired_early": (events.PROMPT_RETIRED, "is retired before its sunset"),
    "prompt.reactivated": (events.PROMPT_REACTIVATED, "is active again"),
}


def _tell_team(actor: Principal | None, prompt: Prompt, action: str, justification: str) -> None:
    event, verb = EVENTS[action]
    state = _state(prompt)
    by = "the portal" if actor is None else getattr(actor, "username", actor)
    lines = [f"By {by}: {justification}" if justification else ""]
    if state["sunset_at"]:
        lines.append(f"Sunset: {state['sunset_at']}")
    if state["successor"]:
        lines.append(f"Use instead: {state['successor']}")
    notify(
        event=event,
        subject=f"{prompt.full_name} {verb}",
        body="\n".join(line for line in lines if line),
        team=prompt.namespace.team,
        url=reverse("prompts:detail", args=[prompt.namespace.slug, prompt.name]),
        data={"prompt": prompt.full_name, "action": action, **state},
    )


def may_change_lifecycle(actor: Principal, prompt: Prompt) -> bool:
    """Whether the services would let the actor deprecate, retire or reactivate (the portal
    shows its buttons by this; the services check again under the lock)."""
    try:
        _require_rights(actor, prompt)
    except PermissionDenied:
        return False
    return True


def may_retire_now(actor: Principal, prompt: Prompt) -> bool:
    return sunset_passed(prompt) or permissions.is_staff(actor)


def _stop_experiments(actor: Principal | None, prompt: Prompt) -> None:
    """A retired prompt answers 410 everywhere: nothing of it runs, no experiment either."""
    experiments.stop_running(
        actor=actor, prompt=prompt, environment=None, cause=Experiment.StopCause.RETIRED
    )


def _save(
    actor: Principal | None, prompt: Prompt, action: str, before: dict, justification: str, **extra
) -> Prompt:
    prompt.save()
    audit(
        actor=actor,
        action=action,
        object_type="prompt",
        object_id=prompt.full_name,
        namespace=prompt.namespace.slug,
        justification=justification,
        before=before,
        after={**_state(prompt), **extra},
    )
    _tell_team(actor, prompt, action, justification)
    resolve_cache.invalidate_prompts([prompt])
    return prompt


def _check_successor(prompt: Prompt, successor: Prompt, locked: dict[int, Prompt]) -> None:
    if successor.pk == prompt.pk:
        raise Invalid.field("successor", "A prompt cannot succeed itself.")
    current = locked[successor.pk]
    hidden = (
        current.namespace_id != prompt.namespace_id
        and current.namespace.visibility == Namespace.Visibility.PRIVATE
    )
    if hidden:  # every reader of the prompt sees its successor's name (headers, 410, pages)
        raise Invalid.field(
            "successor",
            f"{current.full_name} is in the private namespace {current.namespace.slug}, which "
            f"not every reader of {prompt.full_name} may see: name a successor in the same "
            "namespace or an internal one.",
        )
    if current.state != Prompt.State.ACTIVE and current.pk != prompt.successor_id:
        raise Invalid.field(
            "successor", f"{current.full_name} is {current.state}; name an active prompt."
        )
    if prompt.pk in _chain(successor.pk, {pk: row.successor_id for pk, row in locked.items()}):
        raise Invalid.field(
            "successor",
            f"{current.full_name} leads back to {prompt.full_name}: no cycles of successors.",
        )


@atomic_write
def prompt_deprecate(
    *,
    actor: Principal,
    prompt: Prompt,
    reason: str,
    sunset_at: dt.datetime | None = None,
    successor: Prompt | None = None,
) -> Prompt:
    """Deprecate (or re-deprecate with a new reason, sunset or successor) a prompt."""
    if successor is not None and not permissions.can_view_namespace(actor, successor.namespace):
        raise Invalid.field("successor", "No such prompt you may read.")
    prompt, locked = _lock_with_chain(prompt, successor)
    _require_rights(actor, prompt)
    reason = check_note((reason or "").strip(), field="reason", what="The reason")
    if not reason:
        raise Invalid.field("reason", "Say why the prompt is deprecated.")
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(
            f"{prompt.full_name} is retired; reactivate it first.", code=ErrorCode.RETIRED
        )
    if sunset_at is not None and sunset_at <= timezone.now():
        raise Invalid.field("sunset_at", "The sunset must be in the future.")
    _require_notice(actor, sunset_at)
    if successor is not None:
        _check_successor(prompt, successor, locked)
        successor = locked[successor.pk]
    before = _state(prompt)
    prompt.state = Prompt.State.DEPRECATED
    prompt.deprecated_at = prompt.deprecated_at or timezone.now()
    prompt.deprecation_reason = reason
    prompt.sunset_at = sunset_at
    prompt.successor = successor
    return _save(actor, prompt, "prompt.deprecated", before, reason)


def _require_notice(actor: Principal, sunset_at: dt.datetime | None) -> None:
    """Consumers get `DEPRECATION_MIN_NOTICE_HOURS` of warning in their resolve headers: a
    sooner sunset (which would let the prompt be retired without staff almost at once) is
    for staff only."""
    hours = settings.DEPRECATION_MIN_NOTICE_HOURS
    if sunset_at is None or permissions.is_staff(actor):
        return
    if sunset_at < timezone.now() + dt.timedelta(hours=hours):
        raise Invalid.field(
            "sunset_at",
            f"Give consumers at least {hours} hours' notice: only staff set a sooner sunset.",
        )


def sunset_passed(prompt: Prompt, now: dt.datetime | None = None) -> bool:
    return prompt.sunset_at is not None and prompt.sunset_at <= (now or timezone.now())


@atomic_write
def prompt_retire(*, actor: Principal, prompt: Prompt, reason: str = "") -> Prompt:
    """Retire at or after the sunset; earlier (or with no sunset) only staff may, with a
    justification (`reason`), audited as an override."""
    prompt, _ = _lock_with_chain(prompt, None)
    _require_rights(actor, prompt)
    reason = check_note((reason or "").strip(), field="justification", what="The justification")
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{prompt.full_name} is already retired.", code=ErrorCode.UNCHANGED)
    early = not sunset_passed(prompt)
    if early and not permissions.is_staff(actor):
        when = f"its sunset ({prompt.sunset_at:%Y-%m-%d %H:%M %Z})" if prompt.sunset_at else ""
        raise PermissionDenied(
            f"Before {when} only staff retire {prompt.full_name}, with a justification."
            if when
            else f"{prompt.full_name} has no sunset: only staff retire it, with a justification."
        )
    if early and not reason:
        raise Invalid.field("justification", "Retiring before the sunset needs a justification.")
    before = _state(prompt)
    prompt.state = Prompt.State.RETIRED
    _stop_experiments(actor, prompt)
    if early:
        return _save(actor, prompt, "prompt.retired_early", before, reason, override=True)
    return _save(actor, prompt, "prompt.retired", before, reason)


@atomic_write
def prompt_retire_at_sunset(*, prompt: Prompt, now: dt.datetime | None = None) -> Prompt | None:
    """The portal's own retirement of a deprecated prompt whose sunset has passed, in a
    namespace that retires them automatically (`auto_retire`): audited as `system` (no person
    acted), the team told as for any retirement. Checked under the row lock, so a prompt
    reactivated or given a later sunset meanwhile is left alone (None)."""
    prompt, _ = _lock_with_chain(prompt, None)
    due = (
        prompt.state == Prompt.State.DEPRECATED
        and prompt.namespace.auto_retire
        and sunset_passed(prompt, now)
    )
    if not due:
        return None
    before = _state(prompt)
    prompt.state = Prompt.State.RETIRED
    _stop_experiments(None, prompt)
    reason = (
        f"Sunset {prompt.sunset_at.isoformat()} passed; namespace {prompt.namespace.slug} "
        "retires deprecated prompts automatically."
    )
    return _save(None, prompt, "prompt.retired", before, reason)


@atomic_write
def prompt_reactivate(*, actor: Principal, prompt: Prompt, reason: str) -> Prompt:
    """Bring a deprecated or retired prompt back to active (justification required)."""
    prompt, _ = _lock_with_chain(prompt, None)
    _require_rights(actor, prompt)
    reason = check_note((reason or "").strip(), field="justification", what="The justification")
    if prompt.state == Prompt.State.ACTIVE:
        raise Conflict(f"{prompt.full_name} is already active.", code=ErrorCode.UNCHANGED)
    if not reason:
        raise Invalid.field("justification", "Say why the prompt comes back.")
    before = _state(prompt)
    prompt.state = Prompt.State.ACTIVE
    prompt.deprecated_at = None
    prompt.deprecation_reason = ""
    prompt.sunset_at = None
    prompt.successor = None
    return _save(actor, prompt, "prompt.reactivated", before, reason)
