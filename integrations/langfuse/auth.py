"""HTTP Basic as the `langfuse` SDK sends it: the public key (username) is our token's prefix
and the secret key (password) is the token itself. Personal and service tokens alike, with the
scopes and namespace limits of our own API: after the Basic header is read, everything is
`teams.authentication`'s bearer path."""

import base64
import binascii

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from teams.authentication import BearerTokenAuthentication, record_failure

WRONG = "The public key must be the token's prefix and the secret key the token itself."


def basic_credentials(request) -> tuple[str, str] | None:
    """(username, password) of a Basic header, or None when the header is not Basic."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    username, _, password = decoded.partition(":")
    return username, password


class LangfuseBasicAuthentication(BearerTokenAuthentication):
    """`Authorization: Basic base64(prefix:token)`; a Bearer token is accepted too."""

    def authenticate(self, request: Request):
        credentials = basic_credentials(request)
        if credentials is None:
            return super().authenticate(request)
        public_key, secret = credentials
        if not secret or secret.partition(".")[0] != public_key:
            record_failure(request)
            raise exceptions.AuthenticationFailed(WRONG)
        return self.authenticate_secret(request, secret)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="langfuse"'


class LangfuseBasicScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.langfuse.auth.LangfuseBasicAuthentication"
    name = "langfuseBasic"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "As the langfuse SDK sends it: public key = the token's prefix, "
            "secret key = the token (personal or service).",
        }
