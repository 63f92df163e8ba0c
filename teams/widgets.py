"""A text field that suggests names as one types: htmx fills its datalist from a suggestion
view (teams.suggestions); without JavaScript it stays a plain text field."""

from typing import Any

from django import forms
from django.urls import reverse


class SuggestInput(forms.TextInput):
    template_name = "teams/widgets/suggest.html"

    def __init__(self, url_name: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.url_name = url_name

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        list_id = f"{widget['attrs'].get('id', name)}-suggestions"
        widget["list_id"] = list_id
        widget["attrs"].update(
            {
                "list": list_id,
                "autocomplete": "off",
                "hx-get": reverse(self.url_name),
                "hx-trigger": "input changed delay:200ms",
                "hx-target": f"#{list_id}",
                # explicit: the enclosing form's hx-swap (often outerHTML) would be inherited
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )
        return context
