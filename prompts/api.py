"""API for environments, prompts, their versions, and resolving / rendering them."""

import re

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrService, IsPersonOrServiceReading
from portal.api.schema import problem, request_example
from portal.api.throttles import RenderThrottle
from portal.api.views import parse, parse_query
from portal.cache import read_many
from portal.converters import version_number
from portal.errors import Invalid, NotFound
from portal.validators import SLUG_PATTERN
from prompts import resolve, selectors, services
from prompts import serializers as s
from prompts.filters import PromptFilter
from prompts.models import Environment, Prompt, PromptVersion
from teams.authentication import warm_authentication_cache_key, warm_service_principal
from teams.selectors import namespace_get

SLUG = re.compile(SLUG_PATTERN)
RETIRED = problem(410, "The prompt is retired.", s.RetiredProblemSerializer)


def _environment(slug: str) -> Environment:
    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        raise NotFound(f"No environment {slug}.")
    return environment


class EnvironmentListCreate(generics.ListAPIView):
    serializer_class = s.EnvironmentSerializer
    permission_classes = [IsPersonOrServiceReading]
    pagination_class = None
    queryset = Environment.objects.order_by("order")

    @extend_schema(request=s.EnvironmentSerializer, responses={201: s.EnvironmentSerializer})
    def post(self, request: Request) -> Response:
        environment = services.environment_create(
            actor=request.user, **parse(s.EnvironmentSerializer, request)
        )
        return Response(s.EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)


class EnvironmentDetail(generics.RetrieveAPIView):
    serializer_class = s.EnvironmentSerializer
    permission_classes = [IsPersonOrServiceReading]

    def get_object(self) -> Environment:
        return _environment(self.kwargs["environment"])

    @extend_schema(request=s.EnvironmentUpdateSerializer, responses={200: s.EnvironmentSerializer})
    def patch(self, request: Request, environment: str) -> Response:
        updated = services.environment_update(
            actor=request.user,
            environment=self.get_object(),
            **parse(s.EnvironmentUpdateSerializer, request, partial=True),
        )
        return Response(s.EnvironmentSerializer(updated).data)


