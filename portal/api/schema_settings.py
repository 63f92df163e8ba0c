"""drf-spectacular's settings (portal.settings reads them from here): plain constants, no
imports, so loading the settings imports nothing of the API."""

API_SCHEMA_SETTINGS = {
    "TITLE": "Prompt governance portal API",
    "DESCRIPTION": (
        "Teams, namespaces, prompts with immutable versions, environments and access control. "
        "Authenticate with `Authorization: Bearer <token>` (personal or service token) or a "
        "portal session. Errors are RFC 9457 `application/problem+json`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The docs' assets come from our static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "teams.models.Membership.Role",
        "VisibilityEnum": "teams.models.Namespace.Visibility",
        "KindEnum": "prompts.models.Prompt.Kind",
        "StateEnum": "prompts.models.Prompt.State",
        "TemplateFormatEnum": "prompts.models.PromptVersion.TemplateFormat",
        "TokenKindEnum": "teams.models.ApiToken.Kind",
        "ArmEnum": "prompts.models.ARM_CHOICES",
    },
}
