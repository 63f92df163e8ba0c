"""Reads of the approvals app: requests, the inbox, approval counts, rights, history."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, prefetch_related_objects
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_users_with_perms

from approvals.models import PromotionRequest, PromotionScope, Review
from approvals.permissions import grant_lookup, holders_of, promotion_scopes_of, scope_filter
from portal.audit.models import AuditEntry
from portal.errors import NotFound
from prompts.models import Deployment, Environment, ExperimentArm, Prompt, PromptVersion
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
            "experiment",
        )
        .prefetch_related(
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer")),
            Prefetch("experiment__arms", queryset=ExperimentArm.objects.select_related("version")),
        )
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
    authored_arm = ExperimentArm.objects.filter(
        experiment=OuterRef("experiment"), is_control=False, version__author=user
    )
    return (
        promotion_requests_visible_to(user=user)
        .filter(Exists(in_scope), state=PromotionRequest.State.PENDING)
        .exclude(requested_by=user)
        .exclude(version__author=user)
        .exclude(Exists(authored_arm))
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
        and reviewer.pk != request.requested_by_id
        and reviewer.pk not in request.author_ids
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


def eligible_reviewers(*, request: PromotionRequest) -> list[AbstractBaseUser]:
    """Who may approve or reject `request`: the active holders of the promotion right for its
    namespace and environment (granted to them or to a team of theirs), except its requester
    and the version's author (four-eyes). Two queries."""
    scope = PromotionScope.objects.filter(
        namespace_id=request.prompt.namespace_id, environment_id=request.environment_id
    ).first()
    if scope is None:
        return []
    reviewers = get_users_with_perms(
        scope, only_with_perms_in=["promote"], with_group_users=True, with_superusers=False
    )
    return list(
        reviewers.filter(is_active=True)
        .exclude(pk__in=[request.requested_by_id, *request.author_ids])
        .order_by("username")
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
        return [user.get_username() for user in eligible_reviewers(request=request)]
    return [request.requested_by.get_username()]


def deployment_history(*, prompt: Prompt, environment_slug: str | None = None) -> QuerySet:
    """Every change of the prompt's deployments, newest first, with who and which version."""
    history = Deployment.history.filter(prompt_id=prompt.pk)
    if environment_slug:
        history = history.filter(environment__slug=environment_slug)
    return history.select_related("environment", "version", "history_user", "deployed_by").order_by(
        "-history_date", "-history_id"
    )


KINDS = {
    "promotion.applied": "promotion",
    "deployment.rolled_back": "rollback",
    "deployment.seeded": "seeded",
}


@dataclass
class DeploymentChange:
    """One change of one environment, explained: what kind (promotion, rollback, seeded,
    other), who, when, from which version to which, and for promotions the request."""

    environment: Environment
    version: PromptVersion
    from_version: PromptVersion | None
    at: Any
    kind: str
    by: str | None
    justification: str
    request: PromotionRequest | None
    change: str
    deployed_by: Any = None
    history_user: Any = None

    @property
    def version_number(self) -> int:
        return self.version.number

    @property
    def from_number(self) -> int | None:
        return self.from_version.number if self.from_version else None

    @property
    def request_id(self) -> int | None:
        return self.request.pk if self.request else None


def deployment_changes(
    *, prompt: Prompt, environment_slug: str | None = None
) -> list[DeploymentChange]:
    """The deployment history, newest first, each change explained from its history row, the
    audit entry written with it and the promotion request behind it. Three queries for any
    number of changes (history rows, audit entries, requests)."""
    rows = list(deployment_history(prompt=prompt, environment_slug=environment_slug))
    rows.reverse()  # oldest first, to know each change's previous version
    environments = {row.environment_id: row.environment for row in rows}
    object_ids = {f"{prompt.full_name}@{env.slug}": env.pk for env in environments.values()}
    entries: dict[int, list[AuditEntry]] = {}
    if object_ids:
        for entry in AuditEntry.objects.filter(
            object_type="deployment", object_id__in=list(object_ids)
        ).order_by("seq"):
            entries.setdefault(object_ids[entry.object_id], []).append(entry)
    matched: dict[int, AuditEntry] = {}
    previous: dict[int, Any] = {}
    position: dict[int, int] = {}
    for row in rows:
        before = previous.get(row.environment_id)
        previous[row.environment_id] = row
        if before is not None and before.version_id == row.version_id:
            continue
        queue = entries.get(row.environment_id, [])
        for index in range(position.get(row.environment_id, 0), len(queue)):
            after = queue[index].after or {}
            if isinstance(after, dict) and after.get("version") == row.version.number:
                matched[row.history_id] = queue[index]
                position[row.environment_id] = index + 1
                break
    request_ids = {
        entry.after.get("request")
        for entry in matched.values()
        if entry.action == "promotion.applied" and isinstance(entry.after.get("request"), int)
    }
    requests = (
        PromotionRequest.objects.in_bulk(list(request_ids), field_name="pk") if request_ids else {}
    )
    changes: list[DeploymentChange] = []
    previous = {}
    for row in rows:
        before = previous.get(row.environment_id)
        previous[row.environment_id] = row
        entry = matched.get(row.history_id)
        request = requests.get(entry.after.get("request")) if entry else None
        user = row.history_user or row.deployed_by
        by = user.get_username() if user else None
        if by is None and entry is not None:
            by = entry.actor
        changes.append(
            DeploymentChange(
                environment=row.environment,
                version=row.version,
                from_version=before.version if before else None,
                at=row.history_date,
                kind=KINDS.get(entry.action, "other") if entry else "other",
                by=by,
                justification=entry.justification if entry else "",
                request=request,
                change=row.get_history_type_display(),
                deployed_by=row.deployed_by,
                history_user=row.history_user,
            )
        )
    changes.reverse()
    return changes


def rolled_back_from(changes: Iterable[DeploymentChange]) -> dict[int, DeploymentChange]:
    """Per version id, the latest rollback that moved an environment away from it."""
    result: dict[int, DeploymentChange] = {}
    for change in changes:  # newest first
        if change.kind == "rollback" and change.from_version is not None:
            result.setdefault(change.from_version.pk, change)
    return result
