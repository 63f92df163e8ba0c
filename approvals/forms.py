"""Portal forms for promotions, reviews, rollback and promotion rights: they parse, services
decide."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from portal.web import SlugChoiceField
from prompts.models import Environment, PromptVersion
from teams import selectors as team_selectors
from teams.forms import PageForm, user_named
from teams.models import Team
from teams.widgets import SuggestInput

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


class PromotionRightForm(PageForm):
    """Who: exactly one of a username or a team slug; where: an environment it may be granted in."""

    id_prefix = "right"

    environment = SlugChoiceField(queryset=None, empty_label=None)
    username = forms.CharField(
        max_length=150,
        required=False,
        label="Username",
        widget=SuggestInput("teams:suggest_users"),
    )
    team = forms.CharField(
        max_length=63,
        required=False,
        label="or team (slug)",
        widget=SuggestInput("teams:suggest_teams"),
    )

    def __init__(self, *args, environments: QuerySet, active_only: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = environments
        self.fields["environment"].label_from_instance = lambda environment: environment.name
        self.active_only = active_only

    def clean_username(self) -> AbstractBaseUser | None:
        username = self.cleaned_data["username"].strip()
        return user_named(username, active_only=self.active_only) if username else None

    def clean_team(self) -> Team | None:
        slug = self.cleaned_data["team"].strip()
        if not slug:
            return None
        team = team_selectors.team_by_slug(slug=slug)
        if team is None:
            raise forms.ValidationError(f"No team “{slug}”.", code="unknown_team")
        return team

    def clean(self) -> dict:
        data = super().clean()
        named = [field for field in ("username", "team") if self.data.get(field, "").strip()]
        if len(named) != 1:
            raise forms.ValidationError("Name exactly one: a username or a team.", code="holder")
        return data
