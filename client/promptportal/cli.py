"""The `promptportal` command: `snapshot` for deploys that start without the portal, `sync` for
prompts as code in CI. The portal and token come from --url/--token or PROMPT_PORTAL_URL and
PROMPT_PORTAL_TOKEN."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from promptportal import snapshot, sync
from promptportal.errors import PortalError


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("PROMPT_PORTAL_URL"))
    parser.add_argument("--token", default=os.environ.get("PROMPT_PORTAL_TOKEN"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptportal")
    commands = parser.add_subparsers(dest="command", required=True)

    take = commands.add_parser("snapshot", help="write an environment's prompts to a file")
    _connection(take)
    take.add_argument("--namespace", action="append", required=True, help="repeatable")
    take.add_argument("--environment", default="production")
    take.add_argument("--out", required=True, type=Path)

    files = commands.add_parser("sync", help="sync a folder of prompt files (prompts as code)")
    _connection(files)
    files.add_argument("directory", type=Path)
    files.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    files.add_argument("--promote", metavar="ENVIRONMENT", help="open promotion requests there")
    files.add_argument("--justification", default="")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.url or not args.token:
        print(
            "promptportal: give --url and --token (or PROMPT_PORTAL_URL and PROMPT_PORTAL_TOKEN)",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "snapshot":
            taken = snapshot.take(
                base_url=args.url,
                token=args.token,
                namespaces=args.namespace,
                environment=args.environment,
            )
            if not taken["entries"]:
                print(
                    f"promptportal: nothing to write: no prompt of {', '.join(args.namespace)} "
                    f"is deployed in {args.environment} (or the token cannot read them)",
                    file=sys.stderr,
                )
                return 1
            snapshot.write(taken, args.out)
            print(f"{len(taken['entries'])} prompts written to {args.out}", end="")
            print(
                f" ({len(taken['skipped'])} not deployed in {args.environment})"
                if taken["skipped"]
                else ""
            )
            return 0
        result = sync.sync(
            base_url=args.url,
            token=args.token,
            directory=args.directory,
            dry_run=args.dry_run,
            promote=args.promote,
            justification=args.justification,
        )
        print("\n".join(sync.report_lines(result)))
        return 0 if result.get("ok") else 1  # an invalid file or a refused promotion
    except (PortalError, OSError) as exc:
        print(f"promptportal: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
