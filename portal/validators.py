from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
SLUG_HELP = "2 to 63 characters: lowercase letters, digits and hyphens, starting with a letter."

slug_validator = RegexValidator(
    SLUG_PATTERN, message=f"Enter a valid slug. {SLUG_HELP}", code="invalid_slug"
)


def note_validator(value: str) -> None:
    """A description or other note: at most MAX_NOTE_BYTES of UTF-8."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > settings.MAX_NOTE_BYTES:
        raise ValidationError(
            f"This is {size} bytes; at most {settings.MAX_NOTE_BYTES} are allowed.",
            code="too_large",
        )
