"""Django REST framework's settings (portal.settings reads them from here): plain constants
and the environment, no imports of the API, so loading the settings imports nothing of it."""

import os

API_SETTINGS = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.authentication.BearerTokenAuthentication",
        "portal.api.authentication.SessionAuthentication",
    ],
    # Deny by default: a signed-in person. Endpoints that service tokens may read opt in.
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.IsPerson"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 50,
    # Per caller (portal.api.throttles); the portal's render preview counts in "render" too.
    "DEFAULT_THROTTLE_RATES": {
        "render": os.environ.get("RENDER_RATE", "600/min"),
        "login": os.environ.get("LOGIN_RATE", "30/min"),  # sign-in POSTs per address
    },
    # `?format=` is ours (audit export), not a renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
