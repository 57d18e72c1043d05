"""One run of the kit: its inputs loaded once, and the analyzer's calls that make its observations.

- :mod:`~conformance.run.context`: the run's context (dataset, analyzer, observations, policy,
  grouping), loaded once by the CLI or the plugin, and the checks' results worked out from it.

Nothing is imported here: each module loads when first used.
"""
