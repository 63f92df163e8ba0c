"""The namespace page: description and visibility, its prompts, promotion rights per
environment, service tokens. It lives here, at the top, because it shows all three apps."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from approvals import selectors, services
from approvals.forms import PromotionRightForm
from approvals.permissions import can_grant_promotion_right
from portal.web import error_status, error_text, found, report, require_or_403, submit
from prompts.models import Environment
from prompts.selectors import prompts_visible_to
from teams import permissions, tokens
from teams import selectors as team_selectors
from teams import services as team_services
from teams.forms import ActionForm, NamespaceForm, ServiceTokenForm
from teams.models import Namespace
from teams.views import secret_keep, secret_pop, token_or_404


def _grantable(
    request: HttpRequest, namespace: Namespace, environments: list[Environment]
) -> list[Environment]:
    return [
        environment
        for environment in environments
        if can_grant_promotion_right(request.user, namespace, environment)
    ]


def _right_form(
    grantable: list[Environment], data: Any = None, **kwargs: Any
) -> PromotionRightForm:
    environments = Environment.objects.filter(pk__in=[env.pk for env in grantable])
    return PromotionRightForm(data, environments=environments, **kwargs)


def _parse_right(request: HttpRequest, namespace: Namespace, **kwargs: Any) -> PromotionRightForm:
    grantable = _grantable(request, namespace, list(Environment.objects.all()))
    require_or_403(bool(grantable), "You may not grant promotion rights in this namespace.")
    return _right_form(grantable, request.POST, **kwargs)


def _namespace_context(
    request: HttpRequest, namespace: Namespace, **overrides: Any
) -> dict[str, Any]:
    user = request.user
    can_manage = permissions.can_manage_namespace(user, namespace)
    environments = list(Environment.objects.all())
    grantable = _grantable(request, namespace, environments)
    rights = selectors.promotion_rights(namespace=namespace)
    context = {
        "namespace": namespace,
        "can_manage": can_manage,
        "can_edit_prompts": permissions.can_edit_prompts(user, namespace),
        "prompts": prompts_visible_to(user=user).filter(namespace=namespace),
        "rights": [
            (env, env in grantable, [right for right in rights if right.environment.pk == env.pk])
            for env in environments
        ],
        "grant_form": _right_form(grantable) if grantable else None,
        "namespace_form": NamespaceForm(initial=NamespaceForm.initial_from(namespace)),
        "token_form": ServiceTokenForm(),
        "service_tokens": team_selectors.service_tokens_of(namespace=namespace)
        if can_manage
        else (),
    }
    return context | overrides


def _namespace_page(
    request: HttpRequest, namespace: Namespace, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _namespace_context(request, namespace, **extra)
    return render(request, "approvals/namespace_detail.html", context, status=status)


def _namespace_for_manager(request: HttpRequest, slug: str) -> Namespace:
    namespace = found(team_selectors.namespace_get, user=request.user, slug=slug)
    require_or_403(
        permissions.can_manage_namespace(request.user, namespace),
        "Only the owning team's owners or staff manage this namespace.",
    )
    return namespace


def _to_namespace(namespace: Namespace, anchor: str) -> HttpResponse:
    return redirect(reverse("approvals:namespace", args=[namespace.slug]) + anchor)


@login_required
def namespace_detail(request: HttpRequest, namespace: str) -> HttpResponse:
    target = found(team_selectors.namespace_get, user=request.user, slug=namespace)
    shown = {}
    if permissions.can_manage_namespace(request.user, target):
        shown = secret_pop(
            request,
            f"namespace:{target.slug}",
            team_selectors.service_tokens_of(namespace=target),
        )
    response = _namespace_page(request, target, **shown)
    if shown:
        add_never_cache_headers(response)
    return response


@login_required
@require_POST
def namespace_update(request: HttpRequest, namespace: str) -> HttpResponse:
    target = _namespace_for_manager(request, namespace)
    form = NamespaceForm(request.POST)
    submit(
        form,
        lambda data: team_services.namespace_update(actor=request.user, namespace=target, **data),
    )
    if form.errors:
        return _namespace_page(request, target, status=error_status(form), namespace_form=form)
    messages.success(request, "Namespace saved.")
    return redirect("approvals:namespace", target.slug)


@login_required
@require_POST
def right_grant(request: HttpRequest, namespace: str) -> HttpResponse:
    target = found(team_selectors.namespace_get, user=request.user, slug=namespace)
    form = _parse_right(request, target)
    submit(
        form,
        lambda data: services.promotion_right_grant(
            actor=request.user,
            namespace=target,
            environment=data["environment"],
            user=data["username"],
            team=data["team"],
        ),
    )
    if form.errors:
        return _namespace_page(request, target, status=error_status(form), grant_form=form)
    holder = form.cleaned_data["username"] or form.cleaned_data["team"]
    messages.success(request, f"{holder} may now promote in {form.cleaned_data['environment']}.")
    return _to_namespace(target, "#promotion-rights")


@login_required
@require_POST
def right_revoke(request: HttpRequest, namespace: str) -> HttpResponse:
    target = found(team_selectors.namespace_get, user=request.user, slug=namespace)
    form = _parse_right(request, target, active_only=False)
    revoked = submit(
        form,
        lambda data: services.promotion_right_revoke(
            actor=request.user,
            namespace=target,
            environment=data["environment"],
            user=data["username"],
            team=data["team"],
        ),
    )
    if form.errors:
        return _namespace_page(
            request, target, status=error_status(form), rights_error=error_text(form)
        )
    holder = form.cleaned_data["username"] or form.cleaned_data["team"]
    environment = form.cleaned_data["environment"]
    if revoked:
        messages.success(request, f"{holder} may no longer promote in {environment}.")
    else:
        messages.info(request, f"{holder} held no promotion right in {environment}.")
    return _to_namespace(target, "#promotion-rights")


@login_required
@require_POST
@never_cache
def service_token_create(request: HttpRequest, namespace: str) -> HttpResponse:
    target = _namespace_for_manager(request, namespace)
    form = ServiceTokenForm(request.POST)
    created = submit(
        form,
        lambda data: tokens.service_token_create(actor=request.user, namespaces=[target], **data),
    )
    if form.errors:
        return _namespace_page(request, target, status=error_status(form), token_form=form)
    token, secret = created
    secret_keep(request, f"namespace:{target.slug}", token, secret)
    return _to_namespace(target, "#new-token")


@login_required
@require_POST
def service_token_revoke(request: HttpRequest, namespace: str, prefix: str) -> HttpResponse:
    target = _namespace_for_manager(request, namespace)
    token = token_or_404(team_selectors.service_tokens_of(namespace=target), prefix)
    form = ActionForm(request.POST)
    submit(form, lambda _: tokens.token_revoke(actor=request.user, token=token))
    report(request, form, f"Revoked the service token {token.name} ({token.prefix}).")
    return _to_namespace(target, "#service-tokens")
