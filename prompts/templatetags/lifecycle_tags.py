"""How a deprecated prompt's sunset reads in the portal: a countdown and the day."""

import datetime as dt

from django import template
from django.utils import timezone

register = template.Library()


def _amount(delta: dt.timedelta) -> str:
    if delta >= dt.timedelta(days=1):
        count, unit = delta.days, "day"
    elif delta >= dt.timedelta(hours=1):
        count, unit = delta.seconds // 3600, "hour"
    else:
        count, unit = max(1, delta.seconds // 60), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


@register.filter
def sunset_countdown(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """`sunset in 12 days, 2027-01-15` or `sunset passed 3 days ago, 2026-11-28` (whole days,
    hours or minutes; the day in the portal's time zone)."""
    if moment is None:
        return "no sunset set"
    now = now or timezone.now()
    day = timezone.localtime(moment).date().isoformat()
    if moment > now:
        return f"sunset in {_amount(moment - now)}, {day}"
    return f"sunset passed {_amount(now - moment)} ago, {day}"
