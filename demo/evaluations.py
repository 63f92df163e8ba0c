"""A demo evaluation suite, imported from a promptfoo file as a team would, and its runs on the
offline `local` model for the two newest versions of search-ranking/query-rewrite, so the
suite, run and matrix pages show something on a fresh `make run`. Runs once."""

from prompts.evaluations.models import Model
from prompts.evaluations.runs import run_create
from prompts.evaluations.suites import suite_import
from prompts.models import Prompt

PROMPTFOO_FILE = """\
# promptfoo test file: the format prompt engineers already keep
defaultTest:
  assert:
    - type: not-icontains
      value: sorry
tests:
  - description: brand names survive the rewrite
    vars: {query: "nike air max size 42", locale: "en-GB"}
    assert:
      - type: contains
        value: nike air max
      - type: icontains
        value: en-gb
  - description: sizes and colours are kept
    vars: {query: "red wool scarf", locale: "de-DE"}
    assert:
      - type: contains-all
        value: [red, wool, scarf]
  - description: one line only
    vars: {query: "usb-c charger 65w", locale: "fr-FR"}
    assert:
      - type: not-contains
        value: "\\n"
      - type: regex
        value: "Output one line"
        weight: 2
    threshold: 0.6
"""


def seed_evaluations(*, users) -> int:
    """Returns how many runs were started (0 when the demo already has its suite)."""
    prompt = Prompt.objects.get(namespace__slug="search-ranking", name="query-rewrite")
    if prompt.suites.exists():
        return 0
    result = suite_import(
        actor=users["erin"],
        prompt=prompt,
        name="rewrites",
        format="promptfoo",
        content=PROMPTFOO_FILE,
    )
    local = Model.objects.get(name="local")
    newest = prompt.versions.order_by("-number")[:2]
    for version in newest:
        run_create(
            actor=users["erin"], prompt=prompt, version=version, suite=result.suite, model=local
        )
    return len(newest)
