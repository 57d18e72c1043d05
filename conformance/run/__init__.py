"""One run of the kit: its inputs loaded once, and the calls to the analyzer that make its observations.

- :mod:`~conformance.run.context`: the run's context (dataset, analyzer, observations, policy,
  grouping), loaded once by the CLI or the plugin, and the checks' results worked out from it;
- :mod:`~conformance.run.runner`: an analyzer over a dataset, one observation per photo, and over
  transformed variants;
- :mod:`~conformance.run.matching`: a matcher over a dataset, every probe searched (1:N) or every
  photo compared (1:1); the values it produces are :mod:`conformance.matching`'s;
- :mod:`~conformance.run.execution`: where the calls run (executors, Dask), progress, the vocabulary
  contract and systematic failures;
- :mod:`~conformance.run.cache`: the sealed observation cache;
- :mod:`~conformance.run.sharing`: what the run's pytest-xdist workers work out once for all of them.

Nothing is imported here: each module loads when first used. Checks, adapters, reporting and the
data never import this package (docs/explanation/architecture.md).
"""
