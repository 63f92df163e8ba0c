"""Checks of our own for the schemathesis runs of tests/test_schemathesis.py (loaded by the
schemathesis process, not by pytest)."""

import schemathesis


@schemathesis.check
def valid_token_not_throttled(ctx, response, case):
    """Every request of the run carries a valid token (or none at all), at a CI job's pace:
    a 429 is documented, so the schema checks pass it, but it must not happen."""
    if response.status_code == 429:
        raise AssertionError(f"Throttled a valid caller: {response.text[:300]}")
