from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.principals import ServicePrincipal, is_user


class IsPerson(BasePermission):
    """A signed-in, active person (session or personal token). The default for every endpoint."""

    message = "This endpoint is for people; service tokens only read prompts in their namespaces."

    def has_permission(self, request, view) -> bool:
        return is_user(request.user)


class IsPersonOrServiceReading(BasePermission):
    """People, and service tokens for safe methods (object scoping is done by the selectors)."""

    message = "Service tokens may only read."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.user, ServicePrincipal):
            return request.method in SAFE_METHODS
        return is_user(request.user)


class IsPersonOrService(BasePermission):
    """People and service tokens alike (resolve and render, which only read)."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ServicePrincipal) or is_user(request.user)
