"""Writes of the model registry (staff) and of the teams' watch lists (team owners).

Registering a model, or changing its `released_at`, queues after commit the task that
re-evaluates the suites of the prompts naming its family (`evaluate_model_release`). Keys are
never part of a model: `api_key_env` only names the environment variable that holds one.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from portal.audit.services import audit
from portal.errors import Invalid, NotFound
from portal.outbox import enqueue
from portal.transactions import atomic_write
from portal.validation import check_text, clean_or_invalid, conflict_on_integrity_error
from prompts.evaluations.models import Model, WatchedModel
from teams import permissions
from teams.models import Team
from teams.notifications import ssrf
from teams.permissions import Principal, require

RELEASE_TASK = "prompts.evaluations.tasks.evaluate_model_release"
LOCAL_MODEL = "local"
# Names are path segments (/api/v1/models/{name}/): no slash; the provider's id may have one.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}")
# Only variables meant for provider keys: never SECRET_KEY, DATABASE_URL or the like.
KEY_ENV_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,90}_API_KEY")
OWNERS_ONLY = "Only the team's owners change its watch list."
DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
MODEL_FIELDS = (
    "family",
    "provider",
    "provider_model_id",
    "base_url",
    "api_key_env",
    "price_in_per_million",
    "price_out_per_million",
    "released_at",
    "notes",
)


def family_of(name: str) -> str:
    """A dated model's family: `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`."""
    return DATE_SUFFIX.sub("", name)


def model_state(model: Model) -> dict[str, Any]:
    return {"name": model.name, **{field: getattr(model, field) for field in MODEL_FIELDS}}


def _check(model: Model) -> None:
    if not NAME_PATTERN.fullmatch(model.name):
        raise Invalid.field(
            "name",
            "Up to 100 letters, digits and . _ : + - (no slash), starting with a letter or "
            "digit; the provider's own id goes in provider_model_id.",
        )
    if model.api_key_env and not KEY_ENV_PATTERN.fullmatch(model.api_key_env):
        raise Invalid.field(
            "api_key_env",
            "The name of an environment variable ending in _API_KEY (e.g. OPENAI_API_KEY).",
        )
    if model.provider == Model.Provider.ECHO and (model.base_url or model.api_key_env):
        raise Invalid.field("base_url", "The echo provider calls nothing: no base URL, no key.")
    if model.base_url:
        try:
            ssrf.parse(model.base_url)  # its addresses are checked at each call
        except ssrf.UnsafeURL as exc:
            raise Invalid.field("base_url", str(exc)) from exc
        parts = urlsplit(model.base_url)
        if parts.query or parts.fragment or parts.username or parts.password:
            raise Invalid.field(
                "base_url", "No query, fragment or credentials: keys go in the environment."
            )
        if parts.scheme != "https" and not settings.PROVIDER_ALLOW_PRIVATE:
            raise Invalid.field(
                "base_url",
                "Use https: the key travels with every call (plain http is for local servers, "
                "with PROVIDER_ALLOW_PRIVATE on).",
            )
    for field in ("provider_model_id", "family", "notes"):
        check_text(getattr(model, field), field=field)
    clean_or_invalid(model, exclude=["name"])  # NAME_PATTERN; uniqueness: a 409 on save


@atomic_write
def model_create(*, actor: Principal, name: str, provider: str, **fields: Any) -> Model:
    require(permissions.is_staff(actor), "Only staff register models.")
    unknown = set(fields) - set(MODEL_FIELDS)
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    model = Model(name=name, provider=provider, **fields)
    if not model.family:
        model.family = family_of(name)
    _check(model)
    with conflict_on_integrity_error(f"A model {name!r} is already registered."):
        model.save()
    audit(
        actor=actor,
        action="model.registered",
        object_type="model",
        object_id=model.name,
        after=model_state(model),
    )
    enqueue(RELEASE_TASK, model.pk)
    return model


@atomic_write
def model_update(*, actor: Principal, model: Model, **fields: Any) -> Model:
    require(permissions.is_staff(actor), "Only staff change models.")
    unknown = set(fields) - set(MODEL_FIELDS)
    if unknown:
        raise Invalid(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.")
    model = Model.objects.select_for_update().get(pk=model.pk)
    if model.name == LOCAL_MODEL and fields.get("provider", model.provider) != model.provider:
        raise Invalid.field("provider", "The local model stays the offline echo.")
    before = model_state(model)
    for field, value in fields.items():
        setattr(model, field, value)
    _check(model)
    after = model_state(model)
    if after == before:
        return model
    model.save()
    audit(
        actor=actor,
        action="model.changed",
        object_type="model",
        object_id=model.name,
        before=before,
        after=after,
    )
    if model.released_at is not None and model.released_at != before["released_at"]:
        enqueue(RELEASE_TASK, model.pk)
    return model


# --- Watch lists ----------------------------------------------------------------------------


@atomic_write
def team_watch_model(*, actor: Principal, team: Team, model: Model) -> WatchedModel:
    require(permissions.can_manage_team(actor, team), OWNERS_ONLY)
    with conflict_on_integrity_error(f"{team.slug} already watches {model.name}."):
        watched = WatchedModel.objects.create(team=team, model=model)
    audit(
        actor=actor,
        action="team.model_watched",
        object_type="team",
        object_id=team.slug,
        after={"model": model.name},
    )
    return watched


@atomic_write
def team_unwatch_model(*, actor: Principal, team: Team, model: Model) -> None:
    require(permissions.can_manage_team(actor, team), OWNERS_ONLY)
    deleted, _ = WatchedModel.objects.filter(team=team, model=model).delete()
    if not deleted:
        raise NotFound(f"{team.slug} does not watch {model.name}.")
    audit(
        actor=actor,
        action="team.model_unwatched",
        object_type="team",
        object_id=team.slug,
        before={"model": model.name},
    )
