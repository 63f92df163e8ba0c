"""What apps above `prompts.evaluations` may plug in (registered in their `AppConfig.ready`).

- `run_finished(run)`: inside the transaction that gave a run its final state (passed,
  failed, error or cancelled): the regression check, the promotion gate's re-evaluation.
"""

from portal.hooks import Hook

run_finished = Hook("run_finished")
