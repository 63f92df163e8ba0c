"""Rate limits per caller (DRF throttles): a person by id, a service token by its id, anyone
else by address (portal.addresses.limit_address: IPv6 by /64). Rates are settings
(REST_FRAMEWORK's DEFAULT_THROTTLE_RATES) so they can be raised for a busy CI runner."""

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from portal.addresses import limit_address
from portal.principals import ServicePrincipal


def caller_ident(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if isinstance(user, ServicePrincipal):
        return f"token:{user.token_id}"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"address:{limit_address(request)}"


class CallerRateThrottle(SimpleRateThrottle):
    """Counts requests of one caller in the scope named by `scope`."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": caller_ident(request)}


class LoginThrottle(CallerRateThrottle):
    """Sign-in attempts per address (the caller is anonymous until it succeeds): LOGIN_RATE."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": limit_address(request)}


class RenderThrottle(CallerRateThrottle):
    """Renders run templates in the sandbox's workers: a caller gets RENDER_RATE of them."""

    scope = "render"
