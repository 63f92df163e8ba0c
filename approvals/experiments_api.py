"""API for experiments: list, propose (through approval where the environment needs it),
read one, stop (optionally with a winner, deployed through the promotion path)."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors
from approvals import serializers as s
from approvals.services.experiments import experiment_end, experiment_propose
from portal.api.permissions import IsPersonOrServiceReading
from portal.api.schema import request_example
from portal.api.views import parse
from portal.errors import Invalid
from prompts.models import Environment, Experiment
from prompts.selectors import experiment_get, experiments_visible_to, prompt_get
from teams.permissions import Principal


def _reload(user: Principal, pk: int) -> Experiment:
    return experiment_get(user=user, experiment_id=pk)


class ExperimentListCreate(generics.ListAPIView):
    serializer_class = s.ExperimentSerializer
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        parameters=[
            OpenApiParameter("prompt", str, description='"namespace/name"'),
            OpenApiParameter("environment", str),
            OpenApiParameter("state", str, enum=Experiment.State.values),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Experiment]:
        params = self.request.query_params
        queryset = experiments_visible_to(user=self.request.user)
        if params.get("state"):
            if params["state"] not in Experiment.State.values:
                raise Invalid.field("state", f"Unknown state {params['state']!r}.")
            queryset = queryset.filter(state=params["state"])
        if params.get("environment"):
            queryset = queryset.filter(environment__slug=params["environment"])
        if params.get("prompt"):
            namespace, _, name = params["prompt"].partition("/")
            queryset = queryset.filter(prompt__namespace__slug=namespace, prompt__name=name)
        return queryset

    @extend_schema(
        request=s.ExperimentCreateSerializer,
        responses={201: s.ExperimentSerializer},
        examples=[
            request_example(
                "A 90/10 test in production",
                {
                    "prompt": "support/refund-reply",
                    "environment": "production",
                    "arms": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
                    "hypothesis": "The shorter reply raises positive feedback.",
                    "primary_metric": "feedback",
                    "guardrails": [{"metric": "error_rate", "max_increase": 0.02}],
                    "justification": "Ran a week in staging without errors.",
                },
            )
        ],
        description="Starts at once where the environment needs no approval; otherwise the "
        "experiment is `pending` and `request` is the promotion request reviewers decide.",
    )
    def post(self, request: Request) -> Response:
        data = parse(s.ExperimentCreateSerializer, request)
        namespace, slash, name = data["prompt"].partition("/")
        if not slash:
            raise Invalid.field("prompt", 'Name the prompt as "namespace/name".')
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        environment = Environment.objects.filter(slug=data["environment"]).first()
        if environment is None:
            raise Invalid.field("environment", f"No environment {data['environment']!r}.")
        experiment = experiment_propose(
            actor=request.user,
            prompt=prompt,
            environment=environment,
            arms=[dict(arm) for arm in data["arms"]],
            hypothesis=data["hypothesis"],
            primary_metric=data["primary_metric"],
            guardrails=data["guardrails"],
            minimum_detectable_effect=data["minimum_detectable_effect"],
            justification=data["justification"],
        )
        body = s.ExperimentSerializer(_reload(request.user, experiment.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


class ExperimentDetail(generics.RetrieveAPIView):
    serializer_class = s.ExperimentSerializer
    permission_classes = [IsPersonOrServiceReading]
    queryset = Experiment.objects.none()

    def get_object(self) -> Experiment:
        return _reload(self.request.user, self.kwargs["pk"])


class ExperimentStop(APIView):
    @extend_schema(
        request=s.ExperimentStopSerializer,
        responses={200: s.ExperimentStoppedSerializer},
        description="Traffic goes back to the control at once. A `winner` other than the "
        "control is then requested for the environment (`promotion`): applied at once where "
        "no approval is needed, pending for reviewers otherwise.",
    )
    def post(self, request: Request, pk: int) -> Response:
        data = parse(s.ExperimentStopSerializer, request)
        experiment = experiment_get(user=request.user, experiment_id=pk)
        experiment, promotion = experiment_end(
            actor=request.user, experiment=experiment, reason=data["reason"], winner=data["winner"]
        )
        promotion_body = None
        if promotion is not None:
            reloaded = selectors.promotion_request_get(user=request.user, pk=promotion.pk)
            promotion_body = s.PromotionRequestSerializer(reloaded).data
        body = {
            "experiment": s.ExperimentSerializer(_reload(request.user, experiment.pk)).data,
            "promotion": promotion_body,
        }
        return Response(body)
