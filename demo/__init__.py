"""The demo portfolio that `bootstrap_demo` loads."""

from demo.organisation import CONTACTS, DEMO_PASSWORD, NAMESPACES, TEAMS
from demo.prompts import PROMPTS

__all__ = ["CONTACTS", "DEMO_PASSWORD", "NAMESPACES", "PROMPTS", "TEAMS"]
