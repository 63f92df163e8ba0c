"""API of the comparison: GET /prompts/{ns}/{name}/evaluations/matrix/.

One matrix per suite (pass rates of different suites are never added up): per version × model
the latest finished run's pass rate, cost and mean latency, with the run's id and URL.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrServiceReading
from portal.errors import Invalid
from prompts.evaluations.matrix import Cell, SuiteMatrix, prompt_matrix, run_url
from prompts.selectors import prompt_get

OFFLINE_ECHO = "offline echo, not a language model"


def cell_json(cell: Cell, request: Request) -> dict[str, Any]:
    run = cell.run
    return {
        "version": run.version.number,
        "model": run.model.name,
        "run": run.pk,
        "url": request.build_absolute_uri(f"/api/v1/evaluations/{run.pk}/"),
        "page": request.build_absolute_uri(run_url(run)),
        "state": run.state,
        "trigger": run.trigger,
        "pass_rate": run.pass_rate,
        "pass_threshold": run.pass_threshold,
        "band": cell.band,
        "passed_cases": run.passed_cases,
        "total": run.total,
        "total_cost_usd": run.total_cost_usd,
        "mean_latency_ms": run.mean_latency_ms,
        "finished_at": run.finished_at,
    }


def matrix_json(matrix: SuiteMatrix, request: Request) -> dict[str, Any]:
    return {
        "suite": {"id": matrix.suite.pk, "name": matrix.suite.name},
        "versions": matrix.versions,
        "models": [
            {
                "name": model.name,
                "provider": model.provider,
                **({"label": OFFLINE_ECHO} if model.is_offline_echo else {}),
            }
            for model in matrix.models
        ],
        "cells": [cell_json(cell, request) for cell in matrix.cells.values()],
    }


class PromptMatrix(APIView):
    """Readers of the prompt (people who may read it, service tokens of its namespace)."""

    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(
        parameters=[OpenApiParameter("suite", int, description="Only this suite's matrix.")],
        responses={200: dict},
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        suite_id = None
        if raw := request.query_params.get("suite"):
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
                raise Invalid.field("suite", "Give a suite's id.")
            suite_id = int(raw)
        matrices = prompt_matrix(prompt=prompt, suite_id=suite_id)
        if suite_id is not None and not matrices:
            raise Invalid.field("suite", f"No suite {suite_id} of {prompt.full_name}.")
        return Response(
            {
                "prompt": prompt.full_name,
                "aggregation": "per suite",
                "suites": [matrix_json(matrix, request) for matrix in matrices],
            }
        )
