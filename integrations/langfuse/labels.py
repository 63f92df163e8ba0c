"""Langfuse labels on our data. A label is an environment (by slug), plus `latest` (the newest
version). Setting a label never bypasses governance: it is a promotion request, which applies at
once where the environment needs no approval and otherwise waits for its reviewers. Where the
environment's order requires the version to have run in an earlier environment that needs
approval (staging before production), the request opened is that earlier environment's, and
it carries the label's environment as where to go on: once it applies, the next step is
requested in the requester's name (approvals' `promotion_toward`). The outcome says so.
"""

from dataclasses import dataclass

from approvals.models import PromotionRequest
from approvals.services import promotion_toward
from approvals.services.common import missing_earlier_environments
from approvals.services.promotions import next_step
from portal.errors import DomainError
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from teams.permissions import Principal

LATEST = "latest"


@dataclass(frozen=True)
class LabelOutcome:
    """What happened to one label: `held` (the version has it now), `pending` (a request waits
    for approval: `request`, in `environment`), or `refused` (`detail`, `code`)."""

    label: str
    state: str
    environment: str | None = None
    request: PromotionRequest | None = None
    detail: str = ""
    code: str = ""

    def as_json(self) -> dict:
        body = {"label": self.label, "state": self.state, "environment": self.environment}
        if self.request is not None:
            body["request"] = {
                "id": self.request.pk,
                "state": self.request.state,
                "environment": self.request.environment.slug,
                "required_approvals": self.request.required_approvals,
                "url": f"/promotions/{self.request.pk}/",
            }
        if self.detail:
            body |= {"detail": self.detail, "code": self.code}
        return body


def labels_by_version(prompt: Prompt) -> dict[int, list[str]]:
    """Each version number's labels: the environments running it (in their order) and
    `latest` for the newest. Two queries."""
    labels: dict[int, list[str]] = {}
    deployments = (
        Deployment.objects.filter(prompt=prompt)
        .select_related("environment", "version")
        .order_by("environment__order")
    )
    for deployment in deployments:
        labels.setdefault(deployment.version.number, []).append(deployment.environment.slug)
    newest = prompt.versions.order_by("-number").values_list("number", flat=True).first()
    if newest is not None:
        labels.setdefault(newest, []).append(LATEST)
    return labels


def _pending(prompt: Prompt, environment: Environment, version: PromptVersion):
    return (
        PromotionRequest.objects.select_related("environment")
        .filter(
            prompt=prompt,
            environment=environment,
            version=version,
            kind=PromotionRequest.Kind.PROMOTION,
            state=PromotionRequest.State.PENDING,
        )
        .first()
    )


def label_move(
    *,
    actor: Principal,
    prompt: Prompt,
    version: PromptVersion,
    label: str,
    justification: str,
) -> LabelOutcome:
    """Give `version` the label, as far as governance allows now. Each request is one
    transaction of its own (promotion_request's); a refusal is an outcome, not an error, so
    the other labels of the same call still go through."""
    if label == LATEST:
        newest = prompt.versions.order_by("-number").values_list("number", flat=True).first()
        if newest == version.number:
            return LabelOutcome(label=label, state="held")
        return LabelOutcome(
            label=label,
            state="refused",
            detail="`latest` always names the newest version.",
            code="invalid",
        )
    environment = Environment.objects.filter(slug=label).first()
    if environment is None:
        known = ", ".join(Environment.objects.order_by("order").values_list("slug", flat=True))
        return LabelOutcome(
            label=label,
            state="refused",
            detail=f"No environment {label!r}: labels name environments ({known}) or latest.",
            code="unknown_label",
        )
    if Deployment.objects.filter(prompt=prompt, environment=environment, version=version).exists():
        return LabelOutcome(label=label, state="held", environment=environment.slug)
    missing = missing_earlier_environments(prompt, environment, version)
    waiting = _pending(prompt, next_step(prompt, version, environment), version)
    if waiting is not None:
        return _outcome(label, environment, waiting, missing)
    try:
        request = promotion_toward(
            actor=actor,
            prompt=prompt,
            version=version,
            environment=environment,
            justification=justification,
        )
    except DomainError as error:
        return LabelOutcome(
            label=label,
            state="refused",
            environment=environment.slug,
            detail=error.detail,
            code=str(error.code),
        )
    return _outcome(label, environment, request, missing)


def _outcome(
    label: str, environment: Environment, request: PromotionRequest, missing: list[str]
) -> LabelOutcome:
    if request.state == PromotionRequest.State.APPLIED and not missing:
        return LabelOutcome(label=label, state="held", environment=environment.slug)
    if missing:
        detail = (
            f"Version {request.version.number} must run in {', '.join(missing)} before "
            f"{environment.slug}: request #{request.pk} for {request.environment.slug} is "
            f"{request.state}; once it applies, {environment.slug} is requested next."
        )
    else:
        detail = (
            f"{environment.slug} needs {request.required_approvals} approval(s): request "
            f"#{request.pk} waits for review; the label moves when it is approved."
        )
    return LabelOutcome(
        label=label,
        state="pending",
        environment=environment.slug,
        request=request,
        detail=detail,
        code="approval_pending",
    )
