"""The OpenAPI schema is valid under strict validation: drf-spectacular's own check (the
OpenAPI JSON Schema, every generator warning an error) and openapi-spec-validator, which also
checks that every default and example fits its schema (`format` included)."""

import subprocess
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from tests.live import ROOT


def test_the_schema_generates_without_warnings_and_validates_strictly(tmp_path):
    schema_file = tmp_path / "schema.yaml"

    generated = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(schema_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert generated.returncode == 0, generated.stdout + generated.stderr
    schema, _ = read_from_filename(str(schema_file))
    validate(schema)  # raises, naming the offending path, on the first violation
