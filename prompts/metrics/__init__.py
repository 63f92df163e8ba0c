"""Call events, their hourly rollups and the metrics read from them (sub-app, label `metrics`).

Reads for other modules go through `prompts.metrics.selectors.metrics_for` (its docstring is the
contract); writes through `prompts.metrics.services`.
"""
