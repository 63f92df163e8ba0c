"""Webhook URLs may only reach the public internet (unless `WEBHOOK_ALLOW_PRIVATE` is on).

A URL must be http(s) and every address its host resolves to must be public: not loopback,
link-local, private, shared (100.64/10), multicast, reserved or unspecified, in IPv4 and IPv6
(an IPv4-mapped, 6to4 or NAT64 IPv6 address is judged by the IPv4 address inside it). It is
checked when a webhook is registered and again at each delivery, after resolution; the
delivery connects to the very address it checked (`pinned_address`), so a DNS answer that
changes between the check and the connection cannot redirect it.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be called: the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (a name, or an address without brackets)
    port: int
    path: str  # path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not allowed; use the signing secret.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return is_public(address.ipv4_mapped)  # the connection is IPv4 to that address
    inner = _embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        # fec0::/10, deprecated site-local: Python 3.11 still calls it global
        or getattr(address, "is_site_local", False)
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeURL(f"The host {host} does not resolve.")
    return addresses


def pinned_address(url: str) -> tuple[Target, str]:
    """The URL's parts and the one address to connect to, every resolved address checked.
    Raises UnsafeURL."""
    target = parse(url)
    addresses = resolve(target.host, target.port)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        refused = [str(a) for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeURL(
                f"{target.host} resolves to {', '.join(refused)}, which is not a public address "
                "(WEBHOOK_ALLOW_PRIVATE is off)."
            )
    return target, str(addresses[0])


def check_url(url: str) -> str:
    """At registration: the URL, if it may be called now. Raises UnsafeURL."""
    pinned_address(url)
    return url
