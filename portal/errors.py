"""Domain errors. Services raise these; the web layers map them to responses in one place."""

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of every business-rule failure. `code` is stable and machine readable."""

    code = "error"
    status = 400
    title = "Request failed"

    def __init__(
        self, detail: str, *, code: str | None = None, extensions: dict | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions or {}
        if code:
            self.code = code


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    title = "Permission denied"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class Gone(DomainError):
    code = "gone"
    status = 410
    title = "Gone"


class Invalid(DomainError):
    """Bad input. `errors` maps a field name to its messages."""

    code = "invalid"
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail, code=code)
        self.errors = {field: list(messages) for field, messages in (errors or {}).items()}

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> "Invalid":
        return cls(message, errors={field: [message]}, code=code)
