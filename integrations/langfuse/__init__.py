"""Langfuse compatibility: what the `langfuse` SDK calls, served from the portal's own data and
governed by its rules (a label that needs approval becomes a promotion request)."""
