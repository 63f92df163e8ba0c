"""The playground: run a version (or a draft template) once on a model with some variables,
see the output, its tokens, latency and cost, and keep it as a new case of a suite.

Maintainers and owners of the prompt's namespace (and staff) run it and save cases; every
reader of the prompt sees the calls. Each call is recorded (a `PlaygroundCall`, audited),
a provider failure included: it still spent a call. The rate per person
(`PLAYGROUND_RATE`) is the web layers' throttle.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from portal.audit.services import audit
from portal.errors import Conflict, Invalid, NotFound
from portal.validation import check_json_value, check_text
from prompts import templating
from prompts.evaluations import runs
from prompts.evaluations.models import Case, Model, PlaygroundCall, Suite
from prompts.evaluations.providers import ProviderError, complete
from prompts.evaluations.suites import CaseInput, case_create
from prompts.models import Prompt, PromptVersion
from prompts.rendering import Source, check_variables, render
from teams import permissions
from teams.permissions import Principal, require

SAVE_AS = ("equals", "contains")
TEMPLATE_FORMATS = (templating.MUSTACHE, templating.JINJA2)


@dataclass(frozen=True)
class Draft:
    """A template not saved as a version yet (a text; `template_format` as a version's)."""

    template: str
    template_format: str = templating.MUSTACHE


def may_run(actor: Principal, prompt: Prompt) -> bool:
    return permissions.can_edit_prompts(actor, prompt.namespace)


def _require_run(actor: Principal, prompt: Prompt) -> None:
    require(
        may_run(actor, prompt),
        f"Only maintainers and owners of {prompt.namespace.team.slug} use the playground.",
    )


def _render_draft(draft: Draft, variables: dict[str, Any]) -> str:
    check_text(
        draft.template, field="template", limit=settings.MAX_TEMPLATE_BYTES, what="The draft"
    )
    if draft.template_format not in TEMPLATE_FORMATS:
        raise Invalid.field("template_format", "Use mustache or jinja2.")
    declared = templating.placeholders(draft.template_format, [draft.template])
    check_variables(declared=declared, given=variables)
    source = Source(template_format=draft.template_format, template=draft.template, includes={})
    return render(source, variables)


def playground_run(
    *,
    actor: Principal,
    prompt: Prompt,
    model: Model,
    variables: dict[str, Any],
    version: PromptVersion | None = None,
    draft: Draft | None = None,
    model_config: dict[str, Any] | None = None,
) -> PlaygroundCall:
    """Render `version` (or `draft`) with `variables`, run it once on `model` through its
    provider and record the call. The model_config is the version's, with `model_config`'s
    keys over it. Invalid variables or templates raise `Invalid` and record nothing."""
    _require_run(actor, prompt)
    if (version is None) == (draft is None):
        raise Invalid.field("version", "Give a version or a draft template (one of them).")
    if version is not None and version.prompt_id != prompt.pk:
        raise Invalid.field("version", f"{prompt.full_name} has no such version.")
    if not isinstance(variables, dict):
        raise Invalid.field("variables", "Variables must be an object of name → value.")
    if model_config is not None and not isinstance(model_config, dict):
        raise Invalid.field("model_config", "The model config must be an object.")
    check_json_value(variables, field="variables")
    check_json_value(model_config or {}, field="model_config")
    rendered = runs.render_for(version, variables) if version else _render_draft(draft, variables)
    config = {**((version.model_config or {}) if version else {}), **(model_config or {})}
    try:
        completion = complete(model=model, rendered=rendered, model_config=config)
    except ProviderError as exc:
        completion, error = None, str(exc) or "The provider failed."
    else:
        error = ""
    with transaction.atomic():
        call = PlaygroundCall.objects.create(
            prompt=prompt,
            version=version,
            model=model,
            user=actor,
            variables=variables,
            rendered=runs.rendered_text(rendered),
            output=completion.text if completion else "",
            latency_ms=completion.latency_ms if completion else None,
            input_tokens=completion.input_tokens if completion else 0,
            output_tokens=completion.output_tokens if completion else 0,
            cost_usd=completion.cost_usd if completion else 0,
            error=error,
        )
        audit(
            actor=actor,
            action="playground.run",
            object_type="playground_call",
            object_id=call.pk,
            namespace=prompt.namespace.slug,
            after={
                "prompt": prompt.full_name,
                "version": version.number if version else None,
                "draft": draft is not None,
                "model": model.name,
                "cost_usd": call.cost_usd,
                "error": error,
            },
        )
    return call


def playground_calls(*, prompt: Prompt) -> QuerySet[PlaygroundCall]:
    """The prompt's playground calls, newest first (for its readers)."""
    return PlaygroundCall.objects.filter(prompt=prompt).select_related("user", "model", "version")


def playground_call_get(*, prompt: Prompt, call_id: int) -> PlaygroundCall:
    call = playground_calls(prompt=prompt).filter(pk=call_id).first()
    if call is None:
        raise NotFound(f"{prompt.full_name} has no playground call {call_id}.")
    return call


def playground_save_case(
    *,
    actor: Principal,
    call: PlaygroundCall,
    suite: Suite,
    assertion: str = "equals",
    value: str | None = None,
    description: str = "",
) -> Case:
    """A new case of `suite` with the call's variables and one `equals` or `contains`
    assertion expecting the call's output (or `value`, the output as edited)."""
    _require_run(actor, call.prompt)
    if suite.prompt_id != call.prompt_id:
        raise Invalid.field("suite", f"{call.prompt.full_name} has no such suite.")
    if assertion not in SAVE_AS:
        raise Invalid.field("assertion", "Save the output as an equals or a contains assertion.")
    if call.error:
        raise Conflict(f"Playground call {call.pk} failed; it has no output to expect.")
    expected = call.output if value is None else value
    if not isinstance(expected, str) or not expected:
        raise Invalid.field("value", "The expected output is required.")
    data = CaseInput(
        description=description or f"From playground call {call.pk}",
        variables=call.variables,
        assertions=[{"type": assertion, "value": expected}],
    )
    return case_create(actor=actor, suite=suite, data=data)
