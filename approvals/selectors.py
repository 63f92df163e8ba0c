"""Reads of the approvals app: requests, the inbox, approval counts, rights, history."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, prefetch_related_objects
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_users_with_perms

from approvals.models import PromotionRequest, PromotionScope, Review
from approvals.permissions import grant_lookup, holders_of, promotion_scopes_of, scope_filter
from portal.errors import NotFound
from prompts.models import Deployment, Environment, Prompt
from teams import permissions
from teams.models import Namespace, Team
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
    in_scope = promotion_scopes_of(user).filter(
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


# --- Approval counting: what is shown is what is enforced --------------------------------------


def counts_as_approval(request: PromotionRequest, reviewer: AbstractBaseUser, holders) -> bool:
    """An approval counts while its reviewer is active, is neither the requester nor the
    version's author (four-eyes), and holds the promotion right now (a revoked right withdraws
    the approval; a restored one brings it back)."""
    return (
        reviewer.is_active
        and reviewer.pk not in (request.requested_by_id, request.version.author_id)
        and reviewer.pk in holders
    )


def count_approvals(requests: Iterable[PromotionRequest]) -> list[PromotionRequest]:
    """Set `approvals` (how many count) and `counted` (the reviewer ids whose approval counts)
    on each request. Three queries for any number of requests with their reviews prefetched;
    the promotion workflow enforces exactly this count."""
    requests = list(requests)
    prefetch_related_objects(
        requests, Prefetch("reviews", queryset=Review.objects.select_related("reviewer"))
    )
    pairs = {(r.prompt.namespace_id, r.environment_id) for r in requests}
    scopes = {
        (scope.namespace_id, scope.environment_id): scope.pk
        for scope in PromotionScope.objects.filter(scope_filter(pairs))
    }
    holders = holders_of(scopes.values())
    for request in requests:
        scope = scopes.get((request.prompt.namespace_id, request.environment_id))
        allowed = holders.get(scope, set())
        request.counted = {
            review.reviewer_id
            for review in request.reviews.all()
            if review.decision == Review.Decision.APPROVE
            and counts_as_approval(request, review.reviewer, allowed)
        }
        request.approvals = len(request.counted)
    return requests


# --- Promotion rights -------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionRight:
    environment: Environment
    user: AbstractBaseUser | None = None
    team: Team | None = None


def promotion_rights(*, namespace: Namespace) -> list[PromotionRight]:
    """Every grant on the namespace, per environment, to users and to teams (4 queries)."""
    scopes = {
        str(scope.pk): scope
        for scope in PromotionScope.objects.filter(namespace=namespace).select_related(
            "environment"
        )
    }
    lookup = grant_lookup(int(pk) for pk in scopes)
    rights = [
        PromotionRight(environment=scopes[row.object_pk].environment, user=row.user)
        for row in UserObjectPermission.objects.filter(**lookup).select_related("user")
    ]
    group_rows = list(GroupObjectPermission.objects.filter(**lookup))
    teams = {
        team.members_group_id: team
        for team in Team.objects.filter(members_group__in=[row.group_id for row in group_rows])
    }
    rights += [
        PromotionRight(environment=scopes[row.object_pk].environment, team=teams[row.group_id])
        for row in group_rows
        if row.group_id in teams
    ]
    return sorted(
        rights,
        key=lambda r: (r.environment.order, r.user.username if r.user else f"~{r.team.slug}"),
    )


# --- Notifications and history ----------------------------------------------------------------


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
