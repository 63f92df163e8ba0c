"""Portal forms for prompts and versions. They only parse: the services validate content."""

import contextlib
import datetime as dt
import json
from typing import Any

from django import forms
from django.db.models import QuerySet

from portal.errors import DomainError, ErrorCode, Invalid
from portal.validation import check_json_value
from portal.validators import SLUG_HELP
from portal.web import SlugChoiceField
from prompts.content import CHAT_ROLES, MAX_MESSAGES
from prompts.models import ENVIRONMENT_SETTINGS, Environment, Prompt, PromptVersion
from prompts.templating import placeholders
from teams.forms import PageForm
from teams.tokens import end_of_day, expiry_zone_name


def _comma_separated(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _unix_newlines(value: str) -> str:
    """Browsers send textarea lines ending in CRLF; versions keep the API's LF."""
    return value.replace("\r\n", "\n")


class JSONTextField(forms.CharField):
    """JSON typed into a textarea: shown indented, parsed on submit, empty means None."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
                code="invalid_json",
            ) from exc
        except RecursionError as exc:
            raise forms.ValidationError("This JSON nests too deeply.", code="too_deep") from exc
        try:
            check_json_value(value, field=self.label or "value")
        except Invalid as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc
        return value

    def prepare_value(self, value: Any) -> str:
        if value is None or isinstance(value, str):
            return value or ""
        return json.dumps(value, indent=2, ensure_ascii=False)


class ChatMessageForm(forms.Form):
    """One row of the chat message editor. The service checks sizes and text; this only
    says which row is wrong."""

    role = forms.ChoiceField(
        choices=[(role, role) for role in CHAT_ROLES],
        initial="user",
        error_messages={"invalid_choice": f"Choose a role: {', '.join(CHAT_ROLES)}."},
    )
    content = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4, "class": "code"})
    )

    def clean_content(self) -> str:
        return _unix_newlines(self.cleaned_data["content"])

    def clean(self) -> dict[str, Any]:
        """A message needs content, unless it is being removed."""
        data = super().clean()
        content = data.get("content")  # absent when the field refused it (a NUL character)
        if content is not None and not content.strip() and not data.get("DELETE"):
            self.add_error(
                "content",
                forms.ValidationError(
                    "Write this message's content, or remove the message.", code="required"
                ),
            )
        return data


class BaseChatMessageFormSet(forms.BaseFormSet):
    """The editor's rows, `messages-N-role` and `messages-N-content`. Without JavaScript a row
    is removed by its DELETE box and moved by its ORDER number, and the spare empty rows at
    the end (not in INITIAL_FORMS) are skipped unless filled in; chat-editor.js does the same
    with buttons and posts every row it shows as a message."""

    default_error_messages = {
        "too_many_forms": f"At most {MAX_MESSAGES} messages are allowed.",
    }

    def numbered(self) -> list[tuple[int, ChatMessageForm, bool]]:
        """Each row with its number (from 1) and whether it is a spare empty one."""
        initial = self.initial_form_count()
        return [(index + 1, row, index >= initial) for index, row in enumerate(self.forms)]

    def messages(self) -> list[dict[str, str]]:
        """The kept rows in their order, once the rows are valid."""
        return [
            {"role": row.cleaned_data["role"], "content": row.cleaned_data["content"]}
            for row in self.ordered_forms
        ]


ChatMessageFormSet = forms.formset_factory(
    ChatMessageForm,
    formset=BaseChatMessageFormSet,
    extra=2,
    can_order=True,
    can_delete=True,
    max_num=MAX_MESSAGES,
    validate_max=True,
    absolute_max=MAX_MESSAGES,
)


class PromptCreateForm(forms.Form):
    namespace = SlugChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(
        max_length=63, help_text="Lowercase letters, digits and hyphens, starting with a letter."
    )
    kind = forms.ChoiceField(choices=Prompt.Kind.choices, initial=Prompt.Kind.TEXT)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tags = forms.CharField(required=False, help_text="Comma separated, e.g. billing, email.")

    def __init__(self, *args: Any, namespaces: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["namespace"].queryset = namespaces

    def clean_tags(self) -> list[str]:
        return _comma_separated(self.cleaned_data["tags"])


class VersionForm(forms.Form):
    """A text prompt's template or a chat prompt's messages, with the settings of a version."""

    template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "code"}), required=False, strip=False
    )
    # Rendered and parsed as `message_rows` (prompts/_chat_editor.html); the field carries
    # the messages' errors and cleaned value. A raw `messages` value posted here is ignored.
    messages = forms.Field(required=False, widget=forms.HiddenInput)
    template_format = forms.ChoiceField(
        choices=PromptVersion.TemplateFormat.choices,
        initial=PromptVersion.TemplateFormat.MUSTACHE,
    )
    variables = forms.CharField(
        required=False,
        help_text="Comma separated names the template uses, e.g. name, order_id. "
        "Left empty, the placeholders found in the template are declared.",
    )
    model_config = JSONTextField(
        required=False,
        label="Model configuration",
        help_text='Optional JSON object, e.g. {"model": "gpt-4o", "temperature": 0.2}. '
        "Starts as the parent version's; emptied, the new version has none.",
        widget=forms.Textarea(attrs={"rows": 5, "class": "code"}),
    )
    message = forms.CharField(
        label="Commit message",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this change. Required here (the API accepts a version without one).",
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        del self.fields["messages" if kind == Prompt.Kind.TEXT else "template"]
        self.message_rows = None
        if kind != Prompt.Kind.TEXT:
            self.message_rows = ChatMessageFormSet(
                self.data if self.is_bound else None,
                prefix=self.add_prefix("messages"),
                initial=None if self.is_bound else self.initial.get("messages"),
            )

    @classmethod
    def initial_from(cls, version: PromptVersion | None) -> dict[str, Any]:
        """Start from the latest version's content, so an edit is a change, not a retype."""
        if version is None:
            return {}
        return {
            "template": version.template,
            "messages": version.messages,
            "template_format": version.template_format,
            "variables": ", ".join(version.variables),
            "model_config": version.model_config or None,
        }

    def clean_template(self) -> str:
        return _unix_newlines(self.cleaned_data["template"])

    def clean_messages(self) -> list[dict[str, str]]:
        """The editor's rows; their own errors are shown on them, summed up here."""
        rows = self.message_rows
        if not rows.is_valid():
            problems = list(rows.non_form_errors())
            if any(rows.errors):
                problems.append("A message below needs fixing.")
            raise forms.ValidationError(
                problems or ["A message below needs fixing."], code="invalid"
            )
        return rows.messages()

    def clean_variables(self) -> list[str]:
        return _comma_separated(self.cleaned_data["variables"])

    def clean_model_config(self) -> Any:
        """The textarea starts with the parent's configuration, so a submitted empty one was
        emptied on purpose: `{}` clears. Only a submission without the field keeps the
        parent's (None, as over the API)."""
        value = self.cleaned_data["model_config"]
        if value is None and self.add_prefix("model_config") in self.data:
            return {}
        return value

    def clean_message(self) -> str:
        return _unix_newlines(self.cleaned_data["message"])

    def clean(self) -> dict[str, Any]:
        """Empty variables: declare the placeholders the template uses (the service still
        checks them). A template that cannot be read is left to the service to report."""
        data = super().clean()
        if data.get("variables") == [] and not self.has_error("template_format"):
            sources = self._sources(data)
            if sources:
                with contextlib.suppress(DomainError):
                    data["variables"] = sorted(placeholders(data["template_format"], sources))
        return data

    def offer_detected_variables(self) -> None:
        """After the service refused the declared variables, put the placeholders the template
        uses in the field (still editable; saving again checks them), and say so."""
        if not self.has_error("variables", code=ErrorCode.VARIABLES_MISMATCH):
            return
        data = self.cleaned_data
        with contextlib.suppress(DomainError, KeyError):
            detected = sorted(placeholders(data["template_format"], self._sources(data)))
            self.data = self.data.copy()
            self.data[self.add_prefix("variables")] = ", ".join(detected)
            listed = ", ".join(detected) or "none"
            self.add_error(
                "variables",
                forms.ValidationError(
                    f"The field now lists the variables the template uses ({listed}): "
                    "check them and save again.",
                    code="offered",
                ),
            )

    @staticmethod
    def _sources(data: dict[str, Any]) -> list[str]:
        if isinstance(data.get("template"), str):
            return [data["template"]]
        messages = data.get("messages")
        if not isinstance(messages, list):
            return []
        return [
            m["content"]
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        ]


class EnvironmentForm(PageForm):
    """What staff configure about an environment: the model's `ENVIRONMENT_SETTINGS` fields
    (no list of its own); the service checks the rules (an approval environment needs at
    least one approval, orders are unique)."""

    def __init__(self, *args: Any, environment: Environment | None = None, **kwargs: Any):
        self.id_prefix = f"environment-{environment.slug}" if environment else "new-environment"
        if environment is not None and not args and "data" not in kwargs:
            kwargs["initial"] = {name: getattr(environment, name) for name in ENVIRONMENT_SETTINGS}
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(Environment, fields=ENVIRONMENT_SETTINGS))
        self.environment = environment


