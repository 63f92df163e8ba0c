from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from guardian.shortcuts import get_objects_for_user, get_users_with_perms

from approvals.models import AuditEntry, PromotionRequest, Review
from portal.errors import NotFound
from prompts.models import Deployment, Prompt
from teams import permissions
from teams.models import PromotionScope
from teams.permissions import Principal, namespaces_visible_to


def promotion_requests_visible_to(*, user: Principal) -> QuerySet[PromotionRequest]:
    return (
        PromotionRequest.objects.filter(prompt__namespace__in=namespaces_visible_to(user=user))
        .select_related(
            "prompt__namespace__team",
            "version__author",
            "environment",
            "requested_by",
            "previous_version",
        )
        .prefetch_related(Prefetch("reviews", queryset=Review.objects.select_related("reviewer")))
        .order_by("-created_at", "-pk")
    )


def promotion_request_get(*, user: Principal, pk: int) -> PromotionRequest:
    request = promotion_requests_visible_to(user=user).filter(pk=pk).first()
    if request is None:
        raise NotFound(f"No promotion request #{pk}.")
    return request


def inbox(*, user: Principal) -> QuerySet[PromotionRequest]:
    """Pending requests this user may decide: they hold the right, and it is not their change."""
    if not permissions.is_user(user):
        return PromotionRequest.objects.none()
    scopes = get_objects_for_user(
        user,
        "teams.promote",
        klass=PromotionScope,
        accept_global_perms=False,
        with_superuser=False,
    )
    in_scope = scopes.filter(
        namespace=OuterRef("prompt__namespace"), environment=OuterRef("environment")
    )
    return (
        promotion_requests_visible_to(user=user)
        .filter(Exists(in_scope), state=PromotionRequest.State.PENDING)
        .exclude(requested_by=user)
        .exclude(version__author=user)
        .exclude(reviews__reviewer=user)
        .order_by("created_at", "pk")
    )


def promotion_event_recipients(*, request_id: int, event: str) -> list[str]:
    request = (
        PromotionRequest.objects.select_related("prompt", "version", "requested_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return []
    if event == "requested":
        scope = PromotionScope.objects.filter(
            namespace_id=request.prompt.namespace_id, environment_id=request.environment_id
        ).first()
        if scope is None:
            return []
        reviewers = get_users_with_perms(
            scope, only_with_perms_in=["promote"], with_group_users=True, with_superusers=False
        ).exclude(pk__in=[request.requested_by_id, request.version.author_id])
        return sorted(reviewers.values_list("username", flat=True))
    return [request.requested_by.get_username()]


def deployment_history(*, prompt: Prompt, environment_slug: str | None = None) -> QuerySet:
    """Every change of the prompt's deployments, newest first, with who and which version."""
    history = Deployment.history.filter(prompt_id=prompt.pk)
    if environment_slug:
        history = history.filter(environment__slug=environment_slug)
    return history.select_related("environment", "version", "history_user").order_by(
        "-history_date", "-history_id"
    )


def audit_entries(
    *,
    since=None,
    until=None,
    namespace: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lt=until)
    if namespace:
        entries = entries.filter(namespace=namespace)
    if actor:
        entries = entries.filter(actor=actor)
    if action:
        entries = entries.filter(action__startswith=action)
    return entries.order_by("seq")
