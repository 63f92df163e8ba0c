"""Benchmark: the client SDK (promptportal) against gunicorn with PostgreSQL and Redis.

Run with `scripts/with-services.sh .venv/bin/python bench/client.py` (`make bench` does).
Prints, each beside a ceiling measured in the same run:
- a cached `get` (target < 5 µs median), against a bare dict lookup in a function;
- `render` of a typical mustache template (~500 characters, 3 variables), against the same
  three substitutions with `str.replace`;
- one revalidation round for 200 cached prompts (one POST /resolve/batch/), against a GET of
  the portal's /ping/ on the same connection;
- staleness: how long after a promotion is applied (the API has answered) a client with the
  default 1 s interval serves the new version, over 20 promotions (target <= 1.5 s).
"""

import json
import random
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resolve import free_port, server_environment, start_server

from promptportal import Portal

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = 200
PROMOTIONS = 20
TEMPLATE = (
    "You are the support assistant of {{company}}. A customer, {{customer}}, writes about an "
    "order. Answer politely and briefly, in the customer's language, and never promise a "
    "refund that the policy does not allow. If the order is late, apologise once and give the "
    "new delivery date if it is known; if it is not, say when the customer will hear from us. "
    "If the customer is angry, acknowledge it without repeating their words. Do not invent "
    "tracking numbers, prices or dates. Close with one line offering more help. The message "
    "follows between the markers.\n---\n{{message}}\n---"
)

PREPARE = f"""
from django.contrib.auth import get_user_model
from prompts.models import Environment
from prompts.services import deployment_set, prompt_create, version_create
from teams.services import namespace_create, team_create
from teams.tokens import personal_token_create, service_token_create
admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
team = team_create(actor=admin, slug="bench", name="Bench")
namespace = namespace_create(actor=admin, slug="bench", team=team, visibility="private")
environments = {{e.slug: e for e in Environment.objects.all()}}
for i in range({PROMPTS}):
    prompt = prompt_create(actor=admin, namespace=namespace, name=f"p{{i}}")
    version = version_create(prompt=prompt, author=admin, template={TEMPLATE!r},
                             variables=["company", "customer", "message"])
    deployment_set(prompt=prompt, environment=environments["production"], version=version,
                   actor=admin, action="deployment.seeded")
flip = prompt_create(actor=admin, namespace=namespace, name="flip")
for text in ("first {{{{x}}}}", "second {{{{x}}}}"):
    version_create(prompt=flip, author=admin, template=text, variables=["x"])
_, service = service_token_create(actor=admin, namespaces=[namespace], name="bench")
_, personal = personal_token_create(actor=admin, name="bench")
print(service, personal)
"""


def prepare(env: dict[str, str]) -> tuple[str, str]:
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", PREPARE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    service, personal = out.stdout.strip().splitlines()[-1].split()
    return service, personal


def per_call_us(statement, number: int = 100_000, repeat: int = 7) -> float:
    return statistics.median(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6


def in_memory(portal: Portal) -> dict[str, tuple[float, float]]:
    table = {("bench/p0", "production", None): "x"}

    def lookup():
        return table.get(("bench/p0", "production", None))

    prompt = portal.get("bench/p0")
    variables = {"company": "Acme", "customer": "Ada", "message": "Where is my parcel?"}

    def replace():
        text = TEMPLATE
        for name, value in variables.items():
            text = text.replace("{{" + name + "}}", value)
        return text

    assert prompt.render(**variables) == replace()
    return {
        "cached get": (per_call_us(lambda: portal.get("bench/p0")), per_call_us(lookup)),
        "render (mustache, 3 variables)": (
            per_call_us(lambda: prompt.render(**variables)),
            per_call_us(replace),
        ),
    }


def round_trips(base: str, service: str, portal: Portal) -> tuple[float, float]:
    """(ms per revalidation round of every cached prompt, ms per GET /ping/)."""
    rounds, pings = [], []
    with httpx.Client(base_url=base) as http:
        for _ in range(50):
            started = time.perf_counter()
            portal.revalidate()
            rounds.append(time.perf_counter() - started)
            started = time.perf_counter()
            http.get("/ping/")
            pings.append(time.perf_counter() - started)
    return statistics.median(rounds) * 1000, statistics.median(pings) * 1000


def staleness(base: str, service: str, personal: str) -> list[float]:
    """Seconds from a promotion's applied answer to the client serving it, per promotion."""
    seen = []
    headers = {"Authorization": f"Bearer {personal}"}
    with (
        Portal(base, service, environment="development") as portal,
        httpx.Client(base_url=base, headers=headers, timeout=10) as http,
    ):
        for i in range(PROMOTIONS + 1):
            number = 1 + i % 2
            answer = http.post(
                "/api/v1/promotions/",
                json={
                    "prompt": "bench/flip",
                    "version": number,
                    "environment": "development",
                    "justification": f"benchmark flip {i}",
                },
            )
            answer.raise_for_status()
            applied = time.perf_counter()
            if i == 0:
                portal.get("bench/flip")  # first fetch; later ones are revalidations
            while portal.get("bench/flip").version != number:
                time.sleep(0.001)
            seen.append(time.perf_counter() - applied)
            time.sleep(random.uniform(0, 1))  # land anywhere in the interval
    return seen[1:]


def main() -> None:
    env = server_environment()
    service, personal = prepare(env)
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        portal = Portal(base, service, interval=3600)  # rounds timed by hand below
        portal.prefetch([f"bench/p{i}" for i in range(PROMPTS)])
        figures = in_memory(portal)
        round_ms, ping_ms = round_trips(base, service, portal)
        portal.close()
        stale = staleness(base, service, personal)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{'operation':<34}{'median':>12}{'ceiling':>12}{'ratio':>8}")
    for name, (measured, ceiling) in figures.items():
        print(f"{name:<34}{measured:>10.2f}µs{ceiling:>10.2f}µs{measured / ceiling:>8.1f}")
    print(
        f"{f'revalidation, {PROMPTS} prompts':<34}{round_ms:>10.2f}ms{ping_ms:>10.2f}ms"
        f"{round_ms / ping_ms:>8.1f}"
    )
    print(
        f"staleness after a promotion ({len(stale)}, interval 1 s): median "
        f"{statistics.median(stale):.2f} s, max {max(stale):.2f} s (target <= 1.5 s)"
    )
    print(
        f"targets: cached get {figures['cached get'][0]:.2f} µs (< 5 µs); "
        + json.dumps({"stale_max_s": round(max(stale), 2)})
    )


if __name__ == "__main__":
    main()
