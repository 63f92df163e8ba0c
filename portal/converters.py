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


def version_number(text: str | None) -> int | None:
    """A version number as a query parameter gives it (ASCII digits, 1 to 2**31 - 1), or None.
    `str.isdigit` alone also accepts digits such as "²" that `int` refuses."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number < 2**31 else None


register_converter(TokenPrefixConverter, "token")
register_converter(UsernameConverter, "username")
