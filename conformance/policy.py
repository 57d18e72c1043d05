"""Policy: tolerances, confidence and what an inconclusive verdict means, from TOML.

Read from ``[tool.conformance]`` in the project's ``pyproject.toml``, or the same table in a file
given with ``--policy FILE`` (a file with a top-level table works too)::

    [tool.conformance]
    profile = "procurement"        # start from a named profile: default, ci, procurement
    confidence = 0.95              # interval level (0.5 to 0.9999); each verdict direction errs at most (1 - confidence)/2
    inconclusive = "fail"          # how pytest treats inconclusive: fail, xfail or pass
    min_subjects = 30              # a group with fewer subjects cannot pass or fail
    interval = "clopper-pearson"   # score limits of rates and gaps: clopper-pearson or wilson
    exact_test = "fisher"          # p-values: fisher or boschloo
    bootstrap = 2000               # kept for existing files: no verdict resamples any more
    invariance_photos = 20         # photos transformed for transformation_invariance (spread over subjects)
    invariance_transforms = 8      # benign transforms drawn (seeded) for each of them
    binding_threshold = 99         # the similarity threshold whose verdict the matching checks report
    target_fmr = [1e-3, 1e-4]      # 1:1 comparisons: thresholds fixed to these FMRs (the first supported binds)
    fmr_calibration = "overall"    # ... on every impostor comparison, or "reference": the reference group's
    impostors = "all"              # impostor comparisons: all pairs, or "same_group" (demographically matched)
    ratio_tolerance = 2.0          # largest acceptable FMR or FNMR ratio to the reference, either direction
    lost_comparisons = "fta_gap"   # 1:1: a ratio passes only with failure to acquire shown within tolerance;
                                   # "worst_case": also had every comparison without a score been an error;
                                   # "non_match": NIST's convention only (they count below every threshold)
    systematic_failures = 20       # photos failing alike in a row that stop a run (0: never stop)
    direction = "pairwise"         # disparities between every two groups, or "reference": each group vs the reference
    min_coverage = 0.9             # a group whose women and men get a gender on fewer faces than this cannot pass
    max_detection_failure = 0.2    # each group's share of photos with no face found or an error, at most (1: none)
    declarations = "trusted"       # a check the analyzer's own declaration makes not applicable (gives_confidence
                                   # false): "trusted", or "inconclusive" (procurement: no self-declared exemption)

    [tool.conformance.tolerance]   # largest acceptable gap per check id
    misgender_gap = 0.02

    [tool.conformance.identity]    # your people's own words and what they mean: woman, man, nonbinary, undisclosed
    genderflux = "nonbinary"
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ._paths import tried
from ._untrusted import finite_number, shown
from .errors import PolicyError
from .identity import IdentityMapError, check_identity_map

__all__ = ["PROFILES", "Policy", "load_policy"]

_DEFAULT_TOLERANCE: Mapping[str, float] = {
    "misgender_gap": 0.05,
    "nonbinary_representability": 0.05,
    "same_person_consistency": 0.05,
    "confidence_calibration": 0.05,
    "detection_failure_gap": 0.05,
    "transformation_invariance": 0.05,
    "false_match_gap": 0.05,
    "false_non_match_gap": 0.05,
    # 1:1: failure to acquire of face recognition is typically under 1%, and a group's photos without a
    # template take its hardest comparisons out of the counts: a gap of one point is already large.
    "failure_to_acquire_gap": 0.01,
}
# The highest confidence a policy may ask for: (1 - 0.9999)/2 = 5e-5 per verdict direction. Beyond it the
# error rates round towards 0 (0.999999999999 left nothing able to fail and broke the report).
MAX_CONFIDENCE = 0.9999
# The smallest max_detection_failure taken: below it a detector that finds every face needs hundreds of people
# in a group to show it is under the ceiling (367 at 0.01, 95% confidence), and no ordinary dataset could pass.
MIN_DETECTION_FAILURE = 0.01
_CHOICES: Mapping[str, tuple[str, ...]] = {
    "inconclusive": ("fail", "xfail", "pass"),
    "interval": ("wilson", "clopper-pearson"),
    "exact_test": ("fisher", "boschloo"),
    "fmr_calibration": ("overall", "reference"),
    "impostors": ("all", "same_group"),
    "lost_comparisons": ("fta_gap", "worst_case", "non_match"),
    "direction": ("pairwise", "reference"),
    "declarations": ("trusted", "inconclusive"),
}


@dataclass(frozen=True)
class Policy:
    """How strict the checks are. Build with :func:`load_policy`; every field has a documented default."""

    profile: str = "default"
    confidence: float = 0.95
    inconclusive: str = "fail"
    min_subjects: int = 10
    # Clopper-Pearson limits keep each verdict's error rate at the stated level down to 10 people a
    # group; Wilson's are narrower and, for extreme rates in small groups, exceed it: so every fail test
    # reads Clopper-Pearson limits whatever this says, and on Wilson limits only a wrong pass is nominal
    # (docs/explanation/methodology.md; reports on Wilson limits say so).
    interval: str = "clopper-pearson"
    exact_test: str = "fisher"
    bootstrap: int = 2000  # read and checked for existing policy files; the verdicts are closed-form
    invariance_photos: int = 20
    invariance_transforms: int = 8
    binding_threshold: float = 99.0
    target_fmr: tuple[float, ...] = (1e-3, 1e-4)
    fmr_calibration: str = "overall"
    impostors: str = "all"
    ratio_tolerance: float = 2.0
    # 1:1 comparisons without a score count below every threshold (NIST's convention) in every rate; what a
    # ratio needs besides to pass (docs/explanation/methodology.md): "fta_gap" both groups' failure to acquire
    # shown within tolerance and no pair without a score otherwise; "worst_case" the pass to hold had every
    # one been an error; "non_match" nothing. Leaving photos or pairs out can then not turn a fail into a pass.
    lost_comparisons: str = "fta_gap"
    # Photos failing the same way in a row (or all of the first this many) that stop a run as a fault of
    # the setup rather than of the photos (conformance.run.execution.FailureWatch); 0 never stops.
    systematic_failures: int = 20
    # Disparity in either direction: between every two groups ("pairwise"), or every group against
    # the reference ("reference"); see docs/how-to/policies.md.
    direction: str = "pairwise"
    # Faces of women and men given a gender label, per group: below this a check that reads labels
    # cannot pass (abstaining on a group could hide its misgendering).
    min_coverage: float = 0.9
    # The most photos of a group a detector may miss (no face found, or the call failed): detection_failure_gap
    # compares every group's rate with it, on its interval, beside the gaps; parity among failures is no pass
    # (rt14e F1: a face found in 1 photo of 300 passed). 1 turns the ceiling off.
    max_detection_failure: float = 0.2
    # What the analyzer's own declaration may excuse: "trusted", a check it makes not applicable (calibration
    # of an analyzer that declares gives_confidence false) is not applicable, by the analyzer's declaration;
    # "inconclusive", it is inconclusive, as a buyer cannot accept a vendor's word for an exemption (red team 13c).
    declarations: str = "trusted"
    tolerance: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_TOLERANCE))
    identity: Mapping[str, str] = field(default_factory=dict)
    source: str = "built-in defaults"

    def tolerance_for(self, check_id: str) -> float:
        return float(self.tolerance.get(check_id, 0.05))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (dict(v) if isinstance(v := getattr(self, f.name), Mapping) else v) for f in fields(self)}


PROFILES: Mapping[str, Policy] = {
    # Fails on anything not shown to conform; tolerances of five percentage points.
    "default": Policy(),
    # For pull-request CI on small recorded datasets: inconclusive shows as xfail, not red. min_subjects
    # stays 10, the smallest size the error table measures: at 5 people x 40 photos (ICC 0.9) a wrong fail
    # came out at 0.0355 where 0.025 is stated (issue 13, red team).
    "ci": Policy(profile="ci", inconclusive="xfail", min_subjects=10, bootstrap=1000),
    # For buying decisions: exact intervals and tests, more subjects, tighter tolerances.
    "procurement": Policy(
        profile="procurement",
        min_subjects=30,
        interval="clopper-pearson",
        exact_test="boschloo",
        bootstrap=10000,
        declarations="inconclusive",
        tolerance={**dict.fromkeys(_DEFAULT_TOLERANCE, 0.02), "failure_to_acquire_gap": 0.01},
    ),
}


_MAX_POLICY_BYTES = 4 * 1024 * 1024  # a policy is a few KB; a pyproject.toml rarely 100 KB


def _read_toml(path: Path, *, explicit: bool) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    from ._files import read_regular

    try:
        # A regular file only, and bounded: a FIFO named as the policy hung the run, /dev/urandom read to MemoryError.
        data = read_regular(path, limit=_MAX_POLICY_BYTES)
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {tried(path)}") from None
    except OSError as exc:  # not a regular file, over the limit, unreadable: the message names which
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror or exc}; name a TOML file") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text (byte {exc.start}); a policy file is TOML") from None
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        # ValueError: also an integer beyond Python's 4,300-digit limit for reading numbers
        way_out = "fix the file or drop --policy" if explicit else "fix the file"
        problem = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise PolicyError(f"{path}: not valid TOML ({problem}); {way_out}") from None


def _table(document: Mapping[str, Any], path: Path, explicit: bool) -> Mapping[str, Any] | None:
    tool = document.get("tool")
    if isinstance(tool, Mapping) and "conformance" in tool:
        table = tool["conformance"]
        if not isinstance(table, Mapping):
            raise PolicyError(f"{path}: [tool.conformance] must be a table")
        return table
    if explicit and path.name == "pyproject.toml":
        raise PolicyError(f"{path}: no [tool.conformance] table; add one, or point --policy at a policy file")
    return document if explicit else None


def _apply(base: Policy, table: Mapping[str, Any], where: str) -> Policy:
    from .checks.check_ids import unknown_checks

    scalars = {
        "confidence": float,
        "inconclusive": str,
        "min_subjects": int,
        "interval": str,
        "exact_test": str,
        "bootstrap": int,
        "invariance_photos": int,
        "invariance_transforms": int,
        "binding_threshold": float,
        "fmr_calibration": str,
        "impostors": str,
        "ratio_tolerance": float,
        "lost_comparisons": str,
        "systematic_failures": int,
        "direction": str,
        "min_coverage": float,
        "max_detection_failure": float,
        "declarations": str,
    }
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key == "profile":
            continue
        if key == "target_fmr":
            changes[key] = _target_fmr(value, where)
            continue
        if key == "tolerance":
            if not isinstance(value, Mapping):
                raise PolicyError(f"{where}: tolerance must be a table of check id = number")
            merged = dict(base.tolerance)
            for check_id, tol in value.items():
                unknown = unknown_checks([check_id])
                if unknown:
                    raise PolicyError(f"{where}: tolerance for {unknown}")
                if not finite_number(tol) or not 0 < tol < 1:
                    raise PolicyError(
                        f"{where}: tolerance.{check_id} = {shown(tol)} must be a number above 0 and below 1: "
                        "the largest gap between groups you accept (e.g. 0.05). At 0 no comparison could pass (an "
                        "interval always has a width); at 1 or more every gap would be within it"
                    )
                merged[check_id] = float(tol)
            changes["tolerance"] = merged
        elif key == "identity":
            if not isinstance(value, Mapping):
                raise PolicyError(f"{where}: identity must be a table of label = woman/man/nonbinary/undisclosed")
            try:
                check_identity_map(value)  # the one check, as for a map built in code
            except IdentityMapError as exc:
                raise PolicyError(f"{where}: {exc}") from None
            changes["identity"] = {**base.identity, **value}
        elif key in scalars:
            kind = scalars[key]
            if key in _CHOICES and value not in _CHOICES[key]:
                raise PolicyError(f"{where}: {key} = {shown(value)}; choose one of {', '.join(_CHOICES[key])}")
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
                expected = {float: "a number", int: "a whole number", str: "a string"}[kind]
                raise PolicyError(f"{where}: {key} = {shown(value)} must be {expected}")
            if kind is float and not finite_number(value):
                raise PolicyError(f"{where}: {key} = {shown(value)} must be a finite number")
            changes[key] = kind(value)
        else:
            known = ", ".join(["profile", "tolerance", "identity", "target_fmr", *scalars])
            raise PolicyError(f"{where}: unknown policy key {shown(key)}; known keys: {known}")
    policy = replace(base, **changes)
    if not 0.5 <= policy.confidence <= MAX_CONFIDENCE:
        raise PolicyError(
            f"{where}: confidence = {policy.confidence!r} must be from 0.5 to {MAX_CONFIDENCE} "
            "(each verdict direction errs at most (1 - confidence)/2; closer to 1 no data could decide, "
            "and the error rates would round away); e.g. confidence = 0.95"
        )
    if policy.min_subjects < 1:
        raise PolicyError(f"{where}: min_subjects = {policy.min_subjects} must be at least 1")
    if policy.invariance_photos < 0 or policy.invariance_transforms < 0:
        raise PolicyError(f"{where}: invariance_photos and invariance_transforms must be 0 (none) or more")
    if not policy.ratio_tolerance >= 1:
        raise PolicyError(
            f"{where}: ratio_tolerance = {policy.ratio_tolerance} must be at least 1 (e.g. 2: within a factor of two)"
        )
    if policy.systematic_failures < 0:
        raise PolicyError(
            f"{where}: systematic_failures = {policy.systematic_failures} must be 0 (never stop) or more photos"
        )
    if not 0.0 <= policy.min_coverage <= 1.0:
        raise PolicyError(f"{where}: min_coverage = {policy.min_coverage} must be a share from 0 to 1")
    if not 0.0 < policy.max_detection_failure <= 1.0:
        raise PolicyError(
            f"{where}: max_detection_failure = {policy.max_detection_failure} must be a share above 0 and at most 1 "
            "(the largest share of a group's photos with no face found or an error; 1 turns the ceiling off)"
        )
    if policy.max_detection_failure < MIN_DETECTION_FAILURE:
        # A perfect detector's interval on n people reaches 1 - alpha^(1/n) (Clopper-Pearson, 0 failed): a
        # ceiling below it can never be passed (rt14f F8: 1e-9 held every run inconclusive).
        import math

        alpha = (1.0 - policy.confidence) / 2.0
        needed = math.ceil(math.log(alpha) / math.log1p(-policy.max_detection_failure))
        raise PolicyError(
            f"{where}: max_detection_failure = {policy.max_detection_failure} is below {MIN_DETECTION_FAILURE:g}: "
            f"even a detector that finds every face would need {needed:,} people in every group to pass it (its "
            f"interval always has a width), so no run could pass. Use a share from {MIN_DETECTION_FAILURE:g} to 1 "
            "(1 turns the ceiling off)"
        )
    if policy.bootstrap < 100:
        raise PolicyError(f"{where}: bootstrap = {policy.bootstrap} must be at least 100 resamples")
    return policy


def is_target_fmr(value: object) -> bool:
    """A target false-match rate: a number strictly between 0 and 1 (the one rule, for policies and options)."""
    return finite_number(value) and 0 < value < 1  # type: ignore[operator]  # a number: checked first


def _target_fmr(value: Any, where: str) -> tuple[float, ...]:
    """``target_fmr``: one rate or a list of rates, each strictly between 0 and 1."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise PolicyError(f"{where}: target_fmr = [] names no rate; give e.g. [1e-3, 1e-4]")
    for item in values:
        if not is_target_fmr(item):
            raise PolicyError(f"{where}: target_fmr value {shown(item)} must be a rate between 0 and 1, e.g. 1e-4")
    return tuple(float(v) for v in values)


