"""The audit page's filters: they parse, the selector reads."""

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


class AuditFilterForm(forms.Form):
    """The filters of the audit page, as days; `query()` turns them into the selector's times."""

    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="Until (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    namespace = forms.CharField(required=False, max_length=63)
    actor = forms.CharField(required=False, max_length=200, help_text="A username.")
    action = forms.CharField(
        required=False, max_length=64, help_text="An action or its prefix, e.g. promotion."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_until(self) -> dt.date | None:
        day = self.cleaned_data["until"]
        if day is not None and day >= dt.date.max:
            raise forms.ValidationError("Pick an earlier day.", code="too_late")
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“From” must not be after “Until”.", code="order")
        return data

    def query(self) -> dict[str, Any]:
        """The selector's (and the export API's) filters: `until` is exclusive there."""
        data = self.cleaned_data
        query: dict[str, Any] = {
            name: data[name] for name in ("namespace", "actor", "action") if data[name]
        }
        if data["since"]:
            query["since"] = _start_of(data["since"])
        if data["until"]:
            query["until"] = _start_of(data["until"] + dt.timedelta(days=1))
        return query
