from django import forms

from teams.notifications.events import EVENTS


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Receiver URL",
        max_length=500,
        assume_scheme="https",
        help_text="http(s) on a public address; every call is signed (see the README).",
    )
    events = forms.MultipleChoiceField(
        choices=EVENTS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=200,
        help_text="Leave empty to have one generated. It is shown once.",
    )


class PreferencesForm(forms.Form):
    """One checkbox per event type: e-mail me about it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in EVENTS:
            self.fields[name] = forms.BooleanField(label=label, required=False)
