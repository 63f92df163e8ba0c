"""API of evaluation runs: list and start, read one (progress and per-case results), cancel.
Readers of the prompt read; people who may edit its prompts (maintainers, owners) start and
cancel; anyone else meets 404 for a private namespace."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrServiceReading
from portal.api.schema import request_example
from portal.api.views import parse
from portal.errors import Invalid, NotFound
from prompts.evaluations import runs
from prompts.evaluations import runs_serializers as s
from prompts.evaluations.models import Model, Run, Suite
from prompts.evaluations.selectors import run_get, runs_visible_to
from prompts.models import Prompt, PromptVersion
from prompts.selectors import prompt_get, prompt_version_get
from teams.permissions import Principal


def _prompt(user: Principal, full_name: str, field: str = "prompt") -> Prompt:
    namespace, slash, name = full_name.partition("/")
    if not slash:
        raise Invalid.field(field, 'Name the prompt as "namespace/name".')
    return prompt_get(user=user, namespace=namespace, name=name)


def _suite(prompt: Prompt, given: str) -> Suite:
    suites = Suite.objects.filter(prompt=prompt)
    numeric = given.isascii() and given.isdigit() and len(given) <= 18
    suite = (suites.filter(pk=int(given)) if numeric else suites.filter(name=given)).first()
    if suite is None:
        raise Invalid.field("suite", f"{prompt.full_name} has no suite {given!r}.")
    return suite


def _model(name: str) -> Model:
    model = Model.objects.filter(name=name).first()
    if model is None:
        raise Invalid.field("model", f"No model {name!r}.")
    return model


class RunListCreate(generics.ListAPIView):
    serializer_class = s.RunSerializer
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        parameters=[
            OpenApiParameter("prompt", str, description='"namespace/name"'),
            OpenApiParameter("suite", int, description="The suite's id."),
            OpenApiParameter("model", str, description="The model's name."),
            OpenApiParameter("state", str, enum=Run.State.values),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Run]:
        params = self.request.query_params
        queryset = runs_visible_to(user=self.request.user)
        if params.get("state"):
            if params["state"] not in Run.State.values:
                raise Invalid.field("state", f"Unknown state {params['state']!r}.")
            queryset = queryset.filter(state=params["state"])
        if params.get("prompt"):
            namespace, _, name = params["prompt"].partition("/")
            queryset = queryset.filter(prompt__namespace__slug=namespace, prompt__name=name)
        if params.get("suite"):
            if (
                not (params["suite"].isascii() and params["suite"].isdigit())
                or len(params["suite"]) > 18
            ):
                raise Invalid.field("suite", "The suite is named by its id.")
            queryset = queryset.filter(suite_id=int(params["suite"]))
        if params.get("model"):
            queryset = queryset.filter(model__name=params["model"])
        return queryset

    @extend_schema(
        request=s.RunCreateSerializer,
        responses={202: s.RunSerializer},
        examples=[
            request_example(
                "Run a suite on the offline model",
                {
                    "prompt": "support/refund-reply",
                    "version": 3,
                    "suite": "smoke",
                    "model": "local",
                },
            )
        ],
        description="Queues the run (202): poll `GET /evaluations/{id}/` for `done`/`total` "
        "and, once finished, `state`, `pass_rate` and `results`.",
    )
    def post(self, request: Request) -> Response:
        data = parse(s.RunCreateSerializer, request)
        prompt = _prompt(request.user, data["prompt"])
        try:
            version: PromptVersion = prompt_version_get(prompt=prompt, number=data["version"])
        except NotFound as exc:
            raise Invalid.field("version", exc.detail) from exc
        run = runs.run_create(
            actor=request.user,
            prompt=prompt,
            version=version,
            suite=_suite(prompt, data["suite"]),
            model=_model(data["model"]),
        )
        body = s.RunSerializer(run_get(user=request.user, run_id=run.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class RunDetail(generics.RetrieveAPIView):
    serializer_class = s.RunSerializer
    permission_classes = [IsPersonOrServiceReading]
    queryset = Run.objects.none()

    def get_object(self) -> Run:
        return run_get(user=self.request.user, run_id=self.kwargs["pk"])

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "with_results": True}


class RunCancel(APIView):
    @extend_schema(request=None, responses={200: s.RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = runs.run_cancel(actor=request.user, run=run_get(user=request.user, run_id=pk))
        return Response(s.RunSerializer(run_get(user=request.user, run_id=run.pk)).data)
