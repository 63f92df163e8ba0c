"""llm-rubric's judge: the model named in the assertion's `provider` (a registered model's
name), or else the run's own model, asked through `providers.complete` with JUDGE_PROMPT to
answer `{"score": 0..1, "reason": "..."}`. The judge's tokens and cost are not added to the
case's. On the `local` echo model the judge answers the grading prompt back, which is no JSON:
such an assertion fails, saying so. A judge that fails scores 0 with the provider's message."""

import json
from collections.abc import Callable

from prompts.evaluations.models import Case, Model
from prompts.evaluations.providers import complete
from prompts.evaluations.providers.base import ProviderError

JUDGE_PROMPT = (
    "You grade the output of a language model against a rubric. Answer with one JSON object "
    'and nothing else: {"score": <a number from 0 to 1>, "reason": "<one sentence>"}.'
)


def _provider(case: Case, rubric: str) -> str | None:
    """The `provider` of the case's llm-rubric assertion whose value is `rubric`."""
    for assertion in case.assertions:
        if not isinstance(assertion, dict) or not str(assertion.get("type", "")).endswith(
            "llm-rubric"
        ):
            continue
        value = assertion.get("value")
        if (value if isinstance(value, str) else json.dumps(value)) == rubric:
            provider = assertion.get("provider")
            return provider if isinstance(provider, str) else None
    return None


def judge_for(model: Model, judges: dict[str, Model]) -> Callable[..., tuple[float, str]]:
    """`judge(rubric, output, case) -> (score, reason)`: the case's llm-rubric assertion with
    this rubric names its judge in `provider`, else the run's model judges."""

    def judge(rubric: str, output: str, case: Case) -> tuple[float, str]:
        provider = _provider(case, rubric)
        chosen = judges.get(provider) if provider else model
        if chosen is None:
            return 0.0, f"No model named {provider!r} to judge with."
        messages = [
            {"role": "system", "content": JUDGE_PROMPT},
            {"role": "user", "content": f"Rubric:\n{rubric}\n\nOutput:\n{output}"},
        ]
        try:
            answer = complete(model=chosen, rendered=messages, model_config={"temperature": 0})
        except ProviderError as exc:
            return 0.0, f"The judge ({chosen.name}) failed: {exc}"
        try:
            text = answer.text
            verdict = json.loads(text[text.find("{") : text.rfind("}") + 1])  # fences allowed
            score = min(max(float(verdict["score"]), 0.0), 1.0)
            return score, str(verdict.get("reason", ""))
        except (ValueError, TypeError, KeyError):
            return 0.0, f"The judge ({chosen.name}) did not answer with the JSON asked for."

    return judge


def judge_models(cases: list[Case]) -> dict[str, Model]:
    names = {
        a["provider"]
        for case in cases
        for a in case.assertions
        if isinstance(a, dict) and isinstance(a.get("provider"), str)
    }
    return {m.name: m for m in Model.objects.filter(name__in=names)} if names else {}
