"""Figures on the experiment page: numbers that may be missing (no calls yet)."""

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def figure(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else floatformat(value, digits)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{floatformat(value * 100, 1)} %"
