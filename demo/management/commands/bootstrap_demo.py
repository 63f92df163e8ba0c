"""Demo teams, namespaces, prompts with history and deployments, call events, a running
experiment and an evaluation suite with its runs. Safe to run again."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from approvals.services import promotion_request, promotion_right_grant
from demo import CONTACTS, DEMO_PASSWORD, NAMESPACES, PROMPTS, TEAMS
from demo.calls import seed_calls
from demo.evaluations import seed_evaluations
from prompts.models import Environment, Prompt
from prompts.services import deployment_set, prompt_create, version_create
from teams.models import Namespace, Team
from teams.services import membership_set, namespace_create, team_create, team_update


class Command(BaseCommand):
    help = "Create demo teams, namespaces, prompts, versions and deployments (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            admin_password = self._admin()
            admin = get_user_model().objects.get(username="admin")
            users, created_passwords = self._users()
            teams = self._teams(admin, users)
            namespaces = self._namespaces(admin, teams)
            self._promotion_rights(admin, namespaces, teams, users)
            created = self._prompts(admin, namespaces, users)
            calls = seed_calls(admin=admin, users=users)
            runs = seed_evaluations(users=users)
        if admin_password:
            self.stdout.write(f"Created superuser: admin / {admin_password}")
        else:
            self.stdout.write("Superuser 'admin' already exists; password unchanged.")
        for username, password in created_passwords.items():
            self.stdout.write(f"Created demo user: {username} / {password}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Team.objects.count()} teams, "
                f"{Namespace.objects.count()} namespaces, {Prompt.objects.count()} prompts "
                f"({created} new), {calls} new call events, {runs} new evaluation runs."
            )
        )

    def _password(self, embedded_default: str) -> str:
        return embedded_default if settings.EMBEDDED else secrets.token_urlsafe(16)

    def _admin(self) -> str | None:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return None
        password = self._password("admin")
        User.objects.create_superuser("admin", "admin@example.com", password)
        return password

    def _users(self) -> tuple[dict, dict[str, str]]:
        User = get_user_model()
        users, created_passwords = {}, {}
        usernames = sorted({name for *_, members in TEAMS for name, _ in members})
        for username in usernames:
            user = User.objects.filter(username=username).first()
            if user is None:
                password = self._password(DEMO_PASSWORD)
                user = User.objects.create_user(
                    username, f"{username}@example.com", password, first_name=username.title()
                )
                created_passwords[username] = password
            users[username] = user
        return users, created_passwords

    def _teams(self, admin, users):
        teams = {}
        for slug, name, description, members in TEAMS:
            team = Team.objects.filter(slug=slug).first() or team_create(
                actor=admin, slug=slug, name=name, description=description
            )
            for username, role in members:
                if not team.memberships.filter(user=users[username]).exists():
                    membership_set(actor=admin, team=team, user=users[username], role=role)
            if not team.contact_email and slug in CONTACTS:
                email, channel = CONTACTS[slug]
                team = team_update(
                    actor=admin, team=team, contact_email=email, contact_channel=channel
                )
            teams[slug] = team
        return teams

    def _namespaces(self, admin, teams):
        namespaces = {}
        for slug, team_slug, visibility, description in NAMESPACES:
            namespaces[slug] = Namespace.objects.filter(slug=slug).first() or namespace_create(
                actor=admin,
                slug=slug,
                team=teams[team_slug],
                description=description,
                visibility=visibility,
            )
        return namespaces

    def _promotion_rights(self, admin, namespaces, teams, users) -> None:
        """Staging: the owning team. Production: its owner and the ML Platform reviewers."""
        environments = {env.slug: env for env in Environment.objects.all()}
        for namespace in namespaces.values():
            team = teams[namespace.team.slug]
            owners = [
                username
                for slug, *_, members in TEAMS
                if slug == team.slug
                for username, role in members
                if role == "owner"
            ]
            grants = [("staging", {"team": team})]
            grants += [
                ("production", {"user": users[name]}) for name in {*owners, "frank", "grace"}
            ]
            for environment, holder in grants:
                if environment in environments:
                    promotion_right_grant(
                        actor=admin,
                        namespace=namespace,
                        environment=environments[environment],
                        **holder,
                    )

    def _prompts(self, admin, namespaces, users) -> int:
        environments = list(Environment.objects.order_by("order"))
        created = 0
        for namespace_slug, name, kind, description, tags, versions in PROMPTS:
            namespace = namespaces[namespace_slug]
            if Prompt.objects.filter(namespace=namespace, name=name).exists():
                continue
            prompt = prompt_create(
                actor=admin,
                namespace=namespace,
                name=name,
                kind=kind,
                description=description,
                tags=tags,
            )
            made = [
                version_create(prompt=prompt, author=users[author], **kwargs)
                for author, kwargs in versions
            ]
            # Each later environment runs an older version, as after a real promotion history.
            for index, environment in enumerate(environments):
                version = made[max(0, len(made) - 1 - index)]
                deployment_set(
                    action="deployment.seeded",
                    prompt=prompt,
                    environment=environment,
                    version=version,
                    actor=admin,
                )
            created += 1
        if created:
            self._pending_requests(users)
        return created

    def _pending_requests(self, users) -> None:
        """Something for the reviewers' inboxes: support/refund-reply v3 waits for staging
        (alice or carol may approve), v2 for production (frank and grace may approve)."""
        prompt = Prompt.objects.get(namespace__slug="support", name="refund-reply")
        environments = {env.slug: env for env in Environment.objects.all()}
        for requester, number, environment, why in (
            ("bob", 3, "staging", "Stop promising refunds outside the policy window."),
            ("alice", 2, "production", "State the refund window; reviewed in staging."),
        ):
            if environment in environments:
                promotion_request(
                    actor=users[requester],
                    prompt=prompt,
                    version=prompt.versions.get(number=number),
                    environment=environments[environment],
                    justification=why,
                )
