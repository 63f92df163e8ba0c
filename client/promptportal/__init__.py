"""Client for the prompt governance portal.

from promptportal import Portal

portal = Portal("https://prompts.example.com", token)  # or PROMPT_PORTAL_URL / _TOKEN
prompt = portal.get("support/refund-reply", subject=user_id)
text = prompt.render(customer="Ada", amount="€12")
with portal.measure(prompt) as call:
    reply = llm(text)
    call.output_tokens = reply.tokens
"""

from promptportal.aio import AsyncPortal
from promptportal.errors import (
    AccessDenied,
    PortalError,
    PromptNotFound,
    PromptRetired,
    PromptUnavailable,
    RenderError,
)
from promptportal.portal import Portal
from promptportal.prompt import ResolvedPrompt

__all__ = [
    "AccessDenied",
    "AsyncPortal",
    "Portal",
    "PortalError",
    "PromptNotFound",
    "PromptRetired",
    "PromptUnavailable",
    "RenderError",
    "ResolvedPrompt",
]
