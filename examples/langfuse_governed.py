"""Langfuse SDK code, unchanged, against the portal: fetch and compile the production prompt,
create a version that should go to production, and watch governance hold production until
reviewers approve. Uses only the `langfuse` SDK (pip install langfuse).

    TOKEN=$(.venv/bin/python manage.py issue_token alice | tail -1)
    LANGFUSE_BASE_URL=http://127.0.0.1:8000 LANGFUSE_PUBLIC_KEY=${TOKEN%%.*} \\
        LANGFUSE_SECRET_KEY=$TOKEN .venv/bin/python examples/langfuse_governed.py

Production needs the version to have run in staging first: the label opens the staging request
(one approval); once it applies, the production request opens by itself (two approvals).
Approve each on the portal's Reviews page as it appears.
"""

import argparse
import sys
import time

from langfuse import Langfuse

NAME = "support/greeting"


def wait_for(langfuse: Langfuse, label: str, version: int, seconds: float, poll: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if langfuse.get_prompt(NAME, label=label, cache_ttl_seconds=0).version == version:
            return True
        time.sleep(poll)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wait", type=float, default=900, help="seconds to wait per approval")
    parser.add_argument("--poll", type=float, default=2, help="seconds between looks")
    args = parser.parse_args()
    langfuse = Langfuse(tracing_enabled=False)

    running = langfuse.get_prompt(NAME, cache_ttl_seconds=0)
    print(f"production runs {NAME} v{running.version}: {running.compile(name='Ada')!r}")

    created = langfuse.create_prompt(
        name=NAME,
        prompt="Hello {{name}}, good to see you again. How can we help today?",
        config=running.config,
        labels=["production"],
        commit_message="A warmer greeting for returning customers",
    )
    print(f"created v{created.version}; labels it holds now: {created.labels}")
    still = langfuse.get_prompt(NAME, cache_ttl_seconds=0).version
    print(f"production still runs v{still}", flush=True)

    print(
        "waiting for the reviewers: staging first (one approval), then production (two); "
        "approve each request on the Reviews page as it appears",
        flush=True,
    )
    if not wait_for(langfuse, "production", created.version, args.wait, args.poll):
        print("production was not approved in time", file=sys.stderr)
        return 1
    served = langfuse.get_prompt(NAME, cache_ttl_seconds=0)
    print(f"production runs v{served.version}: {served.compile(name='Ada')!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
