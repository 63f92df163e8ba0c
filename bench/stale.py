"""Benchmark: the stale-prompt scan (prompts.stale.scan) over 10,000 prompts in 50 namespaces
on PostgreSQL.

Run with `scripts/with-services.sh .venv/bin/python bench/stale.py` (`make bench` does) for a
private PostgreSQL and Redis. Builds the data with bulk_create in frozen time (old, recently
edited, recently deployed and deprecated prompts; namespaces with thresholds of 30 to 180
days; a week of flushed resolve counts), then times the scan. Prints the time, the number of
queries (the same at 2,000 prompts and at 10,000) and the ratio to a ceiling measured in the
same run: one plain read of every prompt's row, what any scan must at least cost. Target:
under 5 s with a constant number of queries.
"""

import datetime as dt
import hashlib
import os
import secrets
import statistics
import sys
import time

if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
    sys.exit("Run through scripts/with-services.sh (or `make bench`): needs PostgreSQL+Redis.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
os.environ.setdefault("AUDIT_CHAIN_KEY", f"bench:{secrets.token_urlsafe(32)}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

import time_machine  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from prompts import stale  # noqa: E402
from prompts.models import (  # noqa: E402
    Deployment,
    Environment,
    Prompt,
    PromptVersion,
    ResolveCount,
)
from teams.models import Namespace  # noqa: E402
from teams.services import namespace_create, team_create  # noqa: E402

NAMESPACES = 50
PROMPTS = int(os.environ.get("BENCH_STALE_PROMPTS", "10000"))
FIRST = PROMPTS // 5
REPEATS = 5
THRESHOLDS = (30, 60, 90, 180)
NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


def setup_namespaces() -> tuple[list[Namespace], object]:
    admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    namespaces = []
    for i in range(NAMESPACES):
        team = team_create(actor=admin, slug=f"team-{i:02d}", name=f"Team {i}")
        namespaces.append(namespace_create(actor=admin, slug=f"ns-{i:02d}", team=team))
    for i, namespace in enumerate(namespaces):
        namespace.stale_after_days = THRESHOLDS[i % len(THRESHOLDS)]
    Namespace.objects.bulk_update(namespaces, ["stale_after_days"])
    return namespaces, admin


def add_prompts(namespaces, admin, start: int, stop: int) -> None:
    """Prompts start..stop-1: created 200 days ago with one version deployed in development;
    a third get a version 20 days ago, a sixth a production deployment 10 days ago, one in
    twenty is deprecated (half past their sunset) and was resolved by three callers all week."""
    environments = {env.slug: env for env in Environment.objects.all()}
    with time_machine.travel(NOW - dt.timedelta(days=200), tick=False):
        prompts = Prompt.objects.bulk_create(
            [
                Prompt(namespace=namespaces[i % NAMESPACES], name=f"prompt-{i:05d}")
                for i in range(start, stop)
            ],
            batch_size=2000,
        )
        first = PromptVersion.objects.bulk_create(
            [_version(prompt, 1, admin) for prompt in prompts], batch_size=2000
        )
        Deployment.objects.bulk_create(
            [
                Deployment(
                    prompt=version.prompt,
                    environment=environments["development"],
                    version=version,
                    deployed_at=timezone.now(),
                )
                for version in first
            ],
            batch_size=2000,
        )
    edited = prompts[::3]
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        PromptVersion.objects.bulk_create(
            [_version(prompt, 2, admin) for prompt in edited], batch_size=2000
        )
    with time_machine.travel(NOW - dt.timedelta(days=10), tick=False):
        Deployment.objects.bulk_create(
            [
                Deployment(
                    prompt=version.prompt,
                    environment=environments["production"],
                    version=version,
                    deployed_at=timezone.now(),
                )
                for version in first[1::6]
            ],
            batch_size=2000,
        )
    deprecated = prompts[::20]
    for n, prompt in enumerate(deprecated):
        prompt.state = Prompt.State.DEPRECATED
        prompt.deprecated_at = NOW - dt.timedelta(days=30)
        prompt.deprecation_reason = "superseded"
        prompt.sunset_at = NOW + dt.timedelta(days=-5 if n % 2 else 30)
    Prompt.objects.bulk_update(
        deprecated, ["state", "deprecated_at", "deprecation_reason", "sunset_at"], batch_size=2000
    )
    ResolveCount.objects.bulk_create(
        [
            ResolveCount(
                prompt=prompt,
                environment=environments["production"],
                day=(NOW - dt.timedelta(days=day)).date(),
                token_name=caller,
                count=100 + day,
            )
            for prompt in deprecated
            for day in range(7)
            for caller in ("billing-worker", "mailer", "")
        ],
        batch_size=2000,
    )


def _version(prompt: Prompt, number: int, admin) -> PromptVersion:
    template = f"Hello from {prompt.name}, take {number}"
    return PromptVersion(
        prompt=prompt,
        number=number,
        template=template,
        search_text=template,
        author=admin,
        sha256=hashlib.sha256(template.encode()).hexdigest(),
    )


def measure(function) -> tuple[float, int, object]:
    """Median seconds of REPEATS runs, the queries of one run, and its result."""
    times = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - started)
    return statistics.median(times), len(queries), result


def plain_read() -> int:
    return len(list(Prompt.objects.values_list("pk", "namespace__slug", "name", "created_at")))


def main() -> None:
    call_command("migrate", verbosity=0)
    namespaces, admin = setup_namespaces()
    add_prompts(namespaces, admin, 0, FIRST)
    small_seconds, small_queries, small = measure(lambda: stale.scan(now=NOW))
    add_prompts(namespaces, admin, FIRST, PROMPTS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seconds, queries, findings = measure(lambda: stale.scan(now=NOW))
    ceiling, _, rows = measure(plain_read)

    kinds: dict[str, int] = {}
    for finding in findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    print(
        f"PostgreSQL {connection.pg_version // 10000}; {rows} prompts in {NAMESPACES} "
        f"namespaces (thresholds {', '.join(map(str, THRESHOLDS))} days); median of {REPEATS}"
    )
    print(f"{'run':<34}{'prompts':>9}{'seconds':>10}{'queries':>9}{'findings':>10}")
    print(f"{'stale scan':<34}{FIRST:>9}{small_seconds:>10.3f}{small_queries:>9}{len(small):>10}")
    print(f"{'stale scan':<34}{rows:>9}{seconds:>10.3f}{queries:>9}{len(findings):>10}")
    print(f"{'ceiling: read every prompt row':<34}{rows:>9}{ceiling:>10.3f}{1:>9}{'':>10}")
    print("findings: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
    print(
        f"scan = {seconds / ceiling:.1f}x the plain read; {seconds:.2f} s (target < 5 s); "
        f"queries {small_queries} at {FIRST} prompts and {queries} at {rows} "
        f"({'constant' if queries == small_queries else 'NOT constant'})"
    )


if __name__ == "__main__":
    main()
