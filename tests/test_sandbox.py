"""The jinja2 sandbox's hard limits (prompts.sandbox): a template that would allocate or spin
without bound ends in 422 `sandbox` within the time limit, the calling process's memory stays
where it was, and the next render works. Templates the sandbox would refuse at render are
refused when the version is created."""

import os
import resource
import time

import pytest
from django.conf import settings

from portal.errors import Invalid
from prompts.rendering import MAX_SANDBOX_JOBS_PER_RENDER, Source, render, render_all
from prompts.sandbox import Refused, sandbox
from prompts.services import prompt_create
from prompts.templating import _checked_in_sandbox, limits, placeholders
from tests.api.conftest import personal_client, problem
from tests.factories import NamespaceFactory, system_actor

pytestmark = pytest.mark.django_db


def jinja(template: str) -> Source:
    return Source(template_format="jinja2", template=template, includes={})


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BOMBS = {
    "nested format width": '{{ "{:>{w}}".format("a", w=1000000000)|length }}',
    "list doubling": (
        "{% set l = [1] %}{% for i in range(40) %}{% set _ = l.extend(l) %}{% endfor %}"
        "{{ l|length }}"
    ),
    "string doubling": (
        '{% set ns = namespace(s="ab") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s|length }}"
    ),
    "percent width": "{{ '%0900000000d' % 1 }}",
    "endless loop": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "huge power": "{% set n = 10 %}{{ ((((n**100)**100)**100)**10) > 1 }}",
}


@pytest.mark.parametrize("template", BOMBS.values(), ids=BOMBS.keys())
def test_a_bomb_ends_in_sandbox_within_the_limit_and_leaves_this_process_alone(template):
    render(jinja("warm {{ x }}"), {"x": 1})  # the pool is up
    before = max_rss_mb()
    started = time.monotonic()

    with pytest.raises(Invalid) as refused:
        render(jinja(template), {})

    elapsed = time.monotonic() - started
    assert refused.value.code == "sandbox", refused.value
    assert elapsed < settings.RENDER_TIME_LIMIT + 1.5
    # The gigabytes were asked for in a worker: this process's peak did not move.
    assert max_rss_mb() - before < 20
    # The worker that breached was replaced or recovered: the next render works.
    assert render(jinja("after {{ x }}"), {"x": 2}) == "after 2"


def test_a_worker_that_runs_too_long_is_killed_and_replaced(settings):
    settings.RENDER_WORKERS = 1  # its own pool of one worker, so the pid tells
    pool = sandbox(limits())._running_pool()
    before = pool.schedule(os.getpid).result()

    with pytest.raises(Invalid, match="longer than"):
        render(jinja(BOMBS["endless loop"]), {})

    assert render(jinja("{{ x }}"), {"x": 3}) == "3"
    after = pool.schedule(os.getpid).result()
    assert after != before
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)


def test_a_normal_render_is_unchanged():
    source = jinja(
        "{% for n in names %}{{ n|upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
    )

    assert render(source, {"names": ["ada", "bo"]}) == "ADA, BO"


REFUSED_AT_CREATION = {
    "dunder attribute": ("{{ name.__class__.__mro__ }}", "template_syntax"),
    "dunder item": ("{{ name['__class__'] }}", "template_syntax"),
    "attr filter": ("{{ name|attr('__class__') }}", "template_syntax"),
    "globals": ("{{ cycler.__init__.__globals__ }}", "template_syntax"),
    "unsafe method attribute": ("{{ name.upper.__self__ }}", "template_syntax"),
    "unknown filter": ("{{ name|nosuchfilter }}", "template_syntax"),
    "unknown test in a condition": (
        "{% if name is nosuchtest %}x{% endif %}{{ name }}",
        "template_syntax",
    ),
    "syntax error": ("{{ name ", "template_syntax"),
    "300 parentheses": ("{{ " + "(" * 300 + "name" + ")" * 300 + " }}", "template_syntax"),
    "400 nested ifs": ("{% if name %}" * 400 + "{% endif %}" * 400, "template_syntax"),
    "3000 chained filters": ("{{ name" + "|upper" * 3000 + " }}", "template_syntax"),
}


@pytest.mark.parametrize(
    ("template", "code"), REFUSED_AT_CREATION.values(), ids=REFUSED_AT_CREATION.keys()
)
def test_a_template_the_sandbox_would_refuse_is_refused_at_creation(template, code):
    actor = system_actor()
    namespace = NamespaceFactory(slug="support")
    prompt_create(actor=actor, namespace=namespace, name="jin")
    client = personal_client(actor)

    response = client.post(
        "/api/v1/prompts/support/jin/versions/",
        {"template": template, "template_format": "jinja2", "variables": ["name"]},
        format="json",
    )

    assert response.status_code == 422, response.content
    assert problem(response)["code"] == code


