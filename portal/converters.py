"""URL converters that only match what the identifiers can be (nothing reaches a query that
the database would reject, such as NUL characters)."""

from django.urls import register_converter


class TokenPrefixConverter:
    regex = "[A-Za-z0-9]{1,16}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class UsernameConverter(TokenPrefixConverter):
    regex = r"[\w.@+-]{1,150}"


register_converter(TokenPrefixConverter, "token")
register_converter(UsernameConverter, "username")
