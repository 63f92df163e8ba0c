"""The caller's address, one answer for the audit log, the token-failure throttle, the render
and sign-in throttles and the sign-in lockout.

Without `TRUSTED_PROXIES` it is `REMOTE_ADDR`, and `X-Forwarded-For` is ignored: anyone can
write that header. With it (networks such as `10.0.0.0/16` or single addresses, in any order:
parallel load balancers, several hops), the chain `X-Forwarded-For, REMOTE_ADDR` is read from
the right, skipping every hop inside a trusted network; the first one outside is the client,
the address the outermost trusted proxy saw. Entries further left were written by the client
and are never used; an entry that is not an address where the client should be ends the walk
at the last trusted hop. (A client inside a trusted network is a proxy as far as this can
tell: its own entries are believed.) Rate limits and lockouts count IPv6 callers by /64.

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
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
MAX_FORWARDED_CHARS = 2000


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The TRUSTED_PROXIES setting parsed (PortalConfig.ready parses it at start-up, so a bad
    entry stops the process, naming it). IPv4-mapped networks are stored as IPv4 ones, the
    form hops are compared in."""
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an address or a network such as 10.0.0.0/16."
            ) from exc
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            network = ipaddress.ip_network(
                f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}"
            )
        networks.append(network)
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as written in X-Forwarded-For or REMOTE_ADDR (`1.2.3.4`, `1.2.3.4:5678`,
    `[::1]:5678`), IPv4-mapped ones as IPv4; None for anything else (zone ids included)."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if getattr(address, "scope_id", None):
        return None
    return getattr(address, "ipv4_mapped", None) or address


def _client(request: HttpRequest) -> Address | None:
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not forwarded:
        return peer
    hops = forwarded[-MAX_FORWARDED_CHARS:].split(",")
    client = peer
    while client is not None and any(client in network for network in networks) and hops:
        hop = _address(hops.pop())
        if hop is None:  # not an address where one should be: keep the last trusted hop
            break
        client = hop
    return client


def client_ip(request: HttpRequest, *, ipv6_prefix: int = 128) -> str:
    """The caller's address, as the audit log records it; with `ipv6_prefix`, an IPv6
    caller's network of that size (its first address) instead."""
    client = _client(request)
    if client is None:
        return request.META.get("REMOTE_ADDR", "")
    if isinstance(client, ipaddress.IPv6Address) and ipv6_prefix < 128:
        client = ipaddress.ip_network(f"{client}/{ipv6_prefix}", strict=False).network_address
    return str(client)


def limit_address(request: HttpRequest) -> str:
    """The address that rate limits and lockouts count against: the caller's address, but
    for IPv6 its /64 (one subscriber's network: rotating within it changes nothing)."""
    return client_ip(request, ipv6_prefix=64)
