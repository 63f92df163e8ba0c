"""Portal pages for the promotion workflow: the reviewers' inbox, a request and its decision,
the request form, deployment history with rollback, and the audit log."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import audit, selectors, services
from approvals.forms import (
    ApproveForm,
    AuditFilterForm,
    CancelForm,
    PromotionRequestForm,
    RejectForm,
    RollbackForm,
)
from approvals.models import PromotionRequest, Review
from portal.errors import Conflict, Invalid, PermissionDenied
from portal.web import FORM_ERROR_STATUS, SlugChoiceField, apply_domain_error, found, require_or_403
from prompts import selectors as prompt_selectors
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from teams import permissions

T = TypeVar("T")

INBOX_PER_PAGE = 50
OWN_REQUESTS_PER_PAGE = 20
AUDIT_PER_PAGE = 50


def _attempt(form: forms.BaseForm, action: Callable[[dict[str, Any]], T]) -> tuple[T | None, int]:
    """Like `portal.web.submit`, and also answers the status of a refusal: the domain error's
    own (403 refused, 409 conflict, 422 invalid), so a four-eyes refusal is a 403 too."""
    if not form.is_valid():
        return None, FORM_ERROR_STATUS
    try:
        return action(form.cleaned_data), 200
    except (Invalid, Conflict, PermissionDenied) as exc:
        apply_domain_error(form, exc)
        return None, exc.status


def _error_text(form: forms.BaseForm) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


def _prompt_or_404(request: HttpRequest, namespace: str, name: str) -> Prompt:
    return found(prompt_selectors.prompt_get, user=request.user, namespace=namespace, name=name)


def _approvals(promotion: PromotionRequest) -> int:
    """Counted from the prefetched reviews, so lists of requests cost no query per row."""
    return sum(
        1 for review in promotion.reviews.all() if review.decision == Review.Decision.APPROVE
    )


# --- The reviewers' inbox ---------------------------------------------------------------------


def _waiting_for(request: HttpRequest) -> QuerySet[PromotionRequest]:
    """The inbox without the requests this user already approved: nothing is left for them to
    do there (`selectors.inbox` lists them until the request closes)."""
    return selectors.inbox(user=request.user).exclude(reviews__reviewer=request.user)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    pending = Paginator(_waiting_for(request), INBOX_PER_PAGE).get_page(request.GET.get("page"))
    own = Paginator(
        selectors.promotion_requests_visible_to(user=request.user).filter(
            requested_by=request.user
        ),
        OWN_REQUESTS_PER_PAGE,
    ).get_page(request.GET.get("mine"))
    context = {
        "pending": pending,
        "pending_rows": [(promotion, _approvals(promotion)) for promotion in pending],
        "own": own,
        "own_rows": [(promotion, _approvals(promotion)) for promotion in own],
        "may_read_audit": permissions.can_read_audit(request.user),
    }
    return render(request, "approvals/inbox.html", context)


@require_GET
def inbox_count(request: HttpRequest) -> HttpResponse:
    """The badge of the navigation's Reviews link, loaded by htmx after the page: no page pays
    for the inbox query. A signed-out visitor gets nothing to swap."""
    if not permissions.is_user(request.user):
        return HttpResponse(status=204)
    count = _waiting_for(request).count()
    return render(request, "approvals/_inbox_count.html", {"count": count})


# --- One request and its decision -------------------------------------------------------------


def _promotion_or_404(request: HttpRequest, pk: int) -> PromotionRequest:
    return found(selectors.promotion_request_get, user=request.user, pk=pk)


def _may_cancel(request: HttpRequest, promotion: PromotionRequest) -> bool:
    user = request.user
    return (
        promotion.is_open
        and permissions.is_user(user)
        and (
            user.pk == promotion.requested_by_id
            or permissions.can_manage_namespace(user, promotion.prompt.namespace)
        )
    )


def _decision_context(
    request: HttpRequest, promotion: PromotionRequest, **overrides: Any
) -> dict[str, Any]:
    user = request.user
    may_decide = services.can_decide(promotion, user)
    four_eyes = services.four_eyes_refusal(promotion, user) if promotion.is_open else None
    holds_right = promotion.is_open and permissions.holds_promotion_right(
        user, promotion.prompt.namespace, promotion.environment
    )
    approved = promotion.is_open and any(
        review.reviewer_id == user.pk and review.decision == Review.Decision.APPROVE
        for review in promotion.reviews.all()
    )
    approvals = _approvals(promotion)
    context = {
        "promotion": promotion,
        "approvals": approvals,
        "approvals_missing": max(promotion.required_approvals - approvals, 0),
        "may_decide": may_decide,
        "may_approve": may_decide and not approved,
        "approved_by_you": approved,
        "may_cancel": _may_cancel(request, promotion),
        "four_eyes": four_eyes,
        "lacks_right": promotion.is_open and not four_eyes and not holds_right,
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        "cancel_form": CancelForm(),
    }
    return context | overrides


def _comparison(promotion: PromotionRequest) -> dict[str, Any]:
    """The requested version against what the environment runs now; once the request is
    applied (the environment runs it), against what ran before the request."""
    running = next(
        (
            row.deployment.version
            for row in prompt_selectors.prompt_deployments(prompt=promotion.prompt)
            if row.deployment and row.environment.pk == promotion.environment_id
        ),
        None,
    )
    against = running
    if running is not None and running.pk == promotion.version_id:
        against = promotion.previous_version
    diff = prompt_selectors.version_diff(old=against, new=promotion.version) if against else None
    return {"running": running, "against": against, "diff": diff}


def _request_page(
    request: HttpRequest, promotion: PromotionRequest, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _decision_context(request, promotion, **extra) | _comparison(promotion)
    return render(request, "approvals/request_detail.html", context, status=status)


@login_required
def promotion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _request_page(request, _promotion_or_404(request, pk))


DECISIONS: dict[str, tuple[type[forms.Form], Callable[..., PromotionRequest]]] = {
    "approve": (ApproveForm, services.promotion_approve),
    "reject": (RejectForm, services.promotion_reject),
    "cancel": (CancelForm, services.promotion_cancel),
}


def _decision_notice(decision: str, promotion: PromotionRequest, approvals: int) -> str:
    environment = promotion.environment.name
    if promotion.state == PromotionRequest.State.APPLIED:
        return f"Approved and applied: {environment} now runs v{promotion.version.number}."
    if decision == "approve":
        return f"Approved: {approvals} of {promotion.required_approvals} approvals so far."
    return f"Request #{promotion.pk} is {promotion.state}."


@login_required
@require_POST
def promotion_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Approve, reject or cancel. htmx swaps the decision panel (refusals included, with a 200,
    since htmx swaps only 2xx answers); a plain form post redirects or re-renders the page."""
    target = _promotion_or_404(request, pk)
    form_class, decide = DECISIONS[decision]
    form = form_class(request.POST)
    _, status = _attempt(
        form, lambda data: decide(actor=request.user, request=target, comment=data["comment"])
    )
    promotion = _promotion_or_404(request, pk)
    if form.errors:
        context = _decision_context(request, promotion, **{f"{decision}_form": form})
        shows_form = {"approve": "may_approve", "reject": "may_decide", "cancel": "may_cancel"}
        if not context[shows_form[decision]]:
            context["decision_error"] = _error_text(form)
        if request.htmx:
            return render(request, "approvals/_decision.html", context)
        context |= _comparison(promotion)
        return render(request, "approvals/request_detail.html", context, status=status)
    notice = _decision_notice(decision, promotion, _approvals(promotion))
    if request.htmx:
        context = _decision_context(request, promotion, decision_notice=notice)
        return render(request, "approvals/_decision.html", context)
    messages.success(request, notice)
    return redirect("approvals:request", promotion.pk)


