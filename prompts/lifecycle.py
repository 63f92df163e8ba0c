"""Prompt lifecycle writes: active → deprecated (reason, sunset, successor) → retired, and back.

Consumers see the state at once: resolve answers carry Deprecation/Sunset/Link headers for a
deprecated prompt and 410 for a retired one; every change invalidates the prompt's cached answers
on commit.
"""

import datetime as dt

from django.utils import timezone

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.transactions import atomic_write
from portal.validation import check_note
from prompts import resolve as resolve_cache
from prompts.models import Prompt
from teams import permissions
from teams.permissions import Principal, require


def _state(prompt: Prompt) -> dict:
    return {
        "state": prompt.state,
        "reason": prompt.deprecation_reason,
        "sunset_at": prompt.sunset_at.isoformat() if prompt.sunset_at else None,
        "successor": prompt.successor.full_name if prompt.successor else None,
    }


def _locked(actor: Principal, prompt: Prompt) -> Prompt:
    prompt = (
        Prompt.objects.select_for_update(of=("self",))
        .select_related("namespace__team", "successor__namespace")
        .get(pk=prompt.pk)
    )
    require(
        permissions.can_edit_prompts(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} change its lifecycle.",
    )
    return prompt


def _save(actor: Principal, prompt: Prompt, action: str, before: dict, justification: str):
    check_note(justification, field="reason", what="The reason")
    prompt.save()
    audit(
        actor=actor,
        action=action,
        object_type="prompt",
        object_id=prompt.full_name,
        namespace=prompt.namespace.slug,
        justification=justification,
        before=before,
        after=_state(prompt),
    )
    resolve_cache.invalidate_prompts([prompt])
    return prompt


@atomic_write
def prompt_deprecate(
    *,
    actor: Principal,
    prompt: Prompt,
    reason: str,
    sunset_at: dt.datetime | None = None,
    successor: Prompt | None = None,
) -> Prompt:
    prompt = _locked(actor, prompt)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid.field("reason", "Say why the prompt is deprecated.")
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(
            f"{prompt.full_name} is retired; reactivate it first.", code=ErrorCode.RETIRED
        )
    if sunset_at is not None and sunset_at <= timezone.now():
        raise Invalid.field("sunset_at", "The sunset must be in the future.")
    if successor is not None and successor.pk == prompt.pk:
        raise Invalid.field("successor", "A prompt cannot succeed itself.")
    before = _state(prompt)
    prompt.state = Prompt.State.DEPRECATED
    prompt.deprecated_at = prompt.deprecated_at or timezone.now()
    prompt.deprecation_reason = reason
    prompt.sunset_at = sunset_at
    prompt.successor = successor
    return _save(actor, prompt, "prompt.deprecated", before, reason)


@atomic_write
def prompt_retire(*, actor: Principal, prompt: Prompt, reason: str = "") -> Prompt:
    prompt = _locked(actor, prompt)
    if prompt.state == Prompt.State.RETIRED:
        return prompt
    before = _state(prompt)
    prompt.state = Prompt.State.RETIRED
    return _save(actor, prompt, "prompt.retired", before, reason)


@atomic_write
def prompt_reactivate(*, actor: Principal, prompt: Prompt, reason: str = "") -> Prompt:
    prompt = _locked(actor, prompt)
    if prompt.state == Prompt.State.ACTIVE:
        return prompt
    before = _state(prompt)
    prompt.state = Prompt.State.ACTIVE
    prompt.deprecated_at = None
    prompt.deprecation_reason = ""
    prompt.sunset_at = None
    prompt.successor = None
    return _save(actor, prompt, "prompt.reactivated", before, reason)
