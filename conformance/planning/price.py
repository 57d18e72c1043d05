"""What an image sent to the vendor costs: the plan's price and the list price it defaults to.

The one definition is the leaf :mod:`conformance._defaults` (the option table reads it without loading the
planner); the planner's modules import it from here.
"""

from __future__ import annotations

from .._defaults import DEFAULT_PRICE, Price

__all__ = ["DEFAULT_PRICE", "Price"]
