"""API of an experiment's results: GET /experiments/{id}/results/.

Per arm the figures of the metrics endpoint; on the primary metric, every challenger against
the control: the difference, the classic test (named) with its 95 % interval and p-value, the
sequential test (named) with its always-valid interval and p-value, the fixed-horizon sample
size for the minimum detectable effect, the verdict and its explanation; and the
sample-ratio-mismatch check.
"""

import dataclasses
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrServiceReading
from prompts.metrics import statistics as st
from prompts.metrics.aggregates import finite
from prompts.metrics.api import answer_json
from prompts.metrics.results import ExperimentResults, experiment_results
from prompts.metrics.selectors import Group
from prompts.selectors import experiment_get

SRM_TEST = (
    f"chi-square goodness of fit of the calls per arm to the weights (SRM: p < {st.SRM_ALPHA})"
)


def _inference(inference: st.Inference | None, *, name: str, ci: str) -> dict[str, Any] | None:
    if inference is None:
        return None
    return {
        name: inference.method,
        ci: [finite(inference.ci_low), finite(inference.ci_high)],
        "p_value": finite(inference.p_value),
    }


def _comparison(comparison: st.Comparison, control: str) -> dict[str, Any]:
    return {
        "arm": comparison.label,
        "against": control,
        "control_value": finite(comparison.control_value),
        "value": finite(comparison.value),
        "difference": finite(comparison.value - comparison.control_value),
        "observations": {control: comparison.n_control, comparison.label: comparison.n},
        "classic": _inference(comparison.classic, name="test", ci="ci95"),
        "sequential": _inference(comparison.sequential, name="method", ci="ci"),
        "minimum_detectable_effect": comparison.mde,
        "needed_per_arm": comparison.needed_per_arm,
        "remaining_per_arm": comparison.remaining_per_arm,
        "verdict": comparison.verdict,
        "explanation": comparison.explanation,
    }


def results_json(results: ExperimentResults) -> dict[str, Any]:
    experiment, answer, analysis = results.experiment, results.answer, results.analysis
    measured = answer_json(
        dataclasses.replace(
            answer,
            groups=[Group({"arm": arm.label}, results.figures[arm.label]) for arm in results.arms],
        )
    )
    srm = analysis.srm
    return {
        "experiment": {
            "id": experiment.pk,
            "prompt": experiment.prompt.full_name,
            "environment": experiment.environment.slug,
            "state": experiment.state,
            "primary_metric": experiment.primary_metric,
            "minimum_detectable_effect": experiment.minimum_detectable_effect,
            "started_at": experiment.started_at,
            "stopped_at": experiment.stopped_at,
            "arms": [
                {
                    "arm": arm.label,
                    "version": arm.version.number,
                    "weight": arm.weight,
                    "control": arm.is_control,
                }
                for arm in results.arms
            ],
        },
        "from": measured["from"],
        "to": measured["to"],
        "percentiles": measured["percentiles"],
        "relative_error": measured["relative_error"],
        "arms": [
            {**group, "version": arm.version.number, "weight": arm.weight}
            for arm, group in zip(results.arms, measured["groups"], strict=True)
        ],
        "primary_metric": {
            "metric": analysis.metric,
            "higher_is_better": st.HIGHER_IS_BETTER[analysis.metric],
            "srm": {"test": SRM_TEST, "chi2": srm.chi2, "p_value": srm.p_value, "ok": srm.ok},
            "comparisons": [_comparison(c, analysis.control) for c in analysis.comparisons],
            "verdict": analysis.verdict,
            "explanation": analysis.explanation,
        },
    }


class ExperimentResultsView(APIView):
    """Readers of the experiment's prompt (people who may read it, service tokens of its
    namespace); anyone else gets 404."""

    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        experiment = experiment_get(user=request.user, experiment_id=pk)
        return Response(results_json(experiment_results(experiment=experiment)))
