"""Demo teams, namespaces, prompts with history and deployments. Safe to run again."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from approvals.services import promotion_request
from prompts.models import Environment, Prompt
from prompts.services import deployment_set, prompt_create, version_create
from teams.models import Namespace, Team
from teams.services import (
    membership_set,
    namespace_create,
    promotion_right_grant,
    team_create,
)

DEMO_PASSWORD = "demo"

TEAMS = [
    (
        "customer-support",
        "Customer Support",
        "Prompts that answer customers.",
        [("alice", "owner"), ("bob", "maintainer"), ("carol", "viewer")],
    ),
    (
        "search",
        "Search & Ranking",
        "Query understanding and ranking prompts.",
        [("dave", "owner"), ("erin", "maintainer")],
    ),
    (
        "platform",
        "ML Platform",
        "Shared building blocks for every team.",
        [("frank", "owner"), ("grace", "maintainer"), ("alice", "viewer")],
    ),
]

NAMESPACES = [
    ("support", "customer-support", "internal", "Customer-facing support replies."),
    ("support-escalations", "customer-support", "private", "Escalation handling; team only."),
    ("search-ranking", "search", "internal", "Query rewriting and result ranking."),
    ("platform-tools", "platform", "internal", "Summaries, classification, extraction."),
]


def _text(template, variables, model_config, message, template_format="mustache"):
    return {
        "template": template,
        "variables": variables,
        "model_config": model_config,
        "message": message,
        "template_format": template_format,
    }


def _chat(messages, variables, model_config, message):
    return {
        "messages": [{"role": role, "content": content} for role, content in messages],
        "variables": variables,
        "model_config": model_config,
        "message": message,
    }


GPT = {"model": "gpt-4o-mini", "temperature": 0.2}
CLAUDE = {"model": "claude-sonnet", "temperature": 0.3, "max_tokens": 800}

# (namespace, name, kind, description, tags, [(author, version kwargs), ...])
PROMPTS = [
    (
        "support",
        "refund-reply",
        "chat",
        "Answers refund requests within policy.",
        ["customer-facing", "refunds"],
        [
            (
                "bob",
                _chat(
                    [
                        ("system", "You are a polite support agent for {{company}}."),
                        ("user", "Customer message: {{message}}"),
                    ],
                    ["company", "message"],
                    GPT,
                    "First draft",
                ),
            ),
            (
                "alice",
                _chat(
                    [
                        (
                            "system",
                            "You are a polite support agent for {{company}}. "
                            "Refunds are allowed within {{refund_days}} days.",
                        ),
                        ("user", "Customer message: {{message}}"),
                    ],
                    ["company", "message", "refund_days"],
                    GPT,
                    "State the refund window",
                ),
            ),
            (
                "bob",
                _chat(
                    [
                        (
                            "system",
                            "You are a polite, concise support agent for {{company}}. "
                            "Refunds are allowed within {{refund_days}} days. "
                            "Never promise a refund outside the window.",
                        ),
                        ("user", "Customer message: {{message}}"),
                    ],
                    ["company", "message", "refund_days"],
                    {**GPT, "temperature": 0.1},
                    "Forbid promises outside policy; lower temperature",
                ),
            ),
        ],
    ),
    (
        "support",
        "greeting",
        "text",
        "Opening line of a support chat.",
        ["customer-facing"],
        [
            ("bob", _text("Hello {{name}}, how can I help you today?", ["name"], GPT, "Initial")),
            (
                "alice",
                _text(
                    "Hi {{name}}! Thanks for contacting {{company}}. How can I help?",
                    ["company", "name"],
                    GPT,
                    "Mention the company",
                ),
            ),
        ],
    ),
    (
        "support",
        "ticket-summary",
        "text",
        "Summarises a ticket thread for handover.",
        ["summaries"],
        [
            (
                "bob",
                _text(
                    "Summarise this support ticket in 3 bullet points:\n{{thread}}",
                    ["thread"],
                    GPT,
                    "Initial",
                ),
            ),
            (
                "bob",
                _text(
                    "Summarise this support ticket in 3 bullet points. End with the "
                    "customer's sentiment.\n{{thread}}",
                    ["thread"],
                    GPT,
                    "Add sentiment",
                ),
            ),
            (
                "alice",
                _text(
                    "Summarise this support ticket for a colleague taking over.\n"
                    "- 3 bullet points\n- the customer's sentiment\n- the next action\n\n"
                    "{{thread}}",
                    ["thread"],
                    CLAUDE,
                    "Handover format; move to Claude",
                ),
            ),
        ],
    ),
    (
        "support-escalations",
        "legal-escalation",
        "chat",
        "Flags messages that need legal.",
        ["compliance"],
        [
            (
                "alice",
                _chat(
                    [
                        (
                            "system",
                            "Decide whether a message needs the legal team. "
                            "Answer YES or NO and one sentence why.",
                        ),
                        ("user", "{{message}}"),
                    ],
                    ["message"],
                    CLAUDE,
                    "Initial",
                ),
            ),
            (
                "bob",
                _chat(
                    [
                        (
                            "system",
                            "Decide whether a message needs the legal team "
                            "(threats of legal action, data-protection requests, "
                            "regulators). Answer YES or NO and one sentence why.",
                        ),
                        ("user", "{{message}}"),
                    ],
                    ["message"],
                    CLAUDE,
                    "List the triggers",
                ),
            ),
        ],
    ),
    (
        "search-ranking",
        "query-rewrite",
        "text",
        "Rewrites user queries for retrieval.",
        ["retrieval"],
        [
            (
                "erin",
                _text(
                    "Rewrite the search query for a product catalogue: {{query}}",
                    ["query"],
                    GPT,
                    "Initial",
                ),
            ),
            (
                "dave",
                _text(
                    "Rewrite the search query for a product catalogue. Keep brand names. "
                    "Query: {{query}}",
                    ["query"],
                    GPT,
                    "Keep brands",
                ),
            ),
            (
                "erin",
                _text(
                    "Rewrite the search query for a product catalogue in {{locale}}. "
                    "Keep brand names and sizes. Query: {{query}}",
                    ["locale", "query"],
                    GPT,
                    "Locale aware",
                ),
            ),
            (
                "erin",
                _text(
                    "Rewrite the search query for a product catalogue in {{locale}}. "
                    "Keep brand names, sizes and colours. Output one line. "
                    "Query: {{query}}",
                    ["locale", "query"],
                    {**GPT, "temperature": 0.0},
                    "Deterministic single line",
                ),
            ),
        ],
    ),
    (
        "search-ranking",
        "relevance-judge",
        "chat",
        "LLM-as-judge for result relevance.",
        ["evaluation"],
        [
            (
                "dave",
                _chat(
                    [
                        ("system", "Rate how relevant a result is to a query from 0 to 3."),
                        ("user", "Query: {{query}}\nResult: {{result}}"),
                    ],
                    ["query", "result"],
                    CLAUDE,
                    "Initial",
                ),
            ),
            (
                "erin",
                _chat(
                    [
                        (
                            "system",
                            "Rate how relevant a result is to a query: 0 irrelevant, "
                            "1 related, 2 relevant, 3 exact. Answer with the digit.",
                        ),
                        ("user", "Query: {{query}}\nResult: {{result}}"),
                    ],
                    ["query", "result"],
                    CLAUDE,
                    "Define the scale",
                ),
            ),
        ],
    ),
    (
        "search-ranking",
        "facet-extract",
        "text",
        "Extracts facets from a query (Jinja2).",
        ["retrieval", "extraction"],
        [
            (
                "erin",
                _text(
                    "Extract facets as JSON from: {{ query }}", ["query"], GPT, "Initial", "jinja2"
                ),
            ),
            (
                "erin",
                _text(
                    "Extract facets as JSON from: {{ query }}\n"
                    "{% if facets %}Allowed facets: {{ facets | join(', ') }}{% endif %}",
                    ["facets", "query"],
                    GPT,
                    "Restrict facets",
                    "jinja2",
                ),
            ),
        ],
    ),
    (
        "platform-tools",
        "summarize",
        "text",
        "General-purpose summary.",
        ["summaries"],
        [
            (
                "grace",
                _text("Summarise in {{words}} words:\n{{text}}", ["text", "words"], GPT, "Initial"),
            ),
            (
                "frank",
                _text(
                    "Summarise the text below in at most {{words}} words. Keep numbers "
                    "exact.\n\n{{text}}",
                    ["text", "words"],
                    GPT,
                    "Keep numbers exact",
                ),
            ),
            (
                "grace",
                _text(
                    "Summarise the text below in at most {{words}} words for "
                    "{{audience}}. Keep numbers exact.\n\n{{text}}",
                    ["audience", "text", "words"],
                    CLAUDE,
                    "Audience; Claude",
                ),
            ),
        ],
    ),
    (
        "platform-tools",
        "classify-intent",
        "chat",
        "Classifies a message into an intent.",
        ["classification"],
        [
            (
                "grace",
                _chat(
                    [
                        ("system", "Classify the intent as one of: {{labels}}."),
                        ("user", "{{message}}"),
                    ],
                    ["labels", "message"],
                    GPT,
                    "Initial",
                ),
            ),
            (
                "grace",
                _chat(
                    [
                        (
                            "system",
                            "Classify the intent as exactly one of: {{labels}}. "
                            "Answer with the label only.",
                        ),
                        ("user", "{{message}}"),
                    ],
                    ["labels", "message"],
                    {**GPT, "temperature": 0.0},
                    "Label only, temperature 0",
                ),
            ),
        ],
    ),
    (
        "platform-tools",
        "pii-redact",
        "text",
        "Redacts personal data before logging.",
        ["compliance"],
        [
            (
                "frank",
                _text(
                    "Replace names, emails and phone numbers with [REDACTED]:\n{{text}}",
                    ["text"],
                    GPT,
                    "Initial",
                ),
            ),
            (
                "grace",
                _text(
                    "Replace names, emails, phone numbers, addresses and card numbers "
                    "with [REDACTED]. Change nothing else.\n{{text}}",
                    ["text"],
                    GPT,
                    "More categories",
                ),
            ),
        ],
    ),
]


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
                f"({created} new)."
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
