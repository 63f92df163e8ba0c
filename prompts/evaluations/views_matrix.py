"""Portal pages of the comparison: a prompt's version × model matrix (one coloured table per
suite) and two runs compared case by case (`/evaluations/compare/?a=<id>&b=<id>`)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.web import found
from prompts.evaluations.matrix import compare_runs, prompt_matrix, run_url
from prompts.evaluations.matrix_api import OFFLINE_ECHO
from prompts.evaluations.models import Run
from prompts.evaluations.selectors import run_get
from prompts.selectors import prompt_get

MAX_ID_DIGITS = 18


def _run_id(raw: str | None) -> int | None:
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS:
        return int(raw)
    return None


@login_required
def matrix(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    matrices = prompt_matrix(prompt=prompt)
    runs = sorted(
        (cell.run for m in matrices for cell in m.cells.values()),
        key=lambda run: (run.suite.name, -run.version.number, run.model.name),
    )
    for run in runs:
        run.page_url = run_url(run)  # type: ignore[attr-defined]
    return render(
        request,
        "evaluations/matrix.html",
        {
            "prompt": prompt,
            "matrices": matrices,
            "runs": runs,
            "offline_echo": OFFLINE_ECHO,
        },
    )


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    ids = {side: _run_id(request.GET.get(side)) for side in ("a", "b")}
    context: dict = {"offline_echo": OFFLINE_ECHO, "ids": ids}
    if None in ids.values():
        context["problem"] = "Give two runs to compare: ?a=<run id>&b=<run id>."
        return render(request, "evaluations/compare.html", context, status=400)
    a: Run = found(run_get, user=request.user, run_id=ids["a"])
    b: Run = found(run_get, user=request.user, run_id=ids["b"])
    pairs = compare_runs(a=a, b=b)
    context.update(
        a=a,
        b=b,
        a_url=run_url(a),
        b_url=run_url(b),
        pairs=pairs,
        changed=sum(1 for pair in pairs if pair.verdict_changed),
        different_suites=a.suite_id != b.suite_id,
    )
    return render(request, "evaluations/compare.html", context)
