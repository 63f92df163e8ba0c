"""The offline `echo` provider: the output is the rendered prompt, as promptfoo's `echo`
provider returns it (`output: input`). promptfoo hands a chat prompt to its providers as the
JSON text of the messages (`JSON.stringify`: compact, non-ASCII as is); this does the same.
Tokens are estimated (about 4 characters per token, rounded up); the cost comes from the
model's prices (0 for `local`)."""

import json
import time

from prompts.evaluations.models import Model
from prompts.evaluations.providers.base import Completion, cost_usd, estimate_tokens


def prompt_text(rendered: str | list[dict]) -> str:
    """The text promptfoo would pass to a provider: the text itself, or the messages' JSON."""
    if isinstance(rendered, str):
        return rendered
    return json.dumps(rendered, ensure_ascii=False, separators=(",", ":"))


def complete(*, model: Model, rendered: str | list[dict], model_config: dict) -> Completion:
    started = time.perf_counter()
    text = prompt_text(rendered)
    input_tokens = output_tokens = estimate_tokens(text)
    latency_ms = (time.perf_counter() - started) * 1000
    return Completion(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=latency_ms,
        cost_usd=cost_usd(model=model, input_tokens=input_tokens, output_tokens=output_tokens),
    )
