"""Forms of the experiment pages: propose an experiment (arms whose weights must sum to 100,
checked here, before any service is called) and stop one, optionally naming a winner."""

from collections.abc import Sequence
from typing import Any

from django import forms

from approvals.forms import JUSTIFICATION_HELP
from portal.web import SlugChoiceField
from prompts.models import ARM_LABELS, Environment, Experiment, ExperimentArm, PromptVersion
from teams.forms import PageForm

MAX_ARMS = len(ARM_LABELS)
GUARDRAIL_FIELDS = {
    # form field: (metric, direction, label, help)
    "guard_error_rate": (
        "error_rate",
        "max_increase",
        "Stop if the error rate rises by more than",
        "An absolute share, e.g. 0.02 for two percentage points.",
    ),
    "guard_quality": (
        "quality_score",
        "max_decrease",
        "Stop if the mean quality score drops by more than",
        "On the 0–1 scale, e.g. 0.05.",
    ),
    "guard_latency_p95": (
        "latency_p95",
        "max_increase",
        "Stop if p95 latency rises by more than (ms)",
        "Milliseconds, e.g. 200.",
    ),
}


class ExperimentForm(PageForm):
    id_prefix = "experiment"

    environment = SlugChoiceField(queryset=Environment.objects.order_by("order"), empty_label=None)
    hypothesis = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="What you expect to see, and why.",
    )
    primary_metric = forms.ChoiceField(choices=Experiment.Metric.choices)
    minimum_detectable_effect = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1e9,
        label="Minimum detectable effect (optional)",
        help_text="The smallest difference worth detecting, in the metric's units; "
        "empty: 10 % of the control's value.",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, help_text=JUSTIFICATION_HELP
    )

    def __init__(self, *args: Any, versions: Sequence[PromptVersion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(v.number, f"v{v.number}") for v in versions]
        for index, label in enumerate(ARM_LABELS):
            self.fields[f"arm_{label}_version"] = forms.TypedChoiceField(
                choices=choices,
                coerce=int,
                empty_value=None,
                required=index < 2,
                label=f"Arm {label} version" + (" (the control)" if index == 0 else ""),
            )
            self.fields[f"arm_{label}_weight"] = forms.IntegerField(
                min_value=1,
                max_value=99,
                required=False,
                label=f"Arm {label} weight (%)",
            )
        for name, (_, _, label, help_text) in GUARDRAIL_FIELDS.items():
            self.fields[name] = forms.FloatField(
                required=False, min_value=0, label=label, help_text=help_text
            )

    def arm_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (label, self[f"arm_{label}_version"], self[f"arm_{label}_weight"])
            for label in ARM_LABELS
        ]

    def guardrail_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in GUARDRAIL_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        arms = []
        for label in ARM_LABELS:
            version = data.get(f"arm_{label}_version")
            weight = data.get(f"arm_{label}_weight")
            if version is None and weight is None:
                continue
            if version is None or weight is None:
                raise forms.ValidationError(
                    f"Arm {label}: give both a version and a weight.", code="arm_incomplete"
                )
            arms.append({"version": version, "weight": weight})
        if len(arms) < 2:
            raise forms.ValidationError("An experiment has at least two arms.", code="arms")
        if len({arm["version"] for arm in arms}) != len(arms):
            raise forms.ValidationError("Each arm runs a different version.", code="arms")
        total = sum(arm["weight"] for arm in arms)
        if total != 100:
            raise forms.ValidationError(
                f"The weights sum to {total} %; they must sum to 100 %.", code="weights"
            )
        data["arms"] = arms
        data["guardrails"] = [
            {"metric": metric, direction: data[name]}
            for name, (metric, direction, _, _) in GUARDRAIL_FIELDS.items()
            if data.get(name)
        ]
        return data


class ExperimentStopForm(PageForm):
    id_prefix = "stop"

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Why it ends now, for the team and the audit log.",
    )
    winner = forms.ChoiceField(
        required=False,
        label="Winner (optional)",
        help_text="A winner other than the control is requested for the environment through "
        "the normal promotion path.",
    )

    def __init__(
        self, *args: Any, arms: Sequence[ExperimentArm], may_pick_winner: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not may_pick_winner:  # its promotion takes the right to request one
            del self.fields["winner"]
            return
        self.fields["winner"].choices = [("", "No winner: keep the control")] + [
            (
                arm.label,
                f"Arm {arm.label}: v{arm.version.number}"
                + (" (control)" if arm.is_control else ""),
            )
            for arm in arms
        ]
