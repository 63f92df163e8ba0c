"""API of the model registry (staff write, people read) and the teams' watch lists (team
owners write, people read)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.schema import request_example
from portal.api.views import parse
from portal.errors import Invalid, NotFound
from prompts.evaluations import model_selectors as selectors
from prompts.evaluations import models_serializers as s
from prompts.evaluations import registry
from prompts.evaluations.models import Model, WatchedModel
from teams.models import Team
from teams.selectors import team_get

EXAMPLE = {
    "name": "gpt-4o-mini-2024-07-18",
    "provider": "openai",
    "provider_model_id": "gpt-4o-mini-2024-07-18",
    "base_url": "https://api.openai.com/v1",
    "api_key_env": "OPENAI_API_KEY",
    "price_in_per_million": 0.15,
    "price_out_per_million": 0.6,
    "released_at": "2024-07-18T00:00:00Z",
}


class ModelListCreate(generics.ListAPIView):
    serializer_class = s.ModelSerializer

    def get_queryset(self):
        return selectors.models_list()

    @extend_schema(
        request=s.ModelCreateSerializer,
        responses={201: s.ModelSerializer},
        examples=[request_example("An OpenAI model", EXAMPLE)],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.ModelCreateSerializer, request)
        model = registry.model_create(actor=request.user, **data)
        return Response(s.ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetail(generics.RetrieveAPIView):
    serializer_class = s.ModelSerializer

    def get_object(self) -> Model:
        return selectors.model_get(name=self.kwargs["name"])

    @extend_schema(request=s.ModelUpdateSerializer, responses={200: s.ModelSerializer})
    def patch(self, request: Request, name: str) -> Response:
        model = self.get_object()
        data = parse(s.ModelUpdateSerializer, request, partial=True)
        model = registry.model_update(actor=request.user, model=model, **data)
        return Response(s.ModelSerializer(model).data)


class TeamScoped:
    def team(self) -> Team:
        return team_get(user=self.request.user, slug=self.kwargs["team"])


class WatchedModelListCreate(TeamScoped, generics.ListAPIView):
    serializer_class = s.WatchedModelSerializer
    queryset = WatchedModel.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.team_watched_models(team=self.team())

    @extend_schema(
        request=s.WatchedModelCreateSerializer,
        responses={201: s.WatchedModelSerializer},
        examples=[request_example("Watch a model", {"model": "gpt-4o-mini-2024-07-18"})],
    )
    def post(self, request: Request, team: str) -> Response:
        data = parse(s.WatchedModelCreateSerializer, request)
        target = self.team()
        try:
            model = selectors.model_get(name=data["model"])
        except NotFound as exc:
            raise Invalid.field("model", exc.detail) from exc
        watched = registry.team_watch_model(actor=request.user, team=target, model=model)
        return Response(s.WatchedModelSerializer(watched).data, status=status.HTTP_201_CREATED)


class WatchedModelDetail(TeamScoped, generics.GenericAPIView):
    serializer_class = s.WatchedModelSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team: str, name: str) -> Response:
        target = self.team()
        model = selectors.model_get(name=name)
        registry.team_unwatch_model(actor=request.user, team=target, model=model)
        return Response(status=status.HTTP_204_NO_CONTENT)
