"""The old name of :mod:`conformance.run.sharing`, which moved into the run's package (issue 18).

The run's context imported ``conformance.sharing``, which imported the run's cache back: one import
cycle through two packages. The module is the run's own now. Its tests and any code written against
the old name import ``conformance.sharing`` still: it is the same module object (its private names,
and the share a worker activated, included), not a copy.
"""

from __future__ import annotations

import sys

from .run import sharing as _moved

sys.modules[__name__] = _moved