def test_the_mustache_scan_is_linear_on_adversarial_input():
    started = time.monotonic()
    for adversarial in (
        "{{" * 100_000,
        "{{a}}" * 40_000 + "{{",
        "{" * 200_000,
        "{{ " + "}" * 200_000,
    ):
        with pytest.raises(Invalid):
            placeholders("mustache", [adversarial])
    assert time.monotonic() - started < 0.5


def test_a_job_that_cannot_reach_a_worker_is_refused_and_the_pool_starts_afresh():
    pool = sandbox(limits())

    with pytest.raises(Refused) as refused:
        pool.render("{{ x }}", {}, {"x": lambda: 1})  # cannot be sent to another process

    assert refused.value.code == "sandbox"
    assert render(jinja("{{ x }}"), {"x": 4}) == "4"


def mustache(template: str, includes: dict) -> Source:
    return Source(template_format="mustache", template=template, includes=includes)


def test_an_include_used_thousands_of_times_is_rendered_once():
    includes: dict[str, Source] = {}
    includes["ns/leaf"] = mustache("{{e}}", includes)
    includes["ns/mid"] = mustache("{{> ns/leaf}}" * 1500, includes)
    top = mustache("{{> ns/mid}}" * 1500, includes)  # 2.25 million leaves if re-rendered
    started = time.monotonic()

    assert render(top, {"e": ""}) == ""
    assert time.monotonic() - started < 0.5


def test_a_render_fills_a_bounded_number_of_placeholders():
    includes: dict[str, Source] = {}
    for i in range(5):
        includes[f"ns/part{i}"] = mustache("{{e}}" * 12_000, includes)
    top = mustache("".join(f"{{{{> ns/part{i}}}}}" for i in range(5)), includes)

    with pytest.raises(Invalid) as refused:
        render(top, {"e": ""})

    assert refused.value.code == "too_large"
    assert "placeholders" in refused.value.detail


def test_jinja2_includes_of_a_mustache_prompt_cost_one_sandbox_job_each():
    includes: dict[str, Source] = {}
    includes["ns/jj"] = Source(
        template_format="jinja2", template="{{ e|upper }}", includes=includes
    )
    top = mustache("{{> ns/jj}}" * 20_000, includes)  # 20,000 jobs would take seconds
    started = time.monotonic()

    assert render(top, {"e": "x"}) == "X" * 20_000
    assert time.monotonic() - started < 0.5


def test_the_output_cap_holds_for_all_of_a_prompts_messages_together():
    messages = [jinja("{{ 'x' * 2000 }}{{ e }}") for _ in range(200)]  # 400,000 in all

    with pytest.raises(Invalid) as refused:
        render_all(messages, {"e": ""})

    assert refused.value.code == "too_large"


def test_a_chat_prompts_jinja2_messages_share_one_sandbox_job_and_its_time_limit():
    spin = "{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}"
    messages = [jinja(spin + "{{ e }}") for _ in range(200)]  # seconds each, 200 of them
    started = time.monotonic()

    with pytest.raises(Invalid, match="longer than"):
        render_all(messages, {"e": ""})

    assert time.monotonic() - started < settings.RENDER_TIME_LIMIT + 1.5


def test_a_render_takes_a_bounded_number_of_sandbox_jobs():
    includes: dict[str, Source] = {}
    for i in range(MAX_SANDBOX_JOBS_PER_RENDER + 1):
        includes[f"ns/j{i}"] = jinja("{{ e }}")
    top = mustache("".join(f"{{{{> ns/j{i}}}}}" for i in range(len(includes))), includes)

    with pytest.raises(Invalid, match="jinja2 renders") as refused:
        render(top, {"e": "x"})

    assert refused.value.code == "too_large"


def test_a_template_the_compiler_refuses_is_a_syntax_error_and_keeps_the_pool(settings):
    settings.RENDER_WORKERS = 1
    pool = sandbox(limits())._running_pool()
    before = pool.schedule(os.getpid).result()

    with pytest.raises(Invalid) as refused:
        placeholders("jinja2", ["{{ " + "9" * 5000 + " }}"])

    assert refused.value.code == "template_syntax"
    assert sandbox(limits())._running_pool().schedule(os.getpid).result() == before


def test_a_refused_template_is_remembered():
    template = "{{ x|no_such_filter_here }}"
    for _ in range(3):
        with pytest.raises(Invalid):
            placeholders("jinja2", [template])

    assert _checked_in_sandbox.cache_info().hits >= 2