def load_policy(
    path: str | Path | None = None, *, profile: str | None = None, project_root: str | Path | None = None
) -> Policy:
    """The policy in force.

    Parameters
    ----------
    path
        A policy TOML (``--policy FILE``); without it, ``[tool.conformance]`` of
        ``project_root/pyproject.toml`` if there is one, else the built-in defaults.
    profile
        A named profile (``--conformance-profile``) that wins over the file's ``profile`` key;
        the file's other keys still apply on top of it.
    """
    table: Mapping[str, Any] | None = None
    where = "built-in defaults"
    if path is not None:
        file = Path(path).expanduser()
        table = _table(_read_toml(file, explicit=True), file, explicit=True)
        where = str(file)
    elif project_root is not None and (candidate := Path(project_root) / "pyproject.toml").is_file():
        table = _table(_read_toml(candidate, explicit=False), candidate, explicit=False)
        if table is not None:
            where = f"{candidate} [tool.conformance]"
    chosen = profile or (str(table.get("profile")) if table and table.get("profile") else "default")
    if chosen not in PROFILES:
        raise PolicyError(f"{where}: unknown profile {shown(chosen)}; profiles: {', '.join(PROFILES)}")
    policy = replace(PROFILES[chosen], source=where)
    return _apply(policy, table, where) if table else policy