# --- Requesting a promotion -------------------------------------------------------------------


def _promotion_initial(
    request: HttpRequest, prompt: Prompt, versions: list[PromptVersion]
) -> dict[str, Any]:
    """The version named in the link (else the latest) and the first environment that does
    not run it yet."""
    numbers = {str(version.number): version for version in versions}
    version = numbers.get(request.GET.get("version", ""), versions[0] if versions else None)
    environment = request.GET.get("environment")
    if not environment and version is not None:
        environment = next(
            (
                row.environment.slug
                for row in prompt_selectors.prompt_deployments(prompt=prompt)
                if not row.deployment or row.deployment.version_id != version.pk
            ),
            None,
        )
    return {"version": version.number if version else None, "environment": environment}


def _promotion_form_page(
    request: HttpRequest, prompt: Prompt, form: PromotionRequestForm, status: int = 200
) -> HttpResponse:
    context = {
        "prompt": prompt,
        "form": form,
        "deployments": prompt_selectors.prompt_deployments(prompt=prompt),
        "open_requests": selectors.promotion_requests_visible_to(user=request.user).filter(
            prompt=prompt, state=PromotionRequest.State.PENDING
        ),
    }
    return render(request, "approvals/promotion_form.html", context, status=status)


@login_required
def promotion_create(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    require_or_403(
        permissions.can_request_promotion(request.user, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} request promotions here.",
    )
    versions = list(prompt_selectors.prompt_versions(prompt=prompt))
    options = {"versions": versions, "may_override": permissions.is_staff(request.user)}
    if request.method != "POST":
        initial = _promotion_initial(request, prompt, versions)
        return _promotion_form_page(
            request, prompt, PromotionRequestForm(initial=initial, **options)
        )
    form = PromotionRequestForm(request.POST, **options)
    created, status = _attempt(
        form,
        lambda data: services.promotion_request(actor=request.user, prompt=prompt, **data),
    )
    if form.errors:
        return _promotion_form_page(request, prompt, form, status=status)
    environment = created.environment.name
    if created.state == PromotionRequest.State.APPLIED:
        notice = f"Applied: {environment} now runs v{created.version.number}."
    else:
        approvals = created.required_approvals
        notice = (
            f"Requested v{created.version.number} in {environment}: it needs "
            f"{approvals} approval{'s' if approvals != 1 else ''}."
        )
    messages.success(request, notice)
    return redirect("approvals:request", created.pk)


# --- Deployment history and rollback ----------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentHistory:
    environment: Environment
    deployment: Deployment | None
    changes: list
    may_roll_back: bool
    rollback_form: RollbackForm | None


def _rollback_candidates(prompt: Prompt, row: Any) -> list[PromptVersion]:
    return [
        version
        for version in services.previous_versions(prompt=prompt, environment=row.environment)
        if version.pk != row.deployment.version_id
    ]


def _history_page(
    request: HttpRequest,
    prompt: Prompt,
    status: int = 200,
    bound: RollbackForm | None = None,
    **extra: Any,
) -> HttpResponse:
    changes: dict[int, list] = {}
    for change in selectors.deployment_history(prompt=prompt).select_related("deployed_by"):
        changes.setdefault(change.environment_id, []).append(change)
    environments = []
    for row in prompt_selectors.prompt_deployments(prompt=prompt):
        environment = row.environment
        may_roll_back = row.deployment is not None and permissions.holds_promotion_right(
            request.user, prompt.namespace, environment
        )
        form = None
        if bound is not None and bound.environment == environment:
            form = bound
        elif may_roll_back:
            candidates = _rollback_candidates(prompt, row)
            form = RollbackForm(environment=environment, candidates=candidates)
        environments.append(
            EnvironmentHistory(
                environment=environment,
                deployment=row.deployment,
                changes=changes.get(environment.pk, []),
                may_roll_back=may_roll_back,
                rollback_form=form,
            )
        )
    context = {"prompt": prompt, "environments": environments, **extra}
    return render(request, "approvals/deployment_history.html", context, status=status)


@login_required
def deployment_history(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    return _history_page(request, _prompt_or_404(request, namespace, name))


def _posted_environment(request: HttpRequest) -> Environment | None:
    try:
        return SlugChoiceField(queryset=Environment.objects.all()).clean(
            request.POST.get("environment")
        )
    except ValidationError:
        return None


@login_required
@require_POST
def rollback(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    environment = _posted_environment(request)
    if environment is None:
        return _history_page(
            request,
            prompt,
            status=FORM_ERROR_STATUS,
            rollback_error="Choose an environment to roll back.",
        )
    require_or_403(
        permissions.holds_promotion_right(request.user, prompt.namespace, environment),
        f"You do not hold the promotion right for {prompt.namespace.slug} in {environment.slug}.",
    )
    row = next(
        row
        for row in prompt_selectors.prompt_deployments(prompt=prompt)
        if row.environment == environment
    )
    candidates = _rollback_candidates(prompt, row) if row.deployment else []
    form = RollbackForm(request.POST, environment=environment, candidates=candidates)
    deployment, status = _attempt(
        form,
        lambda data: services.rollback(
            actor=request.user,
            prompt=prompt,
            environment=environment,
            version=data["version"],
            justification=data["justification"],
        ),
    )
    if form.errors:
        return _history_page(request, prompt, status=status, bound=form)
    messages.success(
        request, f"Rolled back {environment.name}: it now runs v{deployment.version.number}."
    )
    url = reverse("approvals:deployments", args=[prompt.namespace.slug, prompt.name])
    return redirect(f"{url}#env-{environment.slug}")


# --- The audit log ----------------------------------------------------------------------------


def _require_auditor(request: HttpRequest) -> None:
    require_or_403(
        permissions.can_read_audit(request.user),
        "Only staff and members of the auditors group read the audit log.",
    )


def _compact(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _export_urls(query: dict[str, Any]) -> dict[str, str]:
    """The streamed export of the same entries: the API takes the filters as ISO datetimes."""
    params = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in query.items()
    }
    base = reverse("api-audit-export")
    return {fmt: f"{base}?{urlencode({'format': fmt, **params})}" for fmt in ("csv", "jsonl")}


def _filter_params(form: AuditFilterForm) -> str:
    """The filters as typed, for the pager's links."""
    return urlencode(
        {name: form.data[name] for name in form.fields if form.data.get(name)}, doseq=False
    )


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    form = AuditFilterForm(request.GET)
    verification = audit.verify() if request.GET.get("verify") else None
    context = {"form": form, "verification": verification, "page": None, "filters": ""}
    if not form.is_valid():
        return render(request, "approvals/audit.html", context, status=FORM_ERROR_STATUS)
    query = form.query()
    entries = selectors.audit_entries(**query).order_by("-seq")
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    context |= {
        "page": page,
        "rows": [(entry, _compact(entry.before), _compact(entry.after)) for entry in page],
        "filters": _filter_params(form),
        "export": _export_urls(query),
    }
    return render(request, "approvals/audit.html", context)


@login_required
@require_GET
def audit_verify(request: HttpRequest) -> HttpResponse:
    """htmx asks for the verification alone; without it, the page shows it."""
    _require_auditor(request)
    if not request.htmx:
        return redirect(f"{reverse('approvals:audit')}?verify=1")
    return render(request, "approvals/_verification.html", {"verification": audit.verify()})
