"""API for the prompt lifecycle: deprecate, retire, reactivate (rules in prompts.lifecycle)."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPerson
from portal.api.schema import request_example
from portal.api.views import parse
from prompts import lifecycle, selectors
from prompts import serializers as s
from prompts.models import Prompt


class _LifecycleView(APIView):
    permission_classes = [IsPerson]

    def prompt(self) -> Prompt:
        return selectors.prompt_get(
            user=self.request.user, namespace=self.kwargs["namespace"], name=self.kwargs["name"]
        )

    def answer(self, prompt: Prompt) -> Response:
        fresh = selectors.prompt_get(
            user=self.request.user, namespace=prompt.namespace.slug, name=prompt.name
        )
        return Response(s.PromptSerializer(fresh).data)


class Deprecate(_LifecycleView):
    @extend_schema(
        request=s.DeprecateSerializer,
        responses={200: s.PromptSerializer},
        examples=[
            request_example(
                "With a successor",
                {
                    "reason": "Replaced by refund-reply.",
                    "sunset_at": "2099-01-31T23:59:59Z",
                    "successor": "support/refund-reply",
                },
            )
        ],
        description="Deprecate the prompt: resolve answers carry Deprecation, Sunset and Link "
        "headers from now on. Maintainers and owners of the team; where the prompt runs in a "
        "protected environment, holders of the promotion right there (or staff).",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        prompt = self.prompt()
        data = parse(s.DeprecateSerializer, request)
        successor = None
        if data.get("successor"):
            successor = lifecycle.successor_get(actor=request.user, full_name=data["successor"])
        prompt = lifecycle.prompt_deprecate(
            actor=request.user,
            prompt=prompt,
            reason=data["reason"],
            sunset_at=data["sunset_at"],
            successor=successor,
        )
        return self.answer(prompt)


class Retire(_LifecycleView):
    @extend_schema(
        request=s.LifecycleJustificationSerializer,
        responses={200: s.PromptSerializer},
        examples=[request_example("After the sunset", {"justification": "Nobody calls it."})],
        description="Retire the prompt: resolve answers 410 from now on, new versions and "
        "promotions are refused. At or after the sunset; before it only staff, with a "
        "justification (audited as `prompt.retired_early`).",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        prompt = self.prompt()
        data = parse(s.LifecycleJustificationSerializer, request)
        return self.answer(
            lifecycle.prompt_retire(actor=request.user, prompt=prompt, reason=data["justification"])
        )


class Reactivate(_LifecycleView):
    @extend_schema(
        request=s.LifecycleJustificationSerializer,
        responses={200: s.PromptSerializer},
        examples=[request_example("Back", {"justification": "The successor was rolled back."})],
        description="Bring a deprecated or retired prompt back to active (justification required).",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        prompt = self.prompt()
        data = parse(s.LifecycleJustificationSerializer, request)
        return self.answer(
            lifecycle.prompt_reactivate(
                actor=request.user, prompt=prompt, reason=data["justification"]
            )
        )
