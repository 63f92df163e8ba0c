"""Portal pages of evaluation runs: a prompt's runs with a "Run this suite" form, one run's
page (a progress bar the page polls with HTMX until the run finishes, then per-case results:
the rendered prompt, the output, and why each assertion failed), and cancelling a run."""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.errors import Conflict, PermissionDenied
from portal.web import error_status, found, submit
from prompts.evaluations import runs
from prompts.evaluations.models import Model, Run, Suite
from prompts.evaluations.selectors import (
    models_all,
    prompt_runs,
    prompt_suites,
    run_get,
    run_results,
)
from prompts.models import Prompt
from prompts.selectors import prompt_get
from teams.permissions import can_edit_prompts

PAGE_SIZE = 50


class RunForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Version")
    suite = forms.ModelChoiceField(queryset=Suite.objects.none(), label="Suite")
    model = forms.ModelChoiceField(
        queryset=Model.objects.none(), to_field_name="name", label="Model"
    )

    def __init__(self, *args, prompt: Prompt, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prompt = prompt
        numbers = list(prompt.versions.order_by("-number").values_list("number", flat=True))
        self.fields["version"].choices = [(n, f"v{n}") for n in numbers]
        self.fields["suite"].queryset = prompt_suites(prompt=prompt)
        self.fields["model"].queryset = models_all()
        self.fields["model"].label_from_instance = lambda m: (
            f"{m.name} ({runs.OFFLINE_ECHO})" if m.is_offline_echo else m.name
        )
        self.initial.setdefault("model", "local")


@login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    may_run = can_edit_prompts(request.user, prompt.namespace)
    form = RunForm(request.POST or None, prompt=prompt)
    status = 200
    if request.method == "POST":
        if not may_run:
            status = 403
            form.add_error(None, "Only people who may edit this namespace's prompts run suites.")
        else:
            run = submit(
                form,
                lambda data: runs.run_create(
                    actor=request.user,
                    prompt=prompt,
                    version=prompt.versions.get(number=data["version"]),
                    suite=data["suite"],
                    model=data["model"],
                ),
            )
            if run is not None:
                return redirect("evaluations:run", pk=run.pk)
            status = error_status(form)
    context = {
        "prompt": prompt,
        "runs": prompt_runs(prompt=prompt)[:PAGE_SIZE],
        "form": form,
        "may_run": may_run,
        "has_suites": form.fields["suite"].queryset.exists(),
        "offline_echo": runs.OFFLINE_ECHO,
    }
    return render(request, "evaluations/run_list.html", context, status=status)


def _results(run: Run) -> list:
    results = list(run_results(run=run))
    for result in results:
        result.variables_json = json.dumps(result.variables, ensure_ascii=False, indent=2)
    return results


def _run_context(request: HttpRequest, run: Run) -> dict:
    finished = run.is_finished
    return {
        "run": run,
        "prompt": run.prompt,
        "results": _results(run) if finished or run.done else [],
        "percent": round(100 * run.done / run.total) if run.total else 0,
        "finished": finished,
        "may_cancel": not finished and can_edit_prompts(request.user, run.prompt.namespace),
        "offline_echo": runs.OFFLINE_ECHO,
    }


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = found(run_get, user=request.user, run_id=pk)
    return render(request, "evaluations/run_detail.html", _run_context(request, run))


@login_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTMX partial the run page polls each second; once finished it stops polling."""
    run = found(run_get, user=request.user, run_id=pk)
    return render(request, "evaluations/run_progress.html", _run_context(request, run))


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = found(run_get, user=request.user, run_id=pk)
    try:
        runs.run_cancel(actor=request.user, run=run)
    except PermissionDenied as exc:
        context = _run_context(request, run) | {"problem": exc.detail}
        return render(request, "evaluations/run_detail.html", context, status=403)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Run {run.pk} cancelled.")
    return redirect("evaluations:run", pk=run.pk)