class PromptListCreate(generics.ListAPIView):
    serializer_class = s.PromptSerializer
    permission_classes = [IsPersonOrServiceReading]
    filterset_class = PromptFilter

    def get_queryset(self):
        return selectors.prompts_visible_to(user=self.request.user)

    @extend_schema(
        request=s.PromptCreateSerializer,
        responses={201: s.PromptSerializer},
        examples=[
            request_example(
                "Text", {"namespace": "support", "name": "refund-late", "tags": ["billing"]}
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.PromptCreateSerializer, request)
        namespace = namespace_get(user=request.user, slug=data.pop("namespace"))
        prompt = services.prompt_create(actor=request.user, namespace=namespace, **data)
        prompt = selectors.prompt_get(user=request.user, namespace=namespace.slug, name=prompt.name)
        return Response(s.PromptSerializer(prompt).data, status=status.HTTP_201_CREATED)


class PromptScoped:
    """Views under /prompts/{ns}/{name}/: the prompt must be visible to the caller (else 404)."""

    def prompt(self) -> Prompt:
        return selectors.prompt_get(
            user=self.request.user, namespace=self.kwargs["namespace"], name=self.kwargs["name"]
        )


class PromptDetail(PromptScoped, generics.RetrieveAPIView):
    serializer_class = s.PromptSerializer
    permission_classes = [IsPersonOrServiceReading]

    def get_object(self) -> Prompt:
        return self.prompt()

    @extend_schema(request=s.PromptUpdateSerializer, responses={200: s.PromptSerializer})
    def patch(self, request: Request, namespace: str, name: str) -> Response:
        services.prompt_update(
            actor=request.user, prompt=self.prompt(), **parse(s.PromptUpdateSerializer, request)
        )
        return Response(s.PromptSerializer(self.prompt()).data)


class VersionListCreate(PromptScoped, generics.ListAPIView):
    serializer_class = s.VersionSerializer
    permission_classes = [IsPersonOrServiceReading]
    queryset = PromptVersion.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.prompt_versions(prompt=self.prompt()).select_related("prompt__namespace")

    @extend_schema(
        request=s.VersionCreateSerializer,
        responses={201: s.VersionSerializer},
        examples=[
            request_example(
                "Text (mustache)",
                {
                    "template": "Dear {{customer}}, {{amount}} is on its way back to you.",
                    "variables": ["customer", "amount"],
                    "model_config": {"model": "gpt-4o-mini", "temperature": 0.2},
                    "message": "Name the amount.",
                },
            ),
            request_example(
                "Chat (jinja2)",
                {
                    "messages": [
                        {"role": "system", "content": "You triage for {{ team|title }}."},
                        {"role": "user", "content": "{{ ticket }}"},
                    ],
                    "template_format": "jinja2",
                    "variables": ["team", "ticket"],
                },
            ),
        ],
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        data = parse(s.VersionCreateSerializer, request)
        version = services.version_create(prompt=self.prompt(), author=request.user, **data)
        return Response(s.VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetail(PromptScoped, generics.RetrieveAPIView):
    serializer_class = s.VersionSerializer
    permission_classes = [IsPersonOrServiceReading]

    def get_object(self):
        return selectors.prompt_version_get(prompt=self.prompt(), number=self.kwargs["number"])


class VersionDiff(PromptScoped, generics.GenericAPIView):
    serializer_class = s.VersionDiffSerializer
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "against", int, description="Version to compare with (default: the parent)."
            )
        ],
        responses={200: s.VersionDiffSerializer},
    )
    def get(self, request: Request, namespace: str, name: str, number: int) -> Response:
        prompt = self.prompt()
        new = selectors.prompt_version_get(prompt=prompt, number=number)
        against = parse_query(s.DiffQuerySerializer, request).get("against")
        if against is not None:
            old = selectors.prompt_version_get(prompt=prompt, number=against)
        elif new.parent is not None:
            old = new.parent
        else:
            raise Invalid.field(
                "against", "Version 1 has no parent; name the version to compare with."
            )
        diff = selectors.version_diff(old=old, new=new)
        return Response(
            {
                "prompt": prompt.full_name,
                "old": diff.old_number,
                "new": diff.new_number,
                "identical": diff.identical,
                "content": diff.content,
                "settings": diff.settings,
                "diff": diff.unified,
            }
        )


def _with_resolve_headers(response: HttpResponseBase, resolved: resolve.Resolved):
    for header, value in resolved.headers.items():
        response[header] = value
    response["Cache-Control"] = f"private, max-age={settings.RESOLVE_MAX_AGE_SECONDS}"
    response["Vary"] = "Authorization, Cookie"
    return response


def _resolve_query(params) -> dict:
    """The hot path parses its three parameters by hand; a serializer costs more than the
    rest of a cached resolve."""
    environment = params.get("environment", "production")
    if not SLUG.match(environment):
        raise Invalid.field("environment", "Name an environment by its slug.")
    version = params.get("version")
    number = version_number(version)
    if version is not None and number is None:
        raise Invalid.field("version", "A version is a positive whole number.")
    subject = params.get("subject") or None
    if subject is not None and len(subject) > 200:
        raise Invalid.field("subject", "At most 200 characters.")
    return {"environment": environment, "version": number, "subject": subject}


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class Resolve(APIView):
    permission_classes = [IsPersonOrServiceReading]

    def dispatch(self, request, *args, **kwargs):
        """Everything a warm resolve reads from the cache (the token, the answer and its
        generations) comes in one round trip; the full path reuses what it read."""
        token_key = warm_authentication_cache_key(request)
        keys = resolve.cache_keys(
            namespace=kwargs["namespace"],
            name=kwargs["name"],
            environment=request.GET.get("environment", "production"),
            version=version_number(request.GET.get("version")),
        )
        self.cached = read_many([*keys, *([token_key] if token_key else [])])
        if token_key and request.method == "GET":
            warm = self._warm(request, kwargs, self.cached.get(token_key))
            if warm is not None:
                return warm
        return super().dispatch(request, *args, **kwargs)

    def _warm(self, request, kwargs, record) -> HttpResponseBase | None:
        """A known service token and a current cached answer: reply without DRF's machinery.
        Everything else, errors included, takes the full path, which answers the same."""
        token = warm_service_principal(request, record)
        if token is None:
            return None
        try:
            query = _resolve_query(request.GET)
        except Invalid:
            return None
        resolved = resolve.resolve_warm(
            token=token,
            namespace=kwargs["namespace"],
            name=kwargs["name"],
            cached=self.cached,
            **query,
        )
        return _resolve_response(request, resolved) if resolved else None

    @extend_schema(
        parameters=[s.ResolveQuerySerializer],
        responses={200: s.ResolvedSerializer, 304: None, **RETIRED},
        description="What a service runs now. Strong ETag; `If-None-Match` answers 304. "
        "Deprecated prompts carry `Deprecation`, `Sunset` and `Link` headers.",
    )
    def get(self, request: Request, namespace: str, name: str) -> HttpResponseBase:
        resolved = resolve.resolve(
            user=request.user,
            namespace=namespace,
            name=name,
            cached=self.cached,  # read at the same keys in `dispatch`
            **_resolve_query(request.query_params),
        )
        return _resolve_response(request, resolved)


def _resolve_response(request, resolved: resolve.Resolved) -> HttpResponseBase:
    # META, not request.headers: building that mapping costs more than the rest of the reply.
    if _matches(request.META.get("HTTP_IF_NONE_MATCH", ""), resolved.etag):
        return _with_resolve_headers(HttpResponseNotModified(), resolved)
    response = HttpResponse(resolved.body_json, content_type="application/json")
    return _with_resolve_headers(response, resolved)


class Render(APIView):
    permission_classes = [IsPersonOrService]
    throttle_classes = [RenderThrottle]

    @extend_schema(
        request=s.RenderRequestSerializer,
        responses={200: s.RenderedSerializer, **RETIRED},
        examples=[
            request_example(
                "Production",
                {"environment": "production", "variables": {"customer": "Ada", "amount": "€12"}},
            )
        ],
        description="Resolve, then fill in the variables. Missing or unknown variables, "
        "template errors and sandbox refusals answer 422 naming them.",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        data = parse(s.RenderRequestSerializer, request)
        resolved = resolve.resolve(
            user=request.user,
            namespace=namespace,
            name=name,
            environment=data["environment"],
            version=data.get("version"),
            subject=data.get("subject") or None,
        )
        rendered = resolve.render_resolved(resolved, data["variables"])
        response = _with_resolve_headers(
            Response({**resolved.body, "rendered": rendered}), resolved
        )
        response["Cache-Control"] = "no-store"
        return response
