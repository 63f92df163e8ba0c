"""Portal forms for teams, namespaces and tokens: they parse, services decide."""

import datetime as dt

from django import forms
from django.contrib.auth.models import AbstractBaseUser

from teams import scopes, selectors
from teams.models import Membership, Namespace
from teams.tokens import NAME_MAX_LENGTH, end_of_day, expiry_zone_name
from teams.widgets import SuggestInput


class ActionForm(forms.Form):
    """A button without input (remove, revoke): the service's refusal lands on this form."""


class PageForm(forms.Form):
    """One of several forms on a page: its element ids carry `id_prefix` so labels stay unique."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def user_named(username: str, *, active_only: bool = True) -> AbstractBaseUser:
    user = selectors.user_by_username(username=username, active_only=active_only)
    if user is None:
        raise forms.ValidationError(f"No active user named “{username}”.", code="unknown_user")
    return user


class TeamForm(PageForm):
    id_prefix = "team"

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    contact_email = forms.EmailField(
        required=False, label="Contact e-mail", help_text="Who to write to about these prompts."
    )
    contact_channel = forms.CharField(
        max_length=100, required=False, label="Chat channel", help_text="E.g. #support-prompts."
    )

    @classmethod
    def initial_from(cls, team) -> dict:
        return {
            field: getattr(team, field)
            for field in ("name", "description", "contact_email", "contact_channel")
        }


class MemberAddForm(PageForm):
    id_prefix = "member"

    username = forms.CharField(max_length=150, widget=SuggestInput("teams:suggest_users"))
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)

    def clean_username(self) -> AbstractBaseUser:
        return user_named(self.cleaned_data["username"])


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
    stale_after_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,  # left empty: unchanged
        label="Stale after (days)",
        help_text="A prompt with no new version and no deployment change for this long is "
        "reported to the team as stale.",
    )
    auto_retire = forms.BooleanField(
        required=False,
        label="Retire deprecated prompts at their sunset",
        help_text="Unticked, the team is told when a sunset passes and retires by hand.",
    )

    @classmethod
    def initial_from(cls, namespace: Namespace) -> dict:
        fields = ("description", "visibility", "stale_after_days", "auto_retire")
        return {field: getattr(namespace, field) for field in fields}


class TokenForm(PageForm):
    id_prefix = "token"

    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    expires_at = forms.DateField(
        required=False,
        label="Valid until (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].help_text = (
            f"The token stops working at the end of this day ({expiry_zone_name()} time), "
            "the same as a date sent to the API."
        )

    def clean_expires_at(self) -> dt.datetime | None:
        day = self.cleaned_data["expires_at"]
        if day is None:
            return None
        try:
            return end_of_day(day)
        except ValueError as exc:
            raise forms.ValidationError("Choose an earlier day.", code="too_late") from exc


def scopes_field(names, help_text: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=[(name, f"{name}: {scopes.SCOPES[name]}") for name in names],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text,
    )


class PersonalTokenForm(TokenForm):
    scopes = scopes_field(
        scopes.SCOPES,
        "None ticked: the token may do all you may. Writing versions never goes with "
        "approving or rolling back in the same namespaces.",
    )
    namespaces = forms.ModelMultipleChoiceField(
        queryset=Namespace.objects.none(),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="With scopes: the token works only in these namespaces. None ticked: in all "
        "of yours.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["namespaces"].queryset = selectors.namespaces_visible_to(user=user).order_by(
            "slug"
        )
        self.fields["namespaces"].label_from_instance = lambda namespace: namespace.slug


class ServiceTokenForm(TokenForm):
    scopes = scopes_field(
        sorted(scopes.SERVICE_SCOPES), "None ticked: both (read and report events)."
    )


ACCESS_CHANGES = {
    "deactivate": {"is_active": False},
    "reactivate": {"is_active": True},
    "make_staff": {"is_staff": True},
    "remove_staff": {"is_staff": False},
    "make_auditor": {"is_auditor": True},
    "remove_auditor": {"is_auditor": False},
}


class AccessForm(forms.Form):
    """One button of the People page: which change to a person's access."""

    change = forms.ChoiceField(choices=[(name, name) for name in ACCESS_CHANGES])

    def changes(self) -> dict[str, bool]:
        return ACCESS_CHANGES[self.cleaned_data["change"]]
