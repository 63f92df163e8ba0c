"""Providers: `complete(model=, rendered=, model_config=)` runs a rendered prompt (a text, or
chat messages `[{role, content}]`) on a registered model and returns a `Completion`, or
raises `ProviderError` (its message safe to show)."""

from prompts.evaluations.models import Model
from prompts.evaluations.providers import echo, openai_compatible
from prompts.evaluations.providers.base import Completion, ProviderError

__all__ = ["Completion", "ProviderError", "complete"]

PROVIDERS = {
    Model.Provider.ECHO: echo.complete,
    Model.Provider.OPENAI: openai_compatible.complete,
}


def complete(*, model: Model, rendered: str | list[dict], model_config: dict) -> Completion:
    provider = PROVIDERS.get(model.provider)
    if provider is None:
        raise ProviderError(f"The model {model.name} has an unknown provider {model.provider!r}.")
    return provider(model=model, rendered=rendered, model_config=model_config or {})
