import math
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.api.throttles import RenderThrottle
from portal.converters import version_number
from portal.errors import DomainError
from portal.validators import SLUG_PATTERN
from portal.web import SlugChoiceField, error_status, found, require_or_403, submit
from prompts import catalog, resolve, selectors, services
from prompts.filters import PromptFilter
from prompts.forms import EnvironmentCreateForm, EnvironmentForm, PromptCreateForm, VersionForm
from prompts.models import Environment, Experiment, Prompt, PromptVersion
from teams import permissions
from teams.models import Namespace
from teams.selectors import namespaces_visible_to, teams_visible_to, user_roles

SLUG = re.compile(SLUG_PATTERN)


PROMPTS_PER_PAGE = 50
EXPERIMENTS_SHOWN = 5


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Every prompt the user may see, what runs where, filtered and searched like the API."""
    data = request.GET.copy()
    data["q"] = catalog.clean_query(data.get("q", ""))
    filters = PromptFilter(data, queryset=selectors.prompts_visible_to(user=request.user))
    prompts = filters.qs if filters.is_valid() else Prompt.objects.none()
    page = Paginator(prompts, PROMPTS_PER_PAGE).get_page(request.GET.get("page"))
    environments = list(Environment.objects.order_by("order"))
    namespaces = list(
        namespaces_visible_to(user=request.user).annotate(prompt_count=Count("prompts"))
    )  # the filter's options and the Namespaces list: one query
    roles = user_roles(user=request.user)
    teams = [
        (team, roles.get(team.pk))
        for team in teams_visible_to(user=request.user).annotate(
            member_count=Count("memberships", distinct=True)
        )
    ]
    chosen = {name: data.get(name, "") for name in PromptFilter.base_filters}
    context = {
        "teams": teams,
        "namespaces": namespaces,
        "page": page,
        "rows": catalog.rows(list(page), environments),
        "environments": environments,
        "filters": filters,
        "chosen": chosen,
        "filtered": any(chosen.values()),
        "tags": catalog.tags_in_use(user=request.user),
        "states": Prompt.State.choices,
        "kinds": Prompt.Kind.choices,
    }
    return render(request, "prompts/home.html", context, status=200 if filters.is_valid() else 400)


def _prompt_or_404(request: HttpRequest, namespace: str, name: str) -> Prompt:
    return found(selectors.prompt_get, user=request.user, namespace=namespace, name=name)


@login_required
def prompt_detail(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    deployed = selectors.prompt_deployments(prompt=prompt)
    environments_by_version: dict[int, list[str]] = {}
    for row in deployed:
        if row.deployment:
            environments_by_version.setdefault(row.deployment.version_id, []).append(
                row.environment.slug
            )
    versions = [
        (version, environments_by_version.get(version.pk, []))
        for version in selectors.prompt_versions(prompt=prompt)
    ]
    running = next((row for row in reversed(deployed) if row.deployment), None)
    preview_environment = running.environment.slug if running else "production"
    experiments = selectors.prompt_experiments(prompt=prompt)
    running_experiments = {
        e.environment_id: e for e in experiments.filter(state=Experiment.State.RUNNING)
    }
    return render(
        request,
        "prompts/prompt_detail.html",
        {
            "prompt": prompt,
            "use_it": _preview_context(request, prompt, preview_environment),
            "deployments": deployed,
            "deployment_rows": [
                (row, running_experiments.get(row.environment.pk)) for row in deployed
            ],
            "running": running,
            "top_environment": deployed[-1].environment if deployed else None,
            "versions": versions,
            "can_edit": permissions.can_edit_prompts(request.user, prompt.namespace),
            "may_promote": permissions.can_request_promotion(request.user, prompt.namespace),
            "experiments": experiments[:EXPERIMENTS_SHOWN],
        },
    )


@login_required
def version_detail(request: HttpRequest, namespace: str, name: str, number: int) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    version = found(selectors.prompt_version_get, prompt=prompt, number=number)
    against_number = version_number(request.GET.get("against"))
    if against_number is not None:
        against = found(selectors.prompt_version_get, prompt=prompt, number=against_number)
    else:
        against = version.parent
    diff = selectors.version_diff(old=against, new=version) if against else None
    return render(
        request,
        "prompts/version_detail.html",
        {
            "prompt": prompt,
            "version": version,
            "against": against,
            "diff": diff,
            "other_versions": selectors.prompt_versions(prompt=prompt).exclude(pk=version.pk),
            "can_edit": permissions.can_edit_prompts(request.user, prompt.namespace),
            "may_promote": permissions.can_request_promotion(request.user, prompt.namespace),
        },
    )


def _editable_namespaces(request: HttpRequest) -> QuerySet[Namespace]:
    editable = [
        namespace.pk
        for namespace in namespaces_visible_to(user=request.user)
        if permissions.can_edit_prompts(request.user, namespace)
    ]
    return Namespace.objects.filter(pk__in=editable).select_related("team").order_by("slug")


def _requested_namespace(request: HttpRequest) -> Namespace | None:
    """The namespace a submitted form names, if the user may see it."""
    field = SlugChoiceField(queryset=namespaces_visible_to(user=request.user))
    try:
        return field.clean(request.POST.get("namespace"))
    except ValidationError:
        return None


def _prompt_form_page(
    request: HttpRequest, form: PromptCreateForm, status: int = 200
) -> HttpResponse:
    context = {"form": form, "may_create": form.fields["namespace"].queryset.exists()}
    return render(request, "prompts/prompt_form.html", context, status=status)


@login_required
def prompt_create(request: HttpRequest) -> HttpResponse:
    namespaces = _editable_namespaces(request)
    if request.method != "POST":
        initial = {"namespace": request.GET.get("namespace")}
        return _prompt_form_page(request, PromptCreateForm(namespaces=namespaces, initial=initial))
    requested = _requested_namespace(request)
    require_or_403(
        requested is None or permissions.can_edit_prompts(request.user, requested),
        "Only maintainers and owners of the namespace's team create prompts there.",
    )
    form = PromptCreateForm(request.POST, namespaces=namespaces)
    prompt = submit(form, lambda data: services.prompt_create(actor=request.user, **data))
    if form.errors:
        return _prompt_form_page(request, form, status=error_status(form))
    messages.success(request, f"Created {prompt.full_name}. Now write its first version.")
    return redirect("prompts:detail", prompt.namespace.slug, prompt.name)


@login_required
def version_create(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    require_or_403(
        permissions.can_edit_prompts(request.user, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} write versions here.",
    )
    latest = selectors.prompt_versions(prompt=prompt).first()
    if request.method != "POST":
        form = VersionForm(kind=prompt.kind, initial=VersionForm.initial_from(latest))
        return _version_form_page(request, prompt, latest, form)
    form = VersionForm(request.POST, kind=prompt.kind)
    version = submit(
        form,
        lambda data: services.version_create(prompt=prompt, author=request.user, **data),
    )
    if form.errors:
        form.offer_detected_variables()
        return _version_form_page(request, prompt, latest, form, status=error_status(form))
    messages.success(request, f"Created version {version.number} of {prompt.full_name}.")
    return redirect("prompts:version", prompt.namespace.slug, prompt.name, version.number)


def _version_form_page(
    request: HttpRequest,
    prompt: Prompt,
    latest: PromptVersion | None,
    form: VersionForm,
    status: int = 200,
) -> HttpResponse:
    context = {"prompt": prompt, "latest": latest, "form": form}
    return render(request, "prompts/version_form.html", context, status=status)


# --- "Use it": how a service resolves this prompt, and a live render preview ------------------


def _preview_context(request: HttpRequest, prompt: Prompt, environment: str) -> dict:
    """The resolved prompt in `environment` (or why it cannot be resolved) for the panel."""
    context: dict = {"prompt": prompt, "environment": environment, "resolved": None}
    try:
        context["resolved"] = resolve.resolve(
            user=request.user,
            namespace=prompt.namespace.slug,
            name=prompt.name,
            environment=environment,
        )
    except DomainError as exc:
        context["error"] = exc.detail
    context["environments"] = [e.slug for e in Environment.objects.order_by("order")]
    context["resolve_url"] = request.build_absolute_uri(
        f"/api/v1/resolve/{prompt.full_name}/?environment={environment}"
    )
    return context


@login_required
def render_preview(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """GET: the panel for an environment. POST: render it with the submitted variables."""
    prompt = _prompt_or_404(request, namespace, name)
    environment = request.POST.get("environment") or request.GET.get("environment") or ""
    if not SLUG.match(environment):
        environment = "production"
    context = _preview_context(request, prompt, environment)
    resolved = context["resolved"]
    status = 200
    if request.method == "POST" and resolved is not None:
        status = _preview_render(request, resolved, context)
    return render(request, "prompts/_use_it.html", context, status=status)


def _preview_render(request: HttpRequest, resolved: resolve.Resolved, context: dict) -> int:
    """Render into `context`; the status to answer. htmx swaps only 2xx, so it gets 200."""
    throttle = RenderThrottle()
    if not throttle.allow_request(request, None):
        context["render_error"] = (
            f"Too many renders; try again in {math.ceil(throttle.wait() or 1)} s."
        )
        return 429 if not request.htmx else 200
    variables = {
        name: request.POST.get(f"var_{name}", "") for name in resolved.body["required_variables"]
    }
    context["values"] = variables
    try:
        context["rendered"] = resolve.render_resolved(resolved, variables)
    except DomainError as exc:
        context["render_error"] = exc.detail
        return 422 if not request.htmx else 200
    return 200


# --- Environments (staff configure them here; everyone sees the rules) ------------------------


def _environments_page(request: HttpRequest, status: int = 200, **forms: Any) -> HttpResponse:
    environments = list(Environment.objects.order_by("order"))
    is_staff = permissions.is_staff(request.user)
    rows = [
        (environment, forms.get(environment.slug) or EnvironmentForm(environment=environment))
        for environment in environments
    ]
    context = {
        "rows": rows,
        "is_staff": is_staff,
        "create_form": forms.get("") or EnvironmentCreateForm(initial={"min_approvals": 0}),
    }
    return render(request, "prompts/environments.html", context, status=status)


@login_required
def environment_list(request: HttpRequest) -> HttpResponse:
    return _environments_page(request)


@login_required
@require_POST
def environment_create(request: HttpRequest) -> HttpResponse:
    require_or_403(permissions.is_staff(request.user), "Only staff configure environments.")
    form = EnvironmentCreateForm(request.POST)
    created = submit(form, lambda data: services.environment_create(actor=request.user, **data))
    if form.errors:
        return _environments_page(request, status=error_status(form), **{"": form})
    messages.success(request, f"Created the environment {created.slug}.")
    return redirect("prompts:environments")


@login_required
@require_POST
def environment_update(request: HttpRequest, environment: str) -> HttpResponse:
    require_or_403(permissions.is_staff(request.user), "Only staff configure environments.")
    target = Environment.objects.filter(slug=environment).first()
    if target is None:
        raise Http404(f"No environment {environment}.")
    form = EnvironmentForm(request.POST, environment=target)
    submit(
        form,
        lambda data: services.environment_update(actor=request.user, environment=target, **data),
    )
    if form.errors:
        return _environments_page(request, status=error_status(form), **{target.slug: form})
    messages.success(request, f"Saved the environment {target.slug}.")
    return redirect(f"{reverse('prompts:environments')}#environment-{target.slug}")
