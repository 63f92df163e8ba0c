"""The gate's "Run what is missing": start the runs a promotion's gate still waits for."""

from prompts.evaluations import runs
from prompts.evaluations.gate import gate_state
from prompts.evaluations.models import Run
from prompts.models import Environment, Prompt, PromptVersion
from teams.permissions import Principal


def gate_run_missing(
    *, actor: Principal, prompt: Prompt, version: PromptVersion, environment: Environment
) -> list[Run]:
    """Start (trigger "gate") a run of every suite the gate still waits for and that is not
    running already. `runs.run_create` checks the actor's right and queues each run."""
    state = gate_state(prompt=prompt, version=version, environment=environment)
    return [
        runs.run_create(
            actor=actor,
            prompt=prompt,
            version=version,
            suite=suite.suite,
            model=state.model,
            trigger=Run.Trigger.GATE,
        )
        for suite in state.runnable
    ]
