"""Demo teams (with their members) and namespaces."""

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

# How to reach each team about its prompts (shown under "owned by").
CONTACTS = {
    "customer-support": ("support-prompts@example.com", "#support-prompts"),
    "search": ("search-ranking@example.com", "#search-quality"),
    "platform": ("ml-platform@example.com", "#ml-platform"),
}

NAMESPACES = [
    ("support", "customer-support", "internal", "Customer-facing support replies."),
    ("support-escalations", "customer-support", "private", "Escalation handling; team only."),
    ("search-ranking", "search", "internal", "Query rewriting and result ranking."),
    ("platform-tools", "platform", "internal", "Summaries, classification, extraction."),
]
