"""API for the audit log: list, streamed export, chain verification."""

import csv
import json
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.views import parse_query
from portal.audit import selectors
from portal.audit import serializers as s
from portal.audit.models import EXPORTED_FIELDS, AuditEntry
from portal.audit.permissions import can_read_audit


def _require_auditor(request: Request) -> None:
    if not can_read_audit(request.user):
        raise PermissionDenied("Only staff and members of the auditors group read the audit log.")


class AuditList(generics.ListAPIView):
    serializer_class = s.AuditEntrySerializer
    queryset = AuditEntry.objects.none()

    @extend_schema(parameters=[s.AuditQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        _require_auditor(self.request)
        return selectors.audit_entries(**parse_query(s.AuditQuerySerializer, self.request))


class _Echo:
    def write(self, value: str) -> str:
        return value


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a formula-like start gets a single quote before it.
    The JSON Lines export stays exact (it is the one that verifies offline)."""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_lines(rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORTED_FIELDS)
    for row in rows:
        yield writer.writerow(
            [
                csv_cell(json.dumps(row[c], sort_keys=True) if c in ("before", "after") else row[c])
                for c in EXPORTED_FIELDS
            ]
        )


def _jsonl_lines(rows):
    for row in rows:
        yield json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"


class AuditExport(APIView):
    @extend_schema(
        parameters=[s.AuditExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, streamed"),
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.STR, description="JSON Lines, streamed"
            ),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        _require_auditor(request)
        query = parse_query(s.AuditExportQuerySerializer, request)
        export_format = query.pop("format")
        rows = selectors.export_rows(selectors.audit_entries(**query))
        if export_format == "csv":
            response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
        else:
            response = StreamingHttpResponse(_jsonl_lines(rows), content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="audit.{export_format}"'
        return response


class AuditVerify(APIView):
    @extend_schema(responses={200: s.AuditVerificationSerializer})
    def get(self, request: Request) -> Response:
        """The newest AUDIT_VERIFY_WINDOW entries, verified now, and the record of Celery beat's
        continuous re-verification of the whole chain (`manage.py audit_verify` checks it all
        at once)."""
        _require_auditor(request)
        status = selectors.chain_status(window=settings.AUDIT_VERIFY_WINDOW)
        return Response(s.AuditVerificationSerializer(status).data)
