"""API for users, tokens, teams, members, namespaces and service tokens."""

import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.schema import request_example
from portal.api.views import parse
from portal.errors import Invalid, NotFound
from teams import permissions, selectors, services, tokens
from teams import serializers as s
from teams.models import ApiToken, Membership, Namespace, Team

User = get_user_model()


def user_named(username: str, field: str = "username", *, active_only: bool = True):
    user = selectors.user_by_username(username=username, active_only=active_only)
    if user is None:
        which = "active user" if active_only else "user"
        raise Invalid.field(field, f"No {which} named {username!r}.")
    return user


def team_named(slug: str, field: str = "team") -> Team:
    team = selectors.team_by_slug(slug=slug)
    if team is None:
        raise Invalid.field(field, f"No team {slug!r}.")
    return team


# --- Users ------------------------------------------------------------------------------------


class UserListCreate(generics.ListAPIView):
    serializer_class = s.UserSerializer
    queryset = User.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        if not permissions.is_staff(self.request.user):
            raise PermissionDenied("Only staff list users.")
        return selectors.people()

    @extend_schema(
        request=s.UserCreateSerializer,
        responses={201: s.UserSerializer},
        examples=[
            request_example(
                "A person",
                {"username": "ada", "email": "ada@example.com", "password": "a long pass 42!"},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        user = services.user_create(actor=request.user, **parse(s.UserCreateSerializer, request))
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetail(generics.RetrieveAPIView):
    serializer_class = s.UserSerializer

    def get_object(self):
        if not permissions.is_staff(self.request.user):
            raise PermissionDenied("Only staff see and change people's access.")
        user = selectors.user_by_username(username=self.kwargs["username"], active_only=False)
        if user is None:
            raise NotFound(f"No user {self.kwargs['username']}.")
        return user

    @extend_schema(request=s.UserUpdateSerializer, responses={200: s.UserSerializer})
    def patch(self, request: Request, username: str) -> Response:
        user = services.user_update(
            actor=request.user, user=self.get_object(), **parse(s.UserUpdateSerializer, request)
        )
        return Response(s.UserSerializer(user).data)


# --- Personal tokens ----------------------------------------------------------------------


class TokenListCreate(generics.ListAPIView):
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return selectors.tokens_of(user=self.request.user).prefetch_related("namespaces")

    @extend_schema(
        request=s.TokenCreateSerializer,
        responses={201: s.TokenCreatedSerializer},
        examples=[
            request_example(
                "Until the end of a day", {"name": "laptop", "expires_at": "2031-12-31"}
            ),
            request_example("Expiring", {"name": "laptop", "expires_at": "2031-01-01T00:00:00Z"}),
            request_example(
                "Scoped for CI",
                {
                    "name": "ci-support",
                    "scopes": ["read", "versions:write", "promotions:request"],
                    "namespaces": ["support"],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.TokenCreateSerializer, request)
        data["namespaces"] = tokens.namespaces_named(actor=request.user, slugs=data["namespaces"])
        token, secret = tokens.personal_token_create(actor=request.user, **data)
        token.token = secret
        return Response(s.TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetail(generics.RetrieveDestroyAPIView):
    serializer_class = s.TokenSerializer

    def get_object(self) -> ApiToken:
        token = selectors.tokens_of(user=self.request.user).filter(prefix=self.kwargs["id"]).first()
        if token is None:
            raise NotFound(f"You have no token {self.kwargs['id']}.")
        return token

    @extend_schema(responses={204: None})
    def delete(self, request: Request, id: str) -> Response:
        tokens.token_revoke(actor=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Teams and members --------------------------------------------------------------------


class TeamListCreate(generics.ListAPIView):
    serializer_class = s.TeamSerializer

    def get_queryset(self):
        return selectors.teams_visible_to(user=self.request.user).order_by("slug")

    @extend_schema(
        request=s.TeamSerializer,
        responses={201: s.TeamSerializer},
        examples=[request_example("A team", {"slug": "billing", "name": "Billing"})],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.TeamSerializer, request)
        team = services.team_create(actor=request.user, **data)
        team = selectors.team_get(user=request.user, slug=team.slug)
        return Response(s.TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamDetail(generics.RetrieveAPIView):
    serializer_class = s.TeamSerializer

    def get_object(self) -> Team:
        return selectors.team_get(user=self.request.user, slug=self.kwargs["team"])

    @extend_schema(request=s.TeamUpdateSerializer, responses={200: s.TeamSerializer})
    def patch(self, request: Request, team: str) -> Response:
        services.team_update(
            actor=request.user, team=self.get_object(), **parse(s.TeamUpdateSerializer, request)
        )
        return Response(s.TeamSerializer(self.get_object()).data)


class MemberListCreate(generics.ListAPIView):
    serializer_class = s.MemberSerializer
    queryset = Membership.objects.none()

    def team(self) -> Team:
        return selectors.team_get(user=self.request.user, slug=self.kwargs["team"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.team_members(team=self.team())

    @extend_schema(
        request=s.MemberCreateSerializer,
        responses={201: s.MemberSerializer},
        examples=[request_example("A viewer", {"username": "sam", "role": "viewer"})],
    )
    def post(self, request: Request, team: str) -> Response:
        data = parse(s.MemberCreateSerializer, request)
        target = self.team()
        user = user_named(data["username"])
        if selectors.team_members(team=target).filter(user=user).exists():
            raise Invalid.field("username", f"{user} is already a member; PATCH their role.")
        membership = services.membership_set(
            actor=request.user, team=target, user=user, role=data["role"]
        )
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(generics.RetrieveAPIView):
    serializer_class = s.MemberSerializer

    def get_object(self):
        team = selectors.team_get(user=self.request.user, slug=self.kwargs["team"])
        return selectors.membership_get(team=team, username=self.kwargs["username"])

    @extend_schema(request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer})
    def patch(self, request: Request, team: str, username: str) -> Response:
        membership = self.get_object()
        data = parse(s.MemberUpdateSerializer, request)
        membership = services.membership_set(
            actor=request.user, team=membership.team, user=membership.user, role=data["role"]
        )
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team: str, username: str) -> Response:
        membership = self.get_object()
        services.membership_remove(actor=request.user, team=membership.team, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Namespaces -----------------------------------------------------------------------------


class NamespaceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", help_text="The owning team's slug.")

    class Meta:
        model = Namespace
        fields = ["visibility", "team"]


class NamespaceListCreate(generics.ListAPIView):
    """Namespaces the caller may see; `?team=` answers "who owns this?" the other way round."""

    serializer_class = s.NamespaceSerializer
    filterset_class = NamespaceFilter

    def get_queryset(self):
        return selectors.namespaces_visible_to(user=self.request.user).order_by("slug")

    @extend_schema(
        request=s.NamespaceCreateSerializer,
        responses={201: s.NamespaceSerializer},
        examples=[
            request_example(
                "Internal", {"slug": "billing", "team": "support", "visibility": "internal"}
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(s.NamespaceCreateSerializer, request)
        data["team"] = team_named(data["team"])
        namespace = services.namespace_create(actor=request.user, **data)
        return Response(s.NamespaceSerializer(namespace).data, status=status.HTTP_201_CREATED)


class NamespaceScoped:
    """Views under /namespaces/{ns}/: the namespace must be visible to the caller (else 404)."""

    def namespace(self):
        return selectors.namespace_get(user=self.request.user, slug=self.kwargs["namespace"])


class NamespaceDetail(NamespaceScoped, generics.RetrieveAPIView):
    serializer_class = s.NamespaceSerializer

    def get_object(self):
        return self.namespace()

    @extend_schema(request=s.NamespaceUpdateSerializer, responses={200: s.NamespaceSerializer})
    def patch(self, request: Request, namespace: str) -> Response:
        data = parse(s.NamespaceUpdateSerializer, request)
        if "team" in data:
            data["team"] = team_named(data["team"])
        updated = services.namespace_update(actor=request.user, namespace=self.namespace(), **data)
        return Response(s.NamespaceSerializer(updated).data)


# --- Service tokens ---------------------------------------------------------------------------


class ServiceTokenScoped(NamespaceScoped):
    def managed_namespace(self):
        namespace = self.namespace()
        if not permissions.can_manage_namespace(self.request.user, namespace):
            raise PermissionDenied(f"Only owners of {namespace.slug} or staff manage its tokens.")
        return namespace


class ServiceTokenListCreate(ServiceTokenScoped, generics.ListAPIView):
    serializer_class = s.TokenSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.service_tokens_of(namespace=self.managed_namespace())

    @extend_schema(
        request=s.ServiceTokenCreateSerializer,
        responses={201: s.TokenCreatedSerializer},
        examples=[
            request_example("Never expires", {"name": "support-bot"}),
            request_example("Reports events only", {"name": "events", "scopes": ["events:write"]}),
        ],
    )
    def post(self, request: Request, namespace: str) -> Response:
        data = parse(s.ServiceTokenCreateSerializer, request)
        namespaces = [self.managed_namespace()]
        for slug in data.pop("namespaces"):
            if slug != namespaces[0].slug:
                namespaces.append(selectors.namespace_get(user=request.user, slug=slug))
        token, secret = tokens.service_token_create(
            actor=request.user, namespaces=namespaces, **data
        )
        token.token = secret
        return Response(s.TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class ServiceTokenDetail(ServiceTokenScoped, generics.RetrieveDestroyAPIView):
    serializer_class = s.TokenSerializer

    def get_object(self) -> ApiToken:
        token = (
            selectors.service_tokens_of(namespace=self.managed_namespace())
            .filter(prefix=self.kwargs["id"])
            .first()
        )
        if token is None:
            raise NotFound(f"No service token {self.kwargs['id']} in this namespace.")
        return token

    @extend_schema(responses={204: None})
    def delete(self, request: Request, namespace: str, id: str) -> Response:
        tokens.token_revoke(actor=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
