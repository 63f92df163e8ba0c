from django.core.validators import RegexValidator

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
SLUG_HELP = "2 to 63 characters: lowercase letters, digits and hyphens, starting with a letter."

slug_validator = RegexValidator(
    SLUG_PATTERN, message=f"Enter a valid slug. {SLUG_HELP}", code="invalid_slug"
)
