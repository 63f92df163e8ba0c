"""Portal pages of suites: a prompt's suites (and a form for a new one), promptfoo import by
pasting the file, a suite's page with its cases and export links, and the forms that add, edit
and delete a case (variables one field per declared variable plus JSON, assertions as rows of
type / value / threshold / weight). Readers see; maintainers and owners write (403 else);
an invisible prompt is a 404."""

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.errors import DomainError, PermissionDenied
from portal.web import apply_domain_error, error_status, found, submit
from prompts.evaluations import promptfoo, suites
from prompts.evaluations import suite_selectors as selectors
from prompts.evaluations.assertions import KNOWN_TYPES
from prompts.evaluations.models import Case, Suite
from prompts.models import Prompt
from prompts.selectors import prompt_get
from teams.permissions import can_edit_prompts

ASSERTION_ROWS = 6
ROW_KEYS = ("type", "value", "threshold", "weight")
TYPE_CHOICES = [("", "—")] + [
    (kind, kind) for base in sorted(KNOWN_TYPES) for kind in (base, f"not-{base}")
]
READ_ONLY = "Only maintainers and owners of this namespace edit its suites."


class SuiteForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    pass_threshold = forms.FloatField(
        min_value=0, max_value=1, initial=1.0, help_text="Share of cases that must pass (0–1)."
    )


class ImportForm(forms.Form):
    name = forms.CharField(max_length=100)
    format = forms.ChoiceField(
        choices=[("promptfoo", "promptfoo YAML"), ("jsonl", "JSON Lines")], initial="promptfoo"
    )
    content = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
        strip=False,
        label="File",
        help_text="Paste a promptfoo config (tests:, defaultTest:) or one case per line.",
    )


