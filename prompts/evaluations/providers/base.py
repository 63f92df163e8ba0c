"""What every provider returns and raises."""

import math
from dataclasses import dataclass
from decimal import Decimal

from prompts.evaluations.models import Model

# Chars per token for an estimate where no tokenizer answers (OpenAI's rule of thumb).
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float


class ProviderError(Exception):
    """A call failed (after its retries). The message is safe to show: it never holds a key."""


def estimate_tokens(text: str) -> int:
    """About 4 characters per token, rounded up (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def cost_usd(*, model: Model, input_tokens: int, output_tokens: int) -> float:
    """Tokens × the model's price per million tokens, in and out."""
    total = Decimal(input_tokens) * Decimal(model.price_in_per_million) + Decimal(
        output_tokens
    ) * Decimal(model.price_out_per_million)
    return float(total / Decimal(1_000_000))
