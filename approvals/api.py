"""API for promotion requests, reviews, rollback, deployment history and promotion rights."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors, services
from approvals import serializers as s
from approvals.models import PromotionRequest
from portal.api.permissions import IsPersonOrServiceReading
from portal.api.schema import request_example
from portal.api.views import parse
from portal.errors import Invalid, NotFound
from prompts.api import PromptScoped
from prompts.models import Environment
from prompts.selectors import prompt_get, prompt_version_get
from teams.api import NamespaceScoped, team_named, user_named
from teams.models import Namespace


def _environment(slug: str, field: str = "environment") -> Environment:
    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        raise Invalid.field(field, f"No environment {slug!r}.")
    return environment


class PromotionListCreate(generics.ListAPIView):
    serializer_class = s.PromotionRequestSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=PromotionRequest.State.values),
            OpenApiParameter("environment", str),
            OpenApiParameter("namespace", str),
            OpenApiParameter("prompt", str, description='"namespace/name"'),
            OpenApiParameter(
                "reviewable", bool, description="Only requests the caller may decide now."
            ),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        user = self.request.user
        reviewable = params.get("reviewable", "").lower() in {"1", "true", "yes"}
        queryset = (
            selectors.inbox(user=user)
            if reviewable
            else selectors.promotion_requests_visible_to(user=user)
        )
        if params.get("state"):
            if params["state"] not in PromotionRequest.State.values:
                raise Invalid.field("state", f"Unknown state {params['state']!r}.")
            queryset = queryset.filter(state=params["state"])
        if params.get("environment"):
            queryset = queryset.filter(environment__slug=params["environment"])
        if params.get("namespace"):
            queryset = queryset.filter(prompt__namespace__slug=params["namespace"])
        if params.get("prompt"):
            namespace, _, name = params["prompt"].partition("/")
            queryset = queryset.filter(prompt__namespace__slug=namespace, prompt__name=name)
        return queryset

    @extend_schema(
        request=s.PromotionRequestCreateSerializer,
        responses={201: s.PromotionRequestSerializer},
        examples=[
            request_example(
                "To production",
                {
                    "prompt": "support/refund-reply",
                    "version": 3,
                    "environment": "production",
                    "justification": "Legal approved the wording.",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.PromotionRequestCreateSerializer, request)
        namespace, slash, name = data["prompt"].partition("/")
        if not slash:
            raise Invalid.field("prompt", 'Name the prompt as "namespace/name".')
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        try:
            version = prompt_version_get(prompt=prompt, number=data["version"])
        except NotFound as exc:
            raise Invalid.field("version", exc.detail) from exc
        created = services.promotion_request(
            actor=request.user,
            prompt=prompt,
            version=version,
            environment=_environment(data["environment"]),
            justification=data["justification"],
            override=data["override"],
        )
        body = s.PromotionRequestSerializer(_reload(request, created.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


def _reload(request: Request, pk: int) -> PromotionRequest:
    return selectors.promotion_request_get(user=request.user, pk=pk)


class PromotionDetail(generics.RetrieveAPIView):
    serializer_class = s.PromotionRequestSerializer
    queryset = PromotionRequest.objects.none()

    def get_object(self) -> PromotionRequest:
        return _reload(self.request, self.kwargs["pk"])


class _Decision(APIView):
    action = ""

    @extend_schema(
        request=s.DecisionSerializer,
        responses={200: s.PromotionRequestSerializer},
        examples=[request_example("A comment", {"comment": "Checked against the policy."})],
    )
    def post(self, request: Request, pk: int) -> Response:
        target = _reload(request, pk)
        comment = parse(s.DecisionSerializer, request)["comment"]
        decide = {
            "approve": services.promotion_approve,
            "reject": services.promotion_reject,
            "cancel": services.promotion_cancel,
        }[self.action]
        decide(actor=request.user, request=target, comment=comment)
        return Response(s.PromotionRequestSerializer(_reload(request, pk)).data)


class PromotionApprove(_Decision):
    action = "approve"


class PromotionReject(_Decision):
    action = "reject"


class PromotionCancel(_Decision):
    action = "cancel"


class DeploymentHistorySerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.slug")
    version = serializers.IntegerField(source="version_number", help_text="The version it ran.")
    from_version = serializers.IntegerField(
        source="from_number", allow_null=True, help_text="The version it ran before; null at first."
    )
    kind = serializers.ChoiceField(
        choices=["promotion", "rollback", "seeded", "other"],
        help_text="promotion (see `request`), rollback, seeded by the demo, or other.",
    )
    request = serializers.IntegerField(
        source="request_id", allow_null=True, help_text="The promotion request it applied."
    )
    justification = serializers.CharField(help_text="The promotion's or rollback's reason.")
    at = serializers.DateTimeField()
    by = serializers.CharField(
        allow_null=True, help_text="Who made the change (a username, a token, or 'system')."
    )
    change = serializers.CharField(help_text="Created or Changed.")


class Rollback(PromptScoped, APIView):
    @extend_schema(
        request=s.RollbackSerializer,
        responses={200: DeploymentHistorySerializer},
        examples=[
            request_example(
                "To the version before",
                {"environment": "production", "justification": "Complaints since the change."},
            )
        ],
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        data = parse(s.RollbackSerializer, request)
        prompt = self.prompt()
        version = None
        if "version" in data:
            try:
                version = prompt_version_get(prompt=prompt, number=data["version"])
            except NotFound as exc:
                raise Invalid.field("version", exc.detail) from exc
        deployment = services.rollback(
            actor=request.user,
            prompt=prompt,
            environment=_environment(data["environment"]),
            version=version,
            justification=data["justification"],
        )
        latest = selectors.deployment_changes(
            prompt=prompt, environment_slug=deployment.environment.slug
        )[0]
        return Response(DeploymentHistorySerializer(latest).data)


class DeploymentHistory(PromptScoped, generics.ListAPIView):
    serializer_class = DeploymentHistorySerializer
    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(parameters=[OpenApiParameter("environment", str)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PromotionRequest.objects.none()
        return selectors.deployment_changes(
            prompt=self.prompt(), environment_slug=self.request.query_params.get("environment")
        )


class PromotionRights(NamespaceScoped, generics.GenericAPIView):
    serializer_class = s.PromotionRightSerializer
    pagination_class = None
    queryset = Namespace.objects.none()

    @extend_schema(responses={200: s.PromotionRightSerializer(many=True)})
    def get(self, request: Request, namespace: str) -> Response:
        rights = selectors.promotion_rights(namespace=self.namespace())
        return Response(s.PromotionRightSerializer(rights, many=True).data)

    def _holder(self, data: dict, *, active_only: bool = True) -> dict:
        if "username" in data:
            return {"user": user_named(data["username"], active_only=active_only)}
        return {"team": team_named(data["team"])}

    @extend_schema(
        request=s.PromotionRightInputSerializer,
        responses={201: s.PromotionRightSerializer(many=True)},
        examples=[request_example("A person", {"username": "max", "environment": "staging"})],
    )
    def post(self, request: Request, namespace: str) -> Response:
        data = parse(s.PromotionRightInputSerializer, request)
        target = self.namespace()
        services.promotion_right_grant(
            actor=request.user,
            namespace=target,
            environment=data["environment"],
            **self._holder(data),
        )
        rights = selectors.promotion_rights(namespace=target)
        return Response(
            s.PromotionRightSerializer(rights, many=True).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=s.PromotionRightInputSerializer,
        parameters=[
            OpenApiParameter("environment", str, description="Or in the JSON body."),
            OpenApiParameter("username", str, required=False),
            OpenApiParameter("team", str, required=False),
        ],
        responses={204: None},
    )
    def delete(self, request: Request, namespace: str) -> Response:
        body = request.data if request.data else request.query_params
        serializer = s.PromotionRightInputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        removed = services.promotion_right_revoke(
            actor=request.user,
            namespace=self.namespace(),
            environment=data["environment"],
            **self._holder(data, active_only=False),  # a deactivated person's right too
        )
        if not removed:
            raise NotFound("There is no such promotion right.")
        return Response(status=status.HTTP_204_NO_CONTENT)
