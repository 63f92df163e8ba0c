"""Write the portal's prompts as prompts-as-code files (what prompts_sync reads)."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from approvals.sync import prompts_export, write_folder


class Command(BaseCommand):
    help = (
        "Write every prompt's newest version (and its suites) under DIR as "
        "<namespace>/<name>.yaml; syncing DIR back changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--namespace", action="append", default=[], help="Only this namespace (repeatable)."
        )
        parser.add_argument(
            "--as", dest="username", help="Only what this user may read (default: everything)."
        )

    def handle(self, *args, directory: Path, namespace: list[str], username: str | None, **_):
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user named {username!r}.")
        files = prompts_export(actor=actor, namespaces=namespace)
        write_folder(directory, files)
        prompts = sum(1 for file in files if not file.path.endswith(".promptfoo.yaml"))
        self.stdout.write(f"Wrote {prompts} prompts ({len(files)} files) to {directory}.")
