"""Issue a personal API token for a user; the secret is the last line printed."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.errors import DomainError
from teams.scopes import SCOPES
from teams.tokens import namespaces_named, personal_token_create


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (its last line)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="issued from the command line")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Default: never expires."
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=list(SCOPES),
            help="Limit the token to this scope (repeat for more). Default: no limit.",
        )
        parser.add_argument(
            "--namespace",
            action="append",
            dest="namespaces",
            default=[],
            help="With --scope: limit the token to this namespace (repeat for more).",
        )

    def handle(
        self,
        *args,
        username: str,
        name: str,
        expires_in_days: int | None,
        scopes: list[str] | None,
        namespaces: list[str],
        **options,
    ):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        expires_at = (
            timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
        )
        try:
            token, secret = personal_token_create(
                actor=user,
                name=name,
                expires_at=expires_at,
                scopes=scopes,
                namespaces=namespaces_named(actor=user, slugs=namespaces),
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write(
            f"Token {token.prefix} for {username}"
            + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "")
            + (f", scopes {' '.join(token.scopes)}" if token.scopes else "")
            + (f", namespaces {' '.join(namespaces)}" if namespaces else "")
            + ". It is shown once; only its hash is stored."
        )
        self.stdout.write(secret)
