"""API of the notifications app: the caller's inbox and e-mail preferences, a team's webhooks
and their delivery log, and what was sent to a team. People only: a service token gets 403
(the default permission), nobody reads another person's inbox (404)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.schema import request_example
from portal.api.views import parse, parse_query
from teams import selectors as team_selectors
from teams.models import Team
from teams.notifications import selectors, services, webhooks
from teams.notifications import serializers as s
from teams.notifications.models import Delivery, Notification, Webhook, WebhookAttempt

# --- The caller's inbox -------------------------------------------------------------------------


class NotificationList(generics.ListAPIView):
    serializer_class = s.NotificationSerializer
    queryset = Notification.objects.none()

    @extend_schema(parameters=[s.NotificationQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        query = parse_query(s.NotificationQuerySerializer, self.request)
        return selectors.notifications_of(user=self.request.user, unread=query["unread"])


class NotificationRead(APIView):
    @extend_schema(request=None, responses={200: s.NotificationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        entry = selectors.notification_get(user=request.user, pk=pk)
        entry = services.notification_mark_read(user=request.user, notification=entry)
        return Response(s.NotificationSerializer(entry).data)


class NotificationReadAll(APIView):
    @extend_schema(request=None, responses={200: s.MarkedSerializer})
    def post(self, request: Request) -> Response:
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})


class UnreadCount(APIView):
    @extend_schema(responses={200: s.UnreadCountSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread": selectors.unread_count(user=request.user)})


class Preferences(APIView):
    @extend_schema(responses={200: s.PreferencesSerializer})
    def get(self, request: Request) -> Response:
        return Response({"email": selectors.preferences_of(user=request.user)})

    @extend_schema(
        request=s.PreferencesSerializer,
        responses={200: s.PreferencesSerializer},
        examples=[
            request_example("No stale digests by e-mail", {"email": {"stale.digest": False}})
        ],
    )
    def patch(self, request: Request) -> Response:
        data = parse(s.PreferencesSerializer, request)
        return Response({"email": services.preferences_set(user=request.user, email=data["email"])})


# --- A team's webhooks and records ----------------------------------------------------------------


class TeamScoped:
    def team(self) -> Team:
        return team_selectors.team_get(user=self.request.user, slug=self.kwargs["team"])

    def webhook(self) -> Webhook:
        return selectors.webhook_get(user=self.request.user, team=self.team(), pk=self.kwargs["pk"])


class TeamDeliveries(TeamScoped, generics.ListAPIView):
    """What was sent about the team, by every channel (its owners and staff)."""

    serializer_class = s.DeliverySerializer
    queryset = Delivery.objects.none()

    @extend_schema(parameters=[s.DeliveryQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        query = parse_query(s.DeliveryQuerySerializer, self.request)
        return selectors.team_deliveries(
            user=self.request.user, team=self.team(), channel=query.get("channel")
        )


class WebhookListCreate(TeamScoped, generics.ListAPIView):
    serializer_class = s.WebhookSerializer
    queryset = Webhook.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.team_webhooks(user=self.request.user, team=self.team())

    @extend_schema(
        request=s.WebhookCreateSerializer,
        responses={201: s.WebhookCreatedSerializer},
        examples=[
            request_example(
                "Rollbacks and deprecations",
                {
                    "url": "https://hooks.example.com/portal",
                    "events": ["deployment.rolled_back", "prompt.deprecated"],
                },
            )
        ],
    )
    def post(self, request: Request, team: str) -> Response:
        data = parse(s.WebhookCreateSerializer, request)
        hook = webhooks.webhook_create(actor=request.user, team=self.team(), **data)
        return Response(s.WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetail(TeamScoped, generics.RetrieveAPIView):
    serializer_class = s.WebhookSerializer
    queryset = Webhook.objects.none()

    def get_object(self) -> Webhook:
        return self.webhook()

    @extend_schema(request=s.WebhookUpdateSerializer, responses={200: s.WebhookSerializer})
    def patch(self, request: Request, team: str, pk: int) -> Response:
        data = parse(s.WebhookUpdateSerializer, request)
        hook = webhooks.webhook_update(actor=request.user, webhook=self.webhook(), **data)
        return Response(s.WebhookSerializer(hook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team: str, pk: int) -> Response:
        webhooks.webhook_delete(actor=request.user, webhook=self.webhook())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTest(TeamScoped, APIView):
    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    def post(self, request: Request, team: str, pk: int) -> Response:
        delivery = webhooks.webhook_send_test(actor=request.user, webhook=self.webhook())
        return Response(s.DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookAttempts(TeamScoped, generics.ListAPIView):
    """The delivery log of one webhook: each HTTP try, newest first."""

    serializer_class = s.WebhookAttemptSerializer
    queryset = WebhookAttempt.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.webhook_attempts(webhook=self.webhook())
