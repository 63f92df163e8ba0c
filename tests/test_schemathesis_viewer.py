"""The viewer's schemathesis run (tests/test_schemathesis.py has the machinery and the staff
run): what a viewer is answered matches the schema too. A file of its own so that pytest-xdist
runs it beside the staff run instead of after it."""

import pytest

from tests.test_schemathesis import fuzz_as, server  # noqa: F401 (the server fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_answers_as_its_schema_says_to_a_viewer(server, tmp_path):  # noqa: F811
    fuzz_as("vera", server, tmp_path)
