"""API of the playground: `GET/POST /prompts/{ns}/{name}/playground/` (the calls; run one)
and `POST …/playground/{id}/save/` (keep a call as a new case of a suite). Readers of the
prompt list; maintainers and owners run and save; a private namespace is 404 to anyone else.
Runs are limited per person to PLAYGROUND_RATE (429 problem with Retry-After)."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPerson, IsPersonOrServiceReading
from portal.api.schema import request_example
from portal.api.throttles import CallerRateThrottle
from portal.api.views import parse
from portal.errors import Invalid
from prompts.evaluations import playground
from prompts.evaluations.models import Model, PlaygroundCall, Suite
from prompts.models import Prompt
from prompts.selectors import prompt_get, prompt_version_get


class PlaygroundThrottle(CallerRateThrottle):
    """Playground runs call a provider (and may cost money): PLAYGROUND_RATE per person."""

    scope = "playground"

    def get_rate(self) -> str:
        return settings.PLAYGROUND_RATE


class PlaygroundRunSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    template = serializers.CharField(
        required=False, allow_blank=False, trim_whitespace=False, help_text="A draft template."
    )
    template_format = serializers.ChoiceField(
        choices=playground.TEMPLATE_FORMATS, default="mustache"
    )
    model = serializers.CharField(max_length=100, default="local")
    variables = serializers.JSONField(default=dict)
    model_config = serializers.JSONField(required=False, allow_null=True)


class SaveCaseSerializer(serializers.Serializer):
    suite = serializers.IntegerField(min_value=1)
    assertion = serializers.ChoiceField(choices=playground.SAVE_AS, default="equals")
    value = serializers.CharField(required=False, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)


class PlaygroundCallSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True)
    model = serializers.CharField(source="model.name", read_only=True)
    offline_echo = serializers.BooleanField(source="model.is_offline_echo", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = PlaygroundCall
        fields = [
            "id",
            "prompt",
            "version",
            "model",
            "offline_echo",
            "user",
            "variables",
            "rendered",
            "output",
            "input_tokens",
            "output_tokens",
            "latency_ms",
            "cost_usd",
            "error",
            "created_at",
        ]
        read_only_fields = fields


def model_named(name: str) -> Model:
    model = Model.objects.filter(name=name).first()
    if model is None:
        raise Invalid.field("model", f"No model {name!r}.")
    return model


def run_call(*, user: Any, prompt: Prompt, data: dict[str, Any]) -> PlaygroundCall:
    """The playground run the parsed body asks for (shared by the API and the page)."""
    version = None
    if data.get("version"):
        version = prompt_version_get(prompt=prompt, number=data["version"])
    draft = None
    if data.get("template"):
        draft = playground.Draft(
            template=data["template"], template_format=data.get("template_format", "mustache")
        )
    return playground.playground_run(
        actor=user,
        prompt=prompt,
        model=model_named(data.get("model") or "local"),
        variables=data.get("variables") or {},
        version=version,
        draft=draft,
        model_config=data.get("model_config"),
    )


class PlaygroundCalls(generics.ListAPIView):
    serializer_class = PlaygroundCallSerializer
    permission_classes = [IsPersonOrServiceReading]

    def get_throttles(self) -> list:
        return [PlaygroundThrottle()] if self.request.method == "POST" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's call
            return PlaygroundCall.objects.none()
        prompt = prompt_get(user=self.request.user, **self.kwargs)
        return playground.playground_calls(prompt=prompt)

    @extend_schema(
        request=PlaygroundRunSerializer,
        responses={201: PlaygroundCallSerializer},
        examples=[
            request_example(
                "A version on local", {"version": 1, "model": "local", "variables": {"name": "Ada"}}
            ),
            request_example(
                "A draft", {"template": "Hi {{name}}", "model": "local", "variables": {"name": "A"}}
            ),
        ],
        description="Run a version (or a draft `template`) once on a model. A provider "
        "failure is recorded with its `error`; rate-limited per person (PLAYGROUND_RATE).",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        data = parse(PlaygroundRunSerializer, request)
        call = run_call(user=request.user, prompt=prompt, data=data)
        return Response(PlaygroundCallSerializer(call).data, status=status.HTTP_201_CREATED)


class PlaygroundSaveCase(APIView):
    permission_classes = [IsPerson]

    @extend_schema(
        request=SaveCaseSerializer,
        responses={201: dict},
        examples=[request_example("As equals", {"suite": 1, "assertion": "equals"})],
        description="A new case of the suite with the call's variables and an `equals` or "
        "`contains` assertion expecting its output (or `value`).",
    )
    def post(self, request: Request, namespace: str, name: str, pk: int) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        call = playground.playground_call_get(prompt=prompt, call_id=pk)
        data = parse(SaveCaseSerializer, request)
        suite = Suite.objects.filter(prompt=prompt, pk=data["suite"]).first()
        if suite is None:
            raise Invalid.field("suite", f"{prompt.full_name} has no suite {data['suite']}.")
        case = playground.playground_save_case(
            actor=request.user,
            call=call,
            suite=suite,
            assertion=data["assertion"],
            value=data.get("value"),
            description=data.get("description", ""),
        )
        body = {
            "id": case.pk,
            "suite": suite.pk,
            "position": case.position,
            "description": case.description,
            "variables": case.variables,
            "assertions": case.assertions,
        }
        return Response(body, status=status.HTTP_201_CREATED)
