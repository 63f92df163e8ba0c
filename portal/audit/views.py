"""The audit log page: filters, export links, chain verification."""

import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from portal.audit import selectors
from portal.audit.forms import AuditFilterForm
from portal.audit.permissions import can_read_audit
from portal.web import FORM_ERROR_STATUS, require_or_403

AUDIT_PER_PAGE = 50


def _require_auditor(request: HttpRequest) -> None:
    require_or_403(
        can_read_audit(request.user),
        "Only staff and members of the auditors group read the audit log.",
    )


def _compact(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _export_urls(query: dict[str, Any]) -> dict[str, str]:
    """The streamed export of the same entries: the API takes the filters as ISO datetimes."""
    params = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in query.items()
    }
    base = reverse("api-audit-export")
    return {fmt: f"{base}?{urlencode({'format': fmt, **params})}" for fmt in ("csv", "jsonl")}


def _chain_status() -> selectors.ChainStatus:
    """Bounded: the newest entries now, the whole chain from Celery beat's record."""
    return selectors.chain_status(window=settings.AUDIT_VERIFY_WINDOW)


def _filter_params(form: AuditFilterForm) -> str:
    """The filters as typed, for the pager's links."""
    return urlencode(
        {name: form.data[name] for name in form.fields if form.data.get(name)}, doseq=False
    )


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    form = AuditFilterForm(request.GET)
    verification = _chain_status() if request.GET.get("verify") else None
    context = {"form": form, "verification": verification, "page": None, "filters": ""}
    if not form.is_valid():
        return render(request, "audit/audit.html", context, status=FORM_ERROR_STATUS)
    query = form.query()
    entries = selectors.audit_entries(**query).order_by("-seq")
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    context |= {
        "page": page,
        "rows": [(entry, _compact(entry.before), _compact(entry.after)) for entry in page],
        "filters": _filter_params(form),
        "export": _export_urls(query),
    }
    return render(request, "audit/audit.html", context)


@login_required
@require_GET
def audit_verify(request: HttpRequest) -> HttpResponse:
    """htmx asks for the verification alone; without it, the page shows it."""
    _require_auditor(request)
    if not request.htmx:
        return redirect(f"{reverse('audit:log')}?verify=1")
    return render(request, "audit/_verification.html", {"verification": _chain_status()})
