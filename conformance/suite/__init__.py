"""The built-in conformance suite: ``pytest --pyargs conformance.suite`` (what ``conformance run`` runs).

Each check of :mod:`conformance.checks` is one test, marked ``conformance(check_id)``, so
``--conformance-checks`` (or ``-k``) selects among them.
"""
