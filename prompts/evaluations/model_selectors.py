"""Reads of the model registry and the watch lists (known to every signed-in person)."""

from django.db.models import QuerySet

from portal.errors import NotFound
from prompts.evaluations.models import Model, WatchedModel
from teams.models import Team


def models_list() -> QuerySet[Model]:
    return Model.objects.order_by("name")


def model_get(*, name: str) -> Model:
    model = Model.objects.filter(name=name).first()
    if model is None:
        raise NotFound(f"No model {name}.")
    return model


def team_watched_models(*, team: Team) -> QuerySet[WatchedModel]:
    return WatchedModel.objects.filter(team=team).select_related("model").order_by("model__name")
