"""How a token's expiry reads in the portal: with its time zone, and a day as the form set it."""

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
