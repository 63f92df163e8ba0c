"""Portal forms for promotions, reviews, rollback and the audit log: they parse, services decide."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils import timezone

from portal.web import SlugChoiceField
from prompts.models import Environment, PromptVersion
from teams.forms import PageForm

JUSTIFICATION_HELP = "Why this change, for the reviewers and the audit log."


def _version_label(version: PromptVersion) -> str:
    label = f"v{version.number} by {version.author.username}"
    return f"{label}: {version.message[:60]}" if version.message else label


class PromotionRequestForm(PageForm):
    """Which version goes where, and why. Staff may also skip the order of environments."""

    id_prefix = "promotion"

    version = forms.TypedChoiceField(coerce=int)
    environment = SlugChoiceField(queryset=Environment.objects.order_by("order"), empty_label=None)
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text=JUSTIFICATION_HELP
    )
    override = forms.BooleanField(
        required=False,
        label="Override the order of environments",
        help_text="Staff only: promote a version that has not run in the earlier environments. "
        "Recorded in the audit log as an override.",
    )

    def __init__(
        self, *args: Any, versions: Sequence[PromptVersion], may_override: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.versions = {version.number: version for version in versions}
        self.fields["version"].choices = [
            (version.number, _version_label(version)) for version in versions
        ]
        self.fields["environment"].label_from_instance = _environment_label
        if not may_override:
            del self.fields["override"]

    def clean_version(self) -> PromptVersion:
        return self.versions[self.cleaned_data["version"]]


def _environment_label(environment: Environment) -> str:
    if not environment.requires_approval:
        return f"{environment.name} (applied at once)"
    approvals = environment.min_approvals
    return f"{environment.name} ({approvals} approval{'s' if approvals != 1 else ''})"


class ApproveForm(PageForm):
    id_prefix = "approve"

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Comment (optional)"
    )


class RejectForm(PageForm):
    id_prefix = "reject"

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for the rejection",
        error_messages={"required": "A reason for the rejection is required."},
    )


class CancelForm(PageForm):
    id_prefix = "cancel"

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Note (optional)"
    )


class RollbackForm(forms.Form):
    """Roll one environment back: to the version it ran before (the default), or to another
    version it ran at some point. The environment travels as a hidden input of the page."""

    version = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Roll back to"
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text=JUSTIFICATION_HELP
    )

    def __init__(
        self,
        *args: Any,
        environment: Environment,
        candidates: Sequence[PromptVersion],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", f"rollback-{environment.slug}-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.environment = environment
        self.candidates = {version.number: version for version in candidates}
        self.fields["version"].choices = [
            (version.number, f"v{version.number}{' (the previous one)' if index == 0 else ''}")
            for index, version in enumerate(candidates)
        ]

    def clean_version(self) -> PromptVersion | None:
        number = self.cleaned_data["version"]
        return None if number is None else self.candidates[number]


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
