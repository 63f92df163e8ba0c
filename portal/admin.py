"""The admin is for inspection. Governance data changes only through the services (the portal
pages and the API), which check rights, audit and invalidate caches; so every model here is
read-only: no add, change, delete, bulk action or history revert. django-axes' sign-in
attempts too (staff lift a lockout on the People page, audited). Celery beat's schedules too:
the outbox drain they run is part of the freshness contract (their source is the
`CELERY_BEAT_SCHEDULE` setting, which beat loads at start).

`InspectOnly` is what every app's admin classes build on. Every active staff member may look;
model permissions play no part (nothing grants them)."""

import base64
import hashlib

from csp.constants import UNSAFE_HASHES
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.utils.decorators import method_decorator

from portal.models import OutboxMessage
from portal.views import sign_in_refusal

# simple-history's history page has one style attribute, which the site's CSP refuses; that
# page allows exactly this one by its hash (no other inline style, no inline script).
HISTORY_PAGE_STYLE = "border-top: 0"
HISTORY_PAGE_STYLE_HASH = (
    f"'sha256-{base64.b64encode(hashlib.sha256(HISTORY_PAGE_STYLE.encode()).digest()).decode()}'"
)


class InspectOnly:
    """Read-only admin. Also refuses simple-history's revert form, which saves on POST with
    nothing more than view permission."""

    actions = None

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @method_decorator(csp_update({"style-src-attr": [UNSAFE_HASHES, HISTORY_PAGE_STYLE_HASH]}))
    def history_view(self, request, object_id, extra_context=None):
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("The admin is read-only; changes go through the portal.")
        return super().history_form_view(request, object_id, version_id, extra_context)


admin.site.unregister(User)
admin.site.unregister(Group)
for _model, _model_admin in list(admin.site._registry.items()):
    if _model._meta.app_label in {"django_celery_beat", "axes"}:
        admin.site.unregister(_model)
        admin.site.register(
            _model,
            type(type(_model_admin).__name__, (InspectOnly, type(_model_admin)), {"inlines": []}),
        )


@admin.register(User)
class PersonAdmin(InspectOnly, UserAdmin):
    """People: deactivate, make staff or auditor on the portal's People page (staff)."""

    list_display = ["username", "email", "is_active", "is_staff", "last_login", "date_joined"]


@admin.register(Group)
class ReadOnlyGroupAdmin(InspectOnly, GroupAdmin):
    """Team groups follow memberships; the auditors group follows the People page."""


@admin.register(OutboxMessage)
class OutboxMessageAdmin(InspectOnly, admin.ModelAdmin):
    """What the web processes could not deliver to Redis yet (the beat task retries)."""

    list_display = ["pk", "kind", "created_at", "attempts", "last_error"]
    list_filter = ["kind"]


class _RateLimitedSignIn:
    """The admin's own sign-in page, within the same sign-in rate as the portal's."""

    def __init__(self, login) -> None:
        self.login = login

    def __call__(self, request, extra_context=None):
        return sign_in_refusal(request) or self.login(request, extra_context)


admin.site.login = _RateLimitedSignIn(admin.site.login)
