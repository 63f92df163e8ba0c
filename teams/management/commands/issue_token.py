"""Issue a personal API token for a user; the secret is the last line printed."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.errors import DomainError
from teams.tokens import personal_token_create


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (its last line)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="issued from the command line")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Default: never expires."
        )

    def handle(self, *args, username: str, name: str, expires_in_days: int | None, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        expires_at = (
            timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
        )
        try:
            token, secret = personal_token_create(actor=user, name=name, expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write(
            f"Token {token.prefix} for {username}"
            + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "")
            + ". It is shown once; only its hash is stored."
        )
        self.stdout.write(secret)
