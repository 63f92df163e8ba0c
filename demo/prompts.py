"""Demo prompts, each with the history of versions its authors wrote."""


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
