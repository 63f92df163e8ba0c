"""Prompts as code: sync a folder of prompt files into the portal, as a named user."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from approvals.sync import SyncReport, prompts_sync, read_folder
from portal.errors import DomainError


def report_lines(report: SyncReport) -> list[str]:
    """One line per file (and per problem, suite and promotion), then the summary."""
    lines = []
    for result in report.results:
        what = result.prompt or ""
        if result.status == "created":
            what += f" v{result.version}"
        elif result.status == "updated":
            what += f" ({', '.join(result.changes)})"
            if "version" in result.changes:
                what += f" v{result.previous_version} → v{result.version}"
        lines.append(f"{result.status:<9} {result.path}  {what}".rstrip())
        for field, messages in result.errors.items():
            lines += [f"          {field}: {message}" for message in messages]
        for suite in result.suites:
            lines.append(f"          suite {suite['name']}: {suite['status']}")
        if result.promotion:
            lines.append(f"          promotion: {_promotion(result.promotion)}")
    summary = report.summary
    lines.append(
        ("Dry run (nothing changed): " if report.dry_run else "")
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in summary.items())
        + "."
    )
    return lines


def _promotion(promotion: dict) -> str:
    text = f"v{promotion['version']} to {promotion['environment']}: {promotion['status']}"
    if promotion.get("request"):
        text += f" (request #{promotion['request']}"
        if promotion.get("opened"):
            text += f", {promotion['required_approvals']} approvals needed"
        text += ")"
    if promotion.get("error"):
        text += f": {promotion['error']}"
    return text


class Command(BaseCommand):
    help = (
        "Sync DIR's prompt files (one YAML file per prompt, promptfoo suites beside them) into "
        "the portal as --as USERNAME. Exits 1 if a file is invalid or a promotion failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--as", dest="username", required=True, help="Who makes the change.")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only.")
        parser.add_argument("--promote", metavar="ENV", help="Open promotion requests for ENV.")
        parser.add_argument("--justification", default="", help="Why (required with --promote).")

    def handle(self, *args, directory: Path, username: str, dry_run: bool, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a folder.")
        try:
            report = prompts_sync(
                actor=user,
                files=read_folder(directory),
                dry_run=dry_run,
                promote=options["promote"],
                justification=options["justification"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write("\n".join(report_lines(report)))
        if not report.ok:
            raise CommandError("Some files were not synced (see above).", returncode=1)
