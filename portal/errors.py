"""Domain errors. Services raise these; the web layers map them to responses in one place.

Every error carries a stable, machine-readable `code` (the `code` and the end of the `type`
of an API problem). The codes are the members of `ErrorCode`, nowhere spelled out again.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    # The families (each error class's default)
    ERROR = "error"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    CONFLICT = "conflict"
    GONE = "gone"
    INVALID = "invalid"
    # HTTP-level answers outside the domain (DRF's own codes keep DRF's names)
    BAD_REQUEST = "bad_request"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    CSRF_FAILED = "csrf_failed"
    DISALLOWED_HOST = "disallowed_host"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    # Answered by the proxy in front (README: "Errors: problem+json everywhere")
    URI_TOO_LONG = "uri_too_long"
    HEADERS_TOO_LARGE = "headers_too_large"
    BAD_GATEWAY = "bad_gateway"
    GATEWAY_TIMEOUT = "gateway_timeout"
    # Writes
    ALREADY_EXISTS = "already_exists"
    APPEND_ONLY = "append_only"
    IMMUTABLE = "immutable"
    UNCHANGED = "unchanged"
    CONCURRENT_WRITE = "concurrent_write"
    LAST_OWNER = "last_owner"
    SELF_DEACTIVATION = "self_deactivation"
    # Prompts, templates and rendering
    RETIRED = "retired"
    NOT_DEPLOYED = "not_deployed"
    TEMPLATE_SYNTAX = "template_syntax"
    INVALID_CHOICE = "invalid_choice"
    VARIABLES_MISMATCH = "variables_mismatch"
    INCLUDE_CYCLE = "include_cycle"
    INCLUDE_DEPTH = "include_depth"
    INCLUDE_NOT_DEPLOYED = "include_not_deployed"
    INCLUDE_PRIVATE = "include_private"
    RENDER_ERROR = "render_error"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    INVALID_TEXT = "invalid_text"
    UNDEFINED = "undefined"
    SANDBOX = "sandbox"
    # Promotions and rollback
    ALREADY_DEPLOYED = "already_deployed"
    ENVIRONMENT_ORDER = "environment_order"
    FOUR_EYES = "four_eyes"
    NOT_PREVIOUSLY_DEPLOYED = "not_previously_deployed"
    NOTHING_TO_ROLL_BACK_TO = "nothing_to_roll_back_to"
    # Experiments
    EXPERIMENT_RUNNING = "experiment_running"
    EXPERIMENT_NOT_RUNNING = "experiment_not_running"
    CONTROL_CHANGED = "control_changed"
    UNTESTED_VERSION = "untested_version"
    # Evaluations
    EVALUATION_GATE = "evaluation_gate"
    # A request that can no longer be decided, by its state
    REQUEST_APPROVED = "request_approved"
    REQUEST_APPLIED = "request_applied"
    REQUEST_REJECTED = "request_rejected"
    REQUEST_CANCELLED = "request_cancelled"
    REQUEST_SUPERSEDED = "request_superseded"
    REQUEST_EXPIRED = "request_expired"
    # Scoped API tokens (teams.scopes)
    TOKEN_SCOPE = "token_scope"


class DomainError(Exception):
    """Base of every business-rule failure."""

    code = ErrorCode.ERROR
    status = 400
    title = "Request failed"

    def __init__(
        self, detail: str, *, code: ErrorCode | None = None, extensions: dict | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions or {}
        if code:
            self.code = ErrorCode(code)


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403
    title = "Permission denied"


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    status = 409
    title = "Conflict"


class Gone(DomainError):
    code = ErrorCode.GONE
    status = 410
    title = "Gone"


class Invalid(DomainError):
    """Bad input. `errors` maps a field name to its messages."""

    code = ErrorCode.INVALID
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(detail, code=code)
        self.errors = {field: list(messages) for field, messages in (errors or {}).items()}

    @classmethod
    def field(cls, field: str, message: str, *, code: ErrorCode | None = None) -> "Invalid":
        return cls(message, errors={field: [message]}, code=code)
