"""Comparing finished reports: side by side (``conformance compare``) and the regression gate (``--baseline``).

Below reporting and above the statistics: it reads typed reports (:mod:`conformance.report`), asks
:mod:`conformance.stats` for the maths of a change, and hands values to the renderers of
:mod:`conformance.reporting.compare`, which compute nothing.

- :mod:`.values`: what comparing finds (figures, changes, tables, operating points, regressions);
  the only module the renderers import.
- :mod:`.changes`: when a change between two reports is beyond noise.
- :mod:`.reports`: :func:`~.reports.compare_reports` and :func:`~.reports.load_report`.
- :mod:`.points`: 1:1 comparison reports matched by operating point.
- :mod:`.gate`: :func:`~.gate.find_regressions` and :func:`~.gate.read_baseline`.

Nothing is imported here, so that a renderer importing :mod:`.values` loads no statistics.
"""