class EnvironmentCreateForm(EnvironmentForm):
    slug = forms.CharField(max_length=63, help_text=SLUG_HELP)


# --- Lifecycle ------------------------------------------------------------------------------


class DeprecateForm(PageForm):
    """Deprecate a prompt: the sunset is a day, read as the last second of that day in the
    portal's zone (TIME_ZONE), as token expiry dates are."""

    id_prefix = "deprecate"

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Told to consumers in the resolve answer and to the team.",
    )
    sunset_at = forms.DateField(label="Sunset date", widget=forms.DateInput(attrs={"type": "date"}))
    successor = forms.CharField(
        required=False,
        max_length=127,
        label="Successor (optional)",
        help_text="The prompt to use instead, as namespace/name.",
        widget=forms.TextInput(attrs={"placeholder": "namespace/name", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sunset_at"].help_text = (
            f"Consumers are warned until the end of this day ({expiry_zone_name()} time); "
            "then the prompt may be retired."
        )

    def clean_sunset_at(self) -> dt.datetime:
        try:
            return end_of_day(self.cleaned_data["sunset_at"]) - dt.timedelta(seconds=1)
        except ValueError as exc:
            raise forms.ValidationError("Choose an earlier day.", code="too_late") from exc


class RetireForm(PageForm):
    id_prefix = "retire"

    justification = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required before the sunset (staff only).",
    )


class ReactivateForm(PageForm):
    id_prefix = "reactivate"

    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