def _value(text: str) -> Any:
    """A row's value: JSON when it reads as a list or an object, the text otherwise."""
    stripped = text.strip()
    if stripped[:1] in {"[", "{"}:
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class CaseForm(forms.Form):
    description = forms.CharField(max_length=500, required=False)
    variables_json = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        required=False,
        label="Variables (JSON)",
        help_text="An object; the fields above win over it.",
    )
    threshold = forms.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        help_text="Pass on the weighted score (0–1); empty: every assertion must pass.",
    )

    def __init__(self, *args: Any, variables: list[str], case: Case | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.declared = variables
        current = dict(case.variables) if case else {}
        for name in variables:
            self.fields[f"var_{name}"] = forms.CharField(required=False, label=name, strip=False)
            if name in current and isinstance(current[name], str):
                self.initial[f"var_{name}"] = current.pop(name)
        assertions = list(case.assertions) if case else []
        self.original = assertions
        for index in range(max(ASSERTION_ROWS, len(assertions) + 2)):
            row = assertions[index] if index < len(assertions) else {}
            kind = row.get("type", "")
            choices = TYPE_CHOICES if kind in dict(TYPE_CHOICES) else [*TYPE_CHOICES, (kind, kind)]
            self.fields[f"a{index}_type"] = forms.ChoiceField(
                choices=choices, required=False, label="Type"
            )
            self.fields[f"a{index}_value"] = forms.CharField(
                required=False, label="Value", strip=False
            )
            self.fields[f"a{index}_threshold"] = forms.FloatField(required=False, label="Threshold")
            self.fields[f"a{index}_weight"] = forms.FloatField(
                required=False, min_value=0, label="Weight"
            )
            self.initial |= {
                f"a{index}_type": kind,
                f"a{index}_value": _value_text(row.get("value")),
                f"a{index}_threshold": row.get("threshold"),
                f"a{index}_weight": row.get("weight"),
            }
        self.rows = range(max(ASSERTION_ROWS, len(assertions) + 2))
        if case:
            self.initial |= {
                "description": case.description,
                "threshold": case.threshold,
                "variables_json": json.dumps(current, ensure_ascii=False) if current else "",
            }

    def assertion_rows(self) -> list[list[forms.BoundField]]:
        fields = ("type", "value", "threshold", "weight")
        return [[self[f"a{index}_{name}"] for name in fields] for index in self.rows]

    def variable_fields(self) -> list[forms.BoundField]:
        return [self[f"var_{name}"] for name in self.declared]

    def clean_variables_json(self) -> dict:
        text = self.cleaned_data["variables_json"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Variables must be a JSON object.")
        return value

    def case_input(self) -> suites.CaseInput:
        data = self.cleaned_data
        variables = dict(data["variables_json"])
        for name in self.declared:
            if data.get(f"var_{name}"):
                variables[name] = data[f"var_{name}"]
        assertions = []
        for index in self.rows:
            if not data.get(f"a{index}_type"):
                continue
            row: dict[str, Any] = {"type": data[f"a{index}_type"]}
            before = self.original[index] if index < len(self.original) else {}
            if isinstance(before, dict) and before.get("type") == row["type"]:
                # keys the rows do not show (llm-rubric's `provider`) stay as they were
                row |= {k: v for k, v in before.items() if k not in ROW_KEYS}
            if data.get(f"a{index}_value"):
                row["value"] = _value(data[f"a{index}_value"])
            for key in ("threshold", "weight"):
                if data.get(f"a{index}_{key}") is not None:
                    row[key] = data[f"a{index}_{key}"]
            assertions.append(row)
        return suites.CaseInput(
            description=data["description"],
            variables=variables,
            assertions=assertions,
            threshold=data["threshold"],
        )


def _prompt(request: HttpRequest, namespace: str, name: str) -> Prompt:
    return found(prompt_get, user=request.user, namespace=namespace, name=name)


def _suite(request: HttpRequest, namespace: str, name: str, pk: int) -> Suite:
    prompt = _prompt(request, namespace, name)
    return found(selectors.suite_get, prompt=prompt, suite_id=pk)


def _declared(prompt: Prompt) -> list[str]:
    latest = prompt.versions.order_by("-number").first()
    return [str(name) for name in (latest.variables if latest else [])]


def _refuse(form: forms.Form) -> int:
    form.add_error(None, READ_ONLY)
    return 403


@login_required
@require_http_methods(["GET", "POST"])
def suite_list(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt(request, namespace, name)
    may_edit = can_edit_prompts(request.user, prompt.namespace)
    form = SuiteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not may_edit:
            status = _refuse(form)
        else:
            suite = submit(
                form,
                lambda data: suites.suite_create(actor=request.user, prompt=prompt, **data),
            )
            if suite is not None:
                messages.success(request, f"Suite {suite.name} created.")
                return redirect("evaluations:suite", namespace, name, suite.pk)
            status = error_status(form)
    context = {
        "prompt": prompt,
        "suites": selectors.suites_of(prompt=prompt),
        "form": form,
        "may_edit": may_edit,
    }
    return render(request, "evaluations/suite_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def suite_import(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt(request, namespace, name)
    form = ImportForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_edit_prompts(request.user, prompt.namespace):
            status = _refuse(form)
        else:
            result = submit(
                form,
                lambda data: suites.suite_import(actor=request.user, prompt=prompt, **data),
            )
            if result is not None:
                count = result.suite.cases.count()
                messages.success(request, f"Imported {count} cases into {result.suite.name}.")
                for item in result.warnings:
                    for warning in item["warnings"]:
                        messages.warning(request, f"Case {item['case']}: {warning}")
                return redirect("evaluations:suite", namespace, name, result.suite.pk)
            status = error_status(form)
    context = {"prompt": prompt, "form": form}
    return render(request, "evaluations/suite_import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def suite_detail(request: HttpRequest, namespace: str, name: str, pk: int) -> HttpResponse:
    suite = _suite(request, namespace, name, pk)
    may_edit = can_edit_prompts(request.user, suite.prompt.namespace)
    initial = {key: getattr(suite, key) for key in ("name", "description", "pass_threshold")}
    form = SuiteForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if not may_edit:
            status = _refuse(form)
        else:
            changed = submit(
                form, lambda data: suites.suite_update(actor=request.user, suite=suite, **data)
            )
            if changed is not None:
                messages.success(request, "Suite saved.")
                return redirect("evaluations:suite", namespace, name, suite.pk)
            status = error_status(form)
    return _detail_page(request, suite, form=form, status=status, may_edit=may_edit)


def _detail_page(
    request: HttpRequest,
    suite: Suite,
    *,
    form: SuiteForm | None = None,
    status: int = 200,
    may_edit: bool | None = None,
    problem: str = "",
) -> HttpResponse:
    cases = selectors.suite_cases(suite=suite)
    for case in cases:
        case.variables_json = json.dumps(case.variables, ensure_ascii=False)
    if form is None:
        initial = {key: getattr(suite, key) for key in ("name", "description", "pass_threshold")}
        form = SuiteForm(initial=initial)
    context = {
        "prompt": suite.prompt,
        "suite": suite,
        "cases": cases,
        "form": form,
        "may_edit": (
            can_edit_prompts(request.user, suite.prompt.namespace) if may_edit is None else may_edit
        ),
        "formats": promptfoo.FORMATS,
        "problem": problem,
    }
    return render(request, "evaluations/suite_detail.html", context, status=status)


def _one_button(
    request: HttpRequest, suite: Suite, action: Any, success: str
) -> HttpResponse | None:
    """A delete button: refused by rights, the page again with the reason (403); refused by
    state (a suite with runs), back to the page with the reason."""
    try:
        action()
    except PermissionDenied as exc:
        return _detail_page(request, suite, status=403, problem=exc.detail)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(
            "evaluations:suite", suite.prompt.namespace.slug, suite.prompt.name, suite.pk
        )
    messages.success(request, success)
    return None


@login_required
@require_POST
def suite_delete(request: HttpRequest, namespace: str, name: str, pk: int) -> HttpResponse:
    suite = _suite(request, namespace, name, pk)
    refused = _one_button(
        request,
        suite,
        lambda: suites.suite_delete(actor=request.user, suite=suite),
        f"Suite {suite.name} deleted.",
    )
    return refused or redirect("evaluations:suites", namespace, name)


def _case_page(
    request: HttpRequest, suite: Suite, case: Case | None
) -> tuple[CaseForm, int, Case | None]:
    form = CaseForm(
        request.POST or None, variables=_declared(suite.prompt), case=case, prefix="case"
    )
    status = 200
    saved = None
    if request.method == "POST":
        if not can_edit_prompts(request.user, suite.prompt.namespace):
            return form, _refuse(form), None
        if form.is_valid():
            try:
                data = form.case_input()
                if case is None:
                    saved = suites.case_create(actor=request.user, suite=suite, data=data)
                else:
                    saved = suites.case_update(actor=request.user, case=case, data=data)
            except DomainError as exc:
                apply_domain_error(form, exc)
        if saved is None:
            status = error_status(form)
    return form, status, saved


@login_required
@require_http_methods(["GET", "POST"])
def case_add(request: HttpRequest, namespace: str, name: str, pk: int) -> HttpResponse:
    suite = _suite(request, namespace, name, pk)
    form, status, saved = _case_page(request, suite, None)
    if saved is not None:
        messages.success(request, f"Case {saved.position} added.")
        return redirect("evaluations:suite", namespace, name, suite.pk)
    context = {"prompt": suite.prompt, "suite": suite, "form": form, "case": None}
    return render(request, "evaluations/suite_case_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, namespace: str, name: str, pk: int, case: int) -> HttpResponse:
    suite = _suite(request, namespace, name, pk)
    existing = found(selectors.case_get, suite=suite, case_id=case)
    form, status, saved = _case_page(request, suite, existing)
    if saved is not None:
        messages.success(request, f"Case {saved.position} saved.")
        return redirect("evaluations:suite", namespace, name, suite.pk)
    context = {"prompt": suite.prompt, "suite": suite, "form": form, "case": existing}
    return render(request, "evaluations/suite_case_form.html", context, status=status)


@login_required
@require_POST
def case_delete(
    request: HttpRequest, namespace: str, name: str, pk: int, case: int
) -> HttpResponse:
    suite = _suite(request, namespace, name, pk)
    existing = found(selectors.case_get, suite=suite, case_id=case)
    refused = _one_button(
        request,
        suite,
        lambda: suites.case_delete(actor=request.user, case=existing),
        f"Case {existing.position} deleted.",
    )
    return refused or redirect("evaluations:suite", namespace, name, suite.pk)
