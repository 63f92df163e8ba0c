"""Reading settings from the environment: flags, lists and the audit chain's keys. Used by
portal/settings.py; nothing here imports Django's settings."""

import os
import re

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def audit_chain_key(value: str, name: str) -> tuple[str, str]:
    key_id, _, secret = value.strip().partition(":")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", key_id) or len(secret) < 32:
        raise ImproperlyConfigured(
            f"{name} must be '<key-id>:<secret>': a key id of at most 32 letters, digits, '.', "
            "'_' or '-', and a secret of at least 32 characters without commas."
        )
    return key_id, secret


def audit_chain_keys(debug: bool) -> tuple[str, dict[str, str]]:
    """The key that seals new audit entries (its id) and every key that verifies entries."""
    keys = dict(
        audit_chain_key(value, "AUDIT_CHAIN_OLD_KEYS")
        for value in env_list("AUDIT_CHAIN_OLD_KEYS", [])
    )
    if os.environ.get("AUDIT_CHAIN_KEY"):
        key_id, secret = audit_chain_key(os.environ["AUDIT_CHAIN_KEY"], "AUDIT_CHAIN_KEY")
    elif debug:
        key_id, secret = "dev", "insecure-embedded-development-audit-key-never-in-production"
    else:
        raise ImproperlyConfigured(
            "AUDIT_CHAIN_KEY is not set. Set it to '<key-id>:<secret>', the key that seals audit "
            "entries: an id such as k1, a colon, and a long random secret (for example from "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'), or set DEBUG=1 for "
            "local development only."
        )
    if keys.setdefault(key_id, secret) != secret:
        raise ImproperlyConfigured(
            f"AUDIT_CHAIN_OLD_KEYS holds key id '{key_id}' with another secret than "
            "AUDIT_CHAIN_KEY."
        )
    return key_id, keys
