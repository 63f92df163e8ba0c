"""Import prompts from Langfuse (its public API, or an export file) as a named user."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.importers.langfuse import (
    SourceError,
    import_prompts,
    read_api,
    read_export,
    report_lines,
)
from teams.models import Team


class Command(BaseCommand):
    help = (
        "Import every prompt of a Langfuse instance (--url with --public-key and --secret-key) "
        "or of an export file (--file) as --as USERNAME: namespaces, prompts, every version, "
        "and labels (a deployment, or a promotion request where the environment needs "
        "approval). Safe to run again. Exits 1 if any prompt or label failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True, help="Who makes the change.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--url", help="The Langfuse base URL (https://cloud.langfuse.com).")
        source.add_argument("--file", type=Path, help="A JSON export (docs/langfuse.md).")
        parser.add_argument("--public-key", default="", help="Langfuse public key (pk-lf-…).")
        parser.add_argument("--secret-key", default="", help="Langfuse secret key (sk-lf-…).")
        parser.add_argument("--team", help="The team that owns namespaces the import creates.")
        parser.add_argument(
            "--namespace", help="Where prompts without a Langfuse folder go (namespace slug)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only.")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        team = None
        if options["team"]:
            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                raise CommandError(f"No team {options['team']!r}.")
        try:
            if options["url"]:
                if not (options["public_key"] and options["secret_key"]):
                    raise CommandError("--url needs --public-key and --secret-key.")
                origin = options["url"]
                prompts = read_api(origin, options["public_key"], options["secret_key"])
            else:
                origin = options["file"].name
                prompts = read_export(options["file"])
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        report = import_prompts(
            actor=user,
            prompts=prompts,
            origin=origin,
            team=team,
            default_namespace=options["namespace"],
            dry_run=options["dry_run"],
        )
        self.stdout.write("\n".join(report_lines(report)))
        if not report.ok:
            raise CommandError("Some prompts or labels were not imported (see above).")
