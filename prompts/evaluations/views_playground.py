"""The playground page of a prompt: pick a version (or paste a draft), a model and variables,
run it once, see the output, tokens, latency and cost, and save it as a new case of a suite.
Readers see the calls; maintainers and owners run (PLAYGROUND_RATE per person: beyond it the
form says when to come back) and save."""

import json
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.errors import DomainError
from portal.web import apply_domain_error, error_status, found, submit
from prompts.evaluations import playground
from prompts.evaluations.models import PlaygroundCall, Suite
from prompts.evaluations.playground_api import PlaygroundThrottle, run_call
from prompts.evaluations.selectors import models_all
from prompts.models import Prompt
from prompts.selectors import prompt_get

PAGE_SIZE = 50
OFFLINE_ECHO = "offline echo, not a language model"
DRAFT = ""


class PlaygroundForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Version")
    template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        strip=False,
        label="Draft template (used when the version is “Draft”)",
    )
    template_format = forms.ChoiceField(
        choices=[(f, f) for f in playground.TEMPLATE_FORMATS], initial="mustache"
    )
    model = forms.ModelChoiceField(queryset=None, to_field_name="name", label="Model")
    variables = forms.JSONField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Variables (JSON)"
    )
    model_config = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Model config over the version's (JSON, optional)",
    )

    def __init__(self, *args: Any, prompt: Prompt, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        numbers = list(prompt.versions.order_by("-number").values_list("number", flat=True))
        self.fields["version"].choices = [(n, f"v{n}") for n in numbers] + [(DRAFT, "Draft")]
        self.fields["model"].queryset = models_all()
        self.fields["model"].label_from_instance = lambda m: (
            f"{m.name} ({OFFLINE_ECHO})" if m.is_offline_echo else m.name
        )
        self.initial.setdefault("model", "local")
        latest = prompt.versions.order_by("-number").first()
        if latest is not None:
            self.initial.setdefault("version", latest.number)
            self.initial.setdefault("template", latest.template or "")
            self.initial.setdefault("template_format", latest.template_format)
            names = latest.variables or []
            self.initial.setdefault("variables", dict.fromkeys(names, ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("version") is None and not data.get("template"):
            self.add_error("template", "Paste a draft template, or pick a version.")
        return data


class SaveCaseForm(forms.Form):
    suite = forms.ModelChoiceField(queryset=None, label="Suite")
    assertion = forms.ChoiceField(
        choices=[("equals", "equals"), ("contains", "contains")], label="Assertion"
    )
    value = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), strip=False, label="Expected output"
    )
    description = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, prompt: Prompt, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["suite"].queryset = Suite.objects.filter(prompt=prompt).order_by("name")


def _shown_call(request: HttpRequest, prompt: Prompt) -> PlaygroundCall | None:
    given = request.GET.get("call", "")
    if not (given.isascii() and given.isdigit()) or len(given) > 18:
        return None
    return playground.playground_calls(prompt=prompt).filter(pk=int(given)).first()


def _page(
    request: HttpRequest,
    prompt: Prompt,
    *,
    form: PlaygroundForm | None = None,
    call: PlaygroundCall | None = None,
    save_form: SaveCaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if call is not None and save_form is None:
        save_form = SaveCaseForm(prompt=prompt, initial={"value": call.output})
    context = {
        "prompt": prompt,
        "may_run": playground.may_run(request.user, prompt),
        "form": form or PlaygroundForm(prompt=prompt),
        "call": call,
        "call_variables": json.dumps(call.variables, ensure_ascii=False) if call else "",
        "save_form": save_form,
        "calls": playground.playground_calls(prompt=prompt)[:PAGE_SIZE],
        "offline_echo": OFFLINE_ECHO,
    }
    return render(request, "evaluations/playground.html", context, status=status)


def _run(request: HttpRequest, prompt: Prompt, form: PlaygroundForm) -> HttpResponse:
    if not playground.may_run(request.user, prompt):
        form.add_error(None, "Only maintainers and owners of this namespace use the playground.")
        return _page(request, prompt, form=form, status=403)
    if not form.is_valid():
        return _page(request, prompt, form=form, status=error_status(form))
    throttle = PlaygroundThrottle()
    if not throttle.allow_request(request, None):
        wait = math.ceil(throttle.wait() or 1)
        form.add_error(None, f"Too many playground runs; try again in {wait} s.")
        return _page(request, prompt, form=form, status=429)
    data = {**form.cleaned_data, "model": form.cleaned_data["model"].name}
    try:
        call = run_call(user=request.user, prompt=prompt, data=data)
    except DomainError as exc:
        apply_domain_error(form, exc)
        return _page(request, prompt, form=form, status=error_status(form))
    url = reverse("evaluations:playground", args=[prompt.namespace.slug, prompt.name])
    return redirect(f"{url}?call={call.pk}#result")


@login_required
@require_http_methods(["GET", "POST"])
def playground_page(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    if request.method == "POST":
        return _run(request, prompt, PlaygroundForm(request.POST, prompt=prompt))
    return _page(request, prompt, call=_shown_call(request, prompt))


@login_required
@require_POST
def playground_save(request: HttpRequest, namespace: str, name: str, pk: int) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    call = found(playground.playground_call_get, prompt=prompt, call_id=pk)
    form = SaveCaseForm(request.POST, prompt=prompt)
    case = submit(
        form,
        lambda data: playground.playground_save_case(
            actor=request.user,
            call=call,
            suite=data["suite"],
            assertion=data["assertion"],
            value=data["value"],
            description=data["description"],
        ),
    )
    if case is None:
        return _page(request, prompt, call=call, save_form=form, status=error_status(form))
    messages.success(
        request,
        f"Saved as case {case.position} of suite {case.suite.name} ({case.assertions[0]['type']}).",
    )
    url = reverse("evaluations:playground", args=[prompt.namespace.slug, prompt.name])
    return redirect(f"{url}?call={call.pk}#result")
