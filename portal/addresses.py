"""The caller's address, one answer for the audit log, the token-failure throttle, the render
and sign-in throttles and the sign-in lockout.

Without `TRUSTED_PROXIES` it is `REMOTE_ADDR`, and `X-Forwarded-For` is ignored: anyone can
write that header. With it (networks such as `10.0.0.0/16` or single addresses, in any order:
parallel load balancers, several hops), the chain `X-Forwarded-For, REMOTE_ADDR` is read from
the right, skipping every hop inside a trusted network; the first one outside is the client,
the address the outermost trusted proxy saw. Entries further left were written by the client
and are never used; an entry that is not an address where the client should be ends the walk
at the nearest proxy.

(django-ipware was tried first: its proxy list is an exact ordered chain, so one of two
parallel load balancers answers itself; its strict mode answers nothing once a client
prepends entries, and its lenient mode prefers any global address, the client's own
included.)
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_CHARS = 2000


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The TRUSTED_PROXIES setting parsed (PortalConfig.ready parses it at start-up, so a bad
    entry stops the process, naming it)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an address or a network such as 10.0.0.0/16."
            ) from exc
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An X-Forwarded-For entry as an address: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678`."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not forwarded:
        return remote
    client = _address(remote)
    hops = forwarded[-MAX_FORWARDED_CHARS:].split(",")
    while client is not None and any(client in network for network in networks) and hops:
        client = _address(hops.pop())
    return str(client) if client is not None else remote
