from django.urls import path

from portal import converters  # noqa: F401 - registers <token:> and <username:>
from teams import api

urlpatterns = [
    path("users/", api.UserListCreate.as_view(), name="api-users"),
    path("users/<username:username>/", api.UserDetail.as_view(), name="api-user"),
    path("tokens/", api.TokenListCreate.as_view(), name="api-tokens"),
    path("tokens/<token:id>/", api.TokenDetail.as_view(), name="api-token"),
    path("teams/", api.TeamListCreate.as_view(), name="api-teams"),
    path("teams/<slug:team>/", api.TeamDetail.as_view(), name="api-team"),
    path("teams/<slug:team>/members/", api.MemberListCreate.as_view(), name="api-members"),
    path(
        "teams/<slug:team>/members/<username:username>/",
        api.MemberDetail.as_view(),
        name="api-member",
    ),
    path("namespaces/", api.NamespaceListCreate.as_view(), name="api-namespaces"),
    path("namespaces/<slug:namespace>/", api.NamespaceDetail.as_view(), name="api-namespace"),
    path(
        "namespaces/<slug:namespace>/service-tokens/",
        api.ServiceTokenListCreate.as_view(),
        name="api-service-tokens",
    ),
    path(
        "namespaces/<slug:namespace>/service-tokens/<token:id>/",
        api.ServiceTokenDetail.as_view(),
        name="api-service-token",
    ),
]
