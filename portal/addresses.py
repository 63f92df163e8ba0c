"""The caller's address, one answer for the audit log, the token-failure throttle, the render
throttles and the sign-in lockout.

Without `TRUSTED_PROXIES` it is `REMOTE_ADDR`, and `X-Forwarded-For` is ignored: anyone can
write that header. Behind proxies, list their addresses (or prefixes such as "10.0."): the
ipware engine of django-ipware then reads the chain `X-Forwarded-For, REMOTE_ADDR` and
answers the address just before the trusted proxies, the one the outermost proxy saw.
Entries further left were written by the client and are never used. (django-ipware's own
`get_client_ip` is strict: a client that adds entries makes it answer nothing at all.)
"""

from django.conf import settings
from django.http import HttpRequest
from python_ipware import IpWare

MAX_FORWARDED_CHARS = 2000


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not settings.TRUSTED_PROXIES or not forwarded:
        return remote
    engine = IpWare(
        precedence=("HTTP_X_FORWARDED_FOR",), leftmost=True, proxy_list=settings.TRUSTED_PROXIES
    )
    chain = f"{forwarded[-MAX_FORWARDED_CHARS:]}, {remote}"
    address, _ = engine.get_client_ip({"HTTP_X_FORWARDED_FOR": chain}, False)
    return str(address) if address else remote
