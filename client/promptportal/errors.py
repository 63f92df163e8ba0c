"""What the client raises. Every error is a `PortalError`; the caller's request path only sees
one when nothing at all is known about the prompt, or when the portal said it must not be
served (not found, retired, access taken away)."""


class PortalError(Exception):
    """Base of everything the client raises."""


class PromptUnavailable(PortalError):
    """The portal could not be reached (or failed) and no copy of the prompt is known."""


class PromptNotFound(PortalError):
    """The portal answered 404: no such prompt, not deployed there, or not visible to the token.
    A cached copy is dropped."""


class PromptRetired(PortalError):
    """The portal answered 410: the prompt is retired. `successor` names its replacement."""

    def __init__(self, message: str, successor: str | None = None) -> None:
        super().__init__(message)
        self.successor = successor


class AccessDenied(PortalError):
    """The portal answered 401 or 403: the token is unknown, revoked, expired or lacks the
    scope. Every cached copy the token read is dropped."""


class RenderError(PortalError):
    """The variables do not match the prompt's, or the template failed to render."""
