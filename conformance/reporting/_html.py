"""What the HTML writers share: the Jinja2 environment, the one escape every value goes through, text formats.

report.html and ``conformance compare --html`` are rendered from the templates in ``templates/``
with the CSS of ``static/`` inlined (both shipped as package data, read with
:mod:`importlib.resources`), so a page is still one file that loads nothing from anywhere.

Every value a template places goes through :func:`escape`: autoescape is on, and the environment's
``finalize`` hook escapes each value itself so that it can also make control characters and bidi
overrides visible (:func:`conformance._text.printable`: a group named ``"\\u202eevil"`` reads
``\\u202eevil``, never ``live``). The hand-written SVG of :mod:`.svg` escapes with the same
function. Only the kit's own fragments are :class:`~markupsafe.Markup` (the charts, the inlined
CSS); nothing read from a report ever is.

The formats here return plain text, escaped where they are placed; jinja2 is imported when a page is
rendered, not when this module is.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeGuard

from markupsafe import Markup

from .._format import fixed, interval
from .._text import printable
from .._untrusted import finite_number
from .._wording import detectable_parts
from ..results import CheckResult, Comparison
from ._biometrics import Verdict, count_text, threshold_label

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "BADGES",
    "Code",
    "Small",
    "anchor",
    "badge_key",
    "comparison_label",
    "counted",
    "escape",
    "fixed",
    "interval",
    "is_num",
    "label",
    "level",
    "mapping",
    "otherwise",
    "p_value",
    "plain",
    "policy_number",
    "render",
    "seq",
    "stylesheet",
]

# The badge colour of each verdict a report may carry; the word is always written too.
BADGES = {
    "fail": "fail",
    "inconclusive": "inconclusive",
    "pass": "pass",
    "not applicable": "skip",
    "not run": "skip",
    "incomplete": "fail",  # a run with a planned check missing never passes
}


def escape(value: object) -> Markup:
    """``value`` as text safe in HTML content and in quoted attributes, its control and bidi characters visible.

    :class:`~markupsafe.Markup` (the kit's own fragments) passes unchanged.

    >>> escape('<b>"\\u202eevil"</b>')
    Markup('&lt;b&gt;&quot;\\\\u202eevil&quot;&lt;/b&gt;')
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(printable(str(value)), quote=True))


# -- table cells that are more than text ----------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """A cell or fact shown as code (ids, digests, adapter names)."""

    text: str


@dataclass(frozen=True)
class Small:
    """A cell or fact in small, muted type (a note standing in for a figure)."""

    text: str


# -- formats: plain text, escaped where placed ----------------------------------------------------------


def is_num(value: object) -> TypeGuard[float]:
    return finite_number(value)


def policy_number(value: object) -> str:
    """A tolerance or level as written in the policy (``0.05``, ``0.95``); ``n/a`` for none."""
    return f"{value:g}" if is_num(value) else str(value if value is not None else "n/a")


def p_value(value: object) -> str:
    return f"{value:.2g}" if is_num(value) else "n/a"


def level(value: float | None) -> str:
    """An interval's level: ``95%``, ``98.3%``; empty for none."""
    return "" if value is None else f"{value:.1%}".replace(".0%", "%")


def plain(value: object) -> str:
    """Any scalar or list from the report as text: yes/no for booleans, integral floats without decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.0f}" if value.is_integer() else f"{value:.3f}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value) or "none"
    return str(value)


def counted(value: object, noun: str) -> str:
    """``1 photo``, ``600 photos``; ``n/a photos`` when the report has no count."""
    return f"{plain(value)} {noun}" + ("" if value == 1 else "s")


def label(key: object) -> str:
    """A key of the report's JSON as a reader's label: ``record_mode`` reads ``record mode``."""
    return str(key).replace("_", " ")


def otherwise(value: object, default: str) -> object:
    """``default`` for a value the report leaves null (an empty string stays empty)."""
    return default if value is None else value


def badge_key(verdict: object) -> str:
    """The CSS class of a verdict's badge."""
    return BADGES.get(verdict, "unknown") if isinstance(verdict, str) else "unknown"


def comparison_label(comparison: Comparison) -> str:
    if comparison.reference == "none (ceiling)":
        return f"{comparison.group}: its rate against the ceiling"  # no gap: a rate and a limit (rt14f F7)
    if comparison.reference.startswith("none"):
        # "none (absolute)", "none (ceiling)": a group's figure against a limit, named by the limit's kind.
        return f"{comparison.group} ({comparison.reference.removeprefix('none (').rstrip(')') or 'absolute'})"
    return f"{comparison.group} vs {comparison.reference}"


def anchor(check: CheckResult) -> str:
    """A page-unique id for a check's section: matching checks appear once per threshold."""
    name = check.id if check.threshold is None else f"{check.id}-{check.threshold:g}"
    return "check-" + re.sub(r"[^A-Za-z0-9_.-]", "-", name)


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def seq(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


# -- the environment ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reporting", "templates"),
        autoescape=True,
        finalize=escape,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        fixed=fixed,
        interval=interval,
        g=policy_number,
        p=p_value,
        plain=plain,
        label=label,
        otherwise=otherwise,
        badge_key=badge_key,
        # Text only: the items are escaped (controls made visible) after joining, as any other value.
        join=lambda items, separator="": separator.join(str(item) for item in items),
        level=level,
        percent=lambda value, digits=0: f"{value:.{digits}%}",
    )
    environment.globals.update(
        anchor=anchor,
        count_text=count_text,
        counted=counted,
        comparison_label=comparison_label,
        threshold_label=threshold_label,
        detectable_parts=detectable_parts,  # the words every surface uses (conformance._wording)
    )
    environment.tests.update(
        verdict=lambda value: isinstance(value, Verdict),
        code=lambda value: isinstance(value, Code),
        small=lambda value: isinstance(value, Small),
        parts=lambda value: isinstance(value, tuple),
    )
    return environment


def render(template: str, **context: Any) -> str:
    """The page ``template`` (a file of ``templates/``) rendered with ``context``."""
    return _environment().get_template(template).render(**context)


def stylesheet(*names: str) -> Markup:
    """The CSS files ``names`` of ``static/``, joined for a page's ``<style>`` element (the kit's own text)."""
    folder = resources.files("conformance.reporting").joinpath("static")
    return Markup("".join(folder.joinpath(name).read_text(encoding="utf-8") for name in names))
