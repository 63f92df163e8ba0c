from django.urls import path

from portal import converters  # noqa: F401 - registers <token:> and <username:>
from teams import suggestions, views

app_name = "teams"

urlpatterns = [
    path("teams/<slug:team>/", views.team_detail, name="team"),
    path("teams/<slug:team>/edit/", views.team_update, name="team_update"),
    path("teams/<slug:team>/members/", views.member_add, name="member_add"),
    path(
        "teams/<slug:team>/members/<username:username>/role/", views.member_role, name="member_role"
    ),
    path(
        "teams/<slug:team>/members/<username:username>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("teams/<slug:team>/namespaces/", views.namespace_create, name="namespace_create"),
    path("people/", views.people, name="people"),
    path("people/lockouts/lift/", views.lockout_lift, name="lockout_lift"),
    path("people/<username:username>/", views.person_update, name="person_update"),
    path("suggest/users/", suggestions.users, name="suggest_users"),
    path("suggest/teams/", suggestions.teams, name="suggest_teams"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<token:prefix>/revoke/", views.token_revoke, name="token_revoke"),
]
