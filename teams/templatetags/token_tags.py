"""How a token reads in the portal: its expiry with its time zone and a day as the form set
it, its scopes and namespace limits."""

import datetime as dt

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def token_expiry(moment: dt.datetime | None) -> str:
    """`end of 2026-12-31 (UTC)` for an expiry at midnight, else `2026-12-31 14:30 (UTC)`.

    A date chosen in the form (or sent to the API) expires at the midnight after it, in the
    portal's time zone, so the page names the day that was chosen.
    """
    if moment is None:
        return "never"
    local = timezone.localtime(moment)
    zone = timezone.get_current_timezone_name()
    if local.time() == dt.time.min:
        return f"end of {(local.date() - dt.timedelta(days=1)).isoformat()} ({zone})"
    return f"{local:%Y-%m-%d %H:%M} ({zone})"


@register.filter
def token_reach(token) -> str:
    """What a token may do, for its row: its scopes, or what a token without scopes keeps."""
    if token.scopes:
        return ", ".join(token.scopes)
    return (
        "read, events:write (no scopes)" if token.kind == "service" else "all you may (no scopes)"
    )


@register.filter
def token_namespace_slugs(token) -> str:
    """The namespaces a personal token is limited to ("" when it is not; "no namespace" once
    they are all gone)."""
    if token.kind != "personal" or not token.namespace_limited:
        return ""
    return ", ".join(namespace.slug for namespace in token.namespaces.all()) or "no namespace"
