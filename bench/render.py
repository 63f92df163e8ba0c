"""Benchmark: what the jinja2 sandbox's worker processes cost a normal render.

Renders the same small jinja2 prompt (a loop, a filter, a condition) three ways in this
process and prints the median time per render and the ratios:
- in process with a bare SandboxedEnvironment, the template compiled once (the ceiling:
  what a render costs without isolation),
- through the portal's renderer (prompts.rendering.render: a worker process with hard
  memory, CPU and time limits),
- a mustache render for comparison (in process; linear, no code).
Run with `make bench`; needs no services.
"""

import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from jinja2 import StrictUndefined  # noqa: E402
from jinja2.sandbox import SandboxedEnvironment  # noqa: E402

from prompts.rendering import Source, render  # noqa: E402

JINJA = (
    "Hello {{ name|title }}!{% for item in items %}\n- {{ item }}{% endfor %}"
    "{% if vip %}\nThanks for being with us.{% endif %}"
)
MUSTACHE = "Hello {{name}}! Your order {{order}} ships {{when}}."
VARIABLES = {"name": "ada lovelace", "items": ["tea", "cake", "scones"], "vip": True}
ROUNDS, PER_ROUND = 15, 200


def median_us(function) -> float:
    function()  # warm: the pool is up, the template compiled
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            function()
        rounds.append((time.perf_counter() - started) / PER_ROUND * 1e6)
    return statistics.median(rounds)


def main() -> None:
    bare = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False).from_string(JINJA)
    sandboxed = Source(template_format="jinja2", template=JINJA, includes={})
    mustache = Source(template_format="mustache", template=MUSTACHE, includes={})
    assert bare.render(**VARIABLES) == render(sandboxed, VARIABLES)

    ceiling = median_us(lambda: bare.render(**VARIABLES))
    isolated = median_us(lambda: render(sandboxed, VARIABLES))
    plain = median_us(lambda: render(mustache, {"name": "Ada", "order": "A-17", "when": "today"}))
    print(f"jinja2 in process, no isolation (ceiling): {ceiling:8.1f} µs per render")
    print(f"jinja2 in the sandbox's worker process:    {isolated:8.1f} µs per render")
    print(
        f"  cost of isolation:                       {isolated - ceiling:8.1f} µs "
        f"({isolated / ceiling:.1f}x the ceiling)"
    )
    print(f"mustache (in process):                     {plain:8.1f} µs per render")


if __name__ == "__main__":
    main()
