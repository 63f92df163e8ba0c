"""Portal forms for teams, namespaces, promotion rights and tokens: they parse, services decide."""

import datetime as dt

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from portal.web import SlugChoiceField
from teams import selectors
from teams.models import Membership, Namespace, Team
from teams.tokens import NAME_MAX_LENGTH


class ActionForm(forms.Form):
    """A button without input (remove, revoke): the service's refusal lands on this form."""


class PageForm(forms.Form):
    """One of several forms on a page: its element ids carry `id_prefix` so labels stay unique."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _user_named(username: str, *, active_only: bool = True) -> AbstractBaseUser:
    user = selectors.user_by_username(username=username, active_only=active_only)
    if user is None:
        raise forms.ValidationError(f"No active user named “{username}”.", code="unknown_user")
    return user


class TeamForm(PageForm):
    id_prefix = "team"

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberAddForm(PageForm):
    id_prefix = "member"

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)

    def clean_username(self) -> AbstractBaseUser:
        return _user_named(self.cleaned_data["username"])


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class NamespaceCreateForm(PageForm):
    id_prefix = "new_namespace"

    slug = forms.CharField(
        max_length=63, help_text="Lowercase letters, digits and hyphens, starting with a letter."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    visibility = forms.ChoiceField(
        choices=Namespace.Visibility.choices, initial=Namespace.Visibility.INTERNAL
    )


class NamespaceForm(PageForm):
    id_prefix = "namespace"

    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    visibility = forms.ChoiceField(choices=Namespace.Visibility.choices)


class PromotionRightForm(PageForm):
    """Who: exactly one of a username or a team slug; where: an environment it may be granted in."""

    id_prefix = "right"

    environment = SlugChoiceField(queryset=None, empty_label=None)
    username = forms.CharField(max_length=150, required=False, label="Username")
    team = forms.CharField(max_length=63, required=False, label="or team (slug)")

    def __init__(self, *args, environments: QuerySet, active_only: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = environments
        self.fields["environment"].label_from_instance = lambda environment: environment.name
        self.active_only = active_only

    def clean_username(self) -> AbstractBaseUser | None:
        username = self.cleaned_data["username"].strip()
        return _user_named(username, active_only=self.active_only) if username else None

    def clean_team(self) -> Team | None:
        slug = self.cleaned_data["team"].strip()
        if not slug:
            return None
        team = selectors.team_by_slug(slug=slug)
        if team is None:
            raise forms.ValidationError(f"No team “{slug}”.", code="unknown_team")
        return team

    def clean(self) -> dict:
        data = super().clean()
        named = [field for field in ("username", "team") if self.data.get(field, "").strip()]
        if len(named) != 1:
            raise forms.ValidationError("Name exactly one: a username or a team.", code="holder")
        return data


class TokenForm(PageForm):
    id_prefix = "token"

    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    expires_at = forms.DateField(
        required=False,
        label="Valid until (optional)",
        help_text="The token stops working at the end of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_at(self) -> dt.datetime | None:
        day = self.cleaned_data["expires_at"]
        if day is None:
            return None
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
