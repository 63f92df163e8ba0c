"""The reviewers' inbox, a request and its decision, requesting a promotion."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors, services
from approvals.forms import (
    ApproveForm,
    CancelForm,
    PromotionRequestForm,
    RejectForm,
)
from approvals.models import PromotionRequest, Review
from approvals.permissions import holds_promotion_right
from approvals.views.common import (
    INBOX_PER_PAGE,
    OWN_REQUESTS_PER_PAGE,
    attempt,
    prompt_or_404,
)
from portal.audit.permissions import can_read_audit
from portal.web import error_text, found, require_or_403
from prompts import selectors as prompt_selectors
from prompts.models import Prompt, PromptVersion
from teams import permissions

# --- The reviewers' inbox ---------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    pending = Paginator(selectors.inbox(user=request.user), INBOX_PER_PAGE).get_page(
        request.GET.get("page")
    )
    own = Paginator(
        selectors.promotion_requests_visible_to(user=request.user).filter(
            requested_by=request.user
        ),
        OWN_REQUESTS_PER_PAGE,
    ).get_page(request.GET.get("mine"))
    context = {
        "pending": pending,
        "pending_rows": [(p, p.approvals) for p in selectors.count_approvals(pending)],
        "own": own,
        "own_rows": [(p, p.approvals) for p in selectors.count_approvals(own)],
        "may_read_audit": can_read_audit(request.user),
    }
    return render(request, "approvals/inbox.html", context)


@require_GET
def inbox_count(request: HttpRequest) -> HttpResponse:
    """The badge of the navigation's Reviews link, loaded by htmx after the page: no page pays
    for the inbox query. A signed-out visitor gets nothing to swap."""
    if not permissions.is_user(request.user):
        return HttpResponse(status=204)
    count = selectors.inbox(user=request.user).count()
    return render(request, "approvals/_inbox_count.html", {"count": count})


# --- One request and its decision -------------------------------------------------------------


def _promotion_or_404(request: HttpRequest, pk: int) -> PromotionRequest:
    return found(selectors.promotion_request_get, user=request.user, pk=pk)


def _decision_context(
    request: HttpRequest, promotion: PromotionRequest, **overrides: Any
) -> dict[str, Any]:
    user = request.user
    may_decide = services.can_decide(promotion, user)
    four_eyes = services.four_eyes_refusal(promotion, user) if promotion.is_open else None
    holds_right = promotion.is_open and holds_promotion_right(
        user, promotion.prompt.namespace, promotion.environment
    )
    approved = promotion.is_open and any(
        review.reviewer_id == user.pk and review.decision == Review.Decision.APPROVE
        for review in promotion.reviews.all()
    )
    (promotion,) = selectors.count_approvals([promotion])
    approvals = promotion.approvals
    context = {
        "promotion": promotion,
        "approvals": approvals,
        "approvals_missing": max(promotion.required_approvals - approvals, 0),
        "may_decide": may_decide,
        "may_approve": may_decide and not approved,
        "approved_by_you": approved,
        "may_cancel": promotion.is_open and services.may_cancel(promotion, request.user),
        "four_eyes": four_eyes,
        "lacks_right": promotion.is_open and not four_eyes and not holds_right,
        "eligible": _still_needed_from(promotion),
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        "cancel_form": CancelForm(),
    }
    return context | overrides


def _still_needed_from(promotion: PromotionRequest) -> list | None:
    """Who can still approve: the eligible reviewers whose approval does not count yet; None
    once the request is closed or has expired. `promotion` went through count_approvals."""
    if not promotion.is_open or services.is_stale(promotion):
        return None
    reviewers = selectors.eligible_reviewers(request=promotion)
    return [reviewer for reviewer in reviewers if reviewer.pk not in promotion.counted]


def _comparison(promotion: PromotionRequest) -> dict[str, Any]:
    """The requested version against what the environment runs now; once the request is
    applied (the environment runs it), against what ran before the request."""
    deployments = prompt_selectors.prompt_deployments(prompt=promotion.prompt)
    running = next(
        (
            row.deployment.version
            for row in deployments
            if row.deployment and row.environment.pk == promotion.environment_id
        ),
        None,
    )
    against = running
    if running is not None and running.pk == promotion.version_id:
        against = promotion.previous_version
    diff = prompt_selectors.version_diff(old=against, new=promotion.version) if against else None
    return {"deployments": deployments, "running": running, "against": against, "diff": diff}


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


def _decision_swap(
    request: HttpRequest, promotion: PromotionRequest, context: dict[str, Any]
) -> HttpResponse:
    """The decision panel for htmx to swap, and out of band what the decision changed
    elsewhere on the page: the navigation's Reviews badge, what runs now, the changes."""
    context |= _comparison(promotion) | {"count": selectors.inbox(user=request.user).count()}
    return render(request, "approvals/_decision_response.html", context)


@login_required
@require_POST
def promotion_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Approve, reject or cancel. htmx swaps the decision panel (refusals included, with a 200,
    since htmx swaps only 2xx answers); a plain form post redirects or re-renders the page."""
    target = _promotion_or_404(request, pk)
    form_class, decide = DECISIONS[decision]
    form = form_class(request.POST)
    _, status = attempt(
        form, lambda data: decide(actor=request.user, request=target, comment=data["comment"])
    )
    promotion = _promotion_or_404(request, pk)
    if form.errors:
        context = _decision_context(request, promotion, **{f"{decision}_form": form})
        shows_form = {"approve": "may_approve", "reject": "may_decide", "cancel": "may_cancel"}
        if not context[shows_form[decision]]:
            context["decision_error"] = error_text(form)
        if request.htmx:
            return _decision_swap(request, promotion, context)
        context |= _comparison(promotion)
        return render(request, "approvals/request_detail.html", context, status=status)
    (promotion,) = selectors.count_approvals([promotion])
    notice = _decision_notice(decision, promotion, promotion.approvals)
    if request.htmx:
        context = _decision_context(request, promotion, decision_notice=notice)
        return _decision_swap(request, promotion, context)
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
    prompt = prompt_or_404(request, namespace, name)
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
    created, status = attempt(
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
