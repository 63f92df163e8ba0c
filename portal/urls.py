"""The site's URLs: each app's pages and API by module name (the kernel imports no app)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

urlpatterns = [
    path("ping/", views.ping, name="ping"),
    path("api/v1/", include("portal.api_urls")),
    path("api/public/", include("integrations.urls")),  # the Langfuse-compatible API
    path("", include("prompts.home_urls")),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("prompts.urls")),
    path("", include("prompts.metrics.urls")),
    path("", include("prompts.evaluations.urls")),
    path("", include("teams.urls")),
    path("", include("teams.notifications.urls")),
    path("", include("approvals.urls")),
    path("", include("portal.audit.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
