"""``conformance plan``: its arguments, and the plan printed as text or JSON.

The statistics are in :mod:`conformance.planning`; this module only reads the arguments (and a pilot
report or a manifest), asks the planner, and prints what it says (:mod:`conformance.planning.render`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from typing import Any

from ._defaults import DEFAULT_LOOKS, DEFAULT_SEED
from ._text import printable, printable_lines
from .options import OPTION, argparse_type, parse_positive

__all__ = ["add_parser", "run"]

_USAGE_ERROR = 2


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number from 0 to 1")
    return value


def _tolerance(text: str) -> float:
    """A tolerance as the policy takes one: above 0 (nothing is ever shown within 0) and below 1."""
    value = _share(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a tolerance above 0 and below 1, as a policy's (no interval lies within a tolerance of 0: "
            "nothing could pass), e.g. 0.05"
        )
    return value


_table_positive = argparse_type(parse_positive)


def _positive(text: str) -> float:
    """The option table's positive number and message (run --rate, --timeout, --price-per-1000): one of each."""
    return float(_table_positive(text))


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, 0 or more")
    return value


def _counts(text: str) -> tuple[int, ...]:
    """``3``, or people's photo counts, each equally likely: ``1,20`` (half with 1, half with 20)."""
    from .planning.manifest import MOST_PHOTOS

    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give photos a person as a whole number from 1 (e.g. 3), or people's counts, each equally "
            "likely (e.g. 1,20: half the people with 1 photo, half with 20)"
        )
    if max(values) > MOST_PHOTOS:
        # 10^10 photos a person asked numpy for a 149 GiB table of a person's possible counts
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MOST_PHOTOS:,} photos a person")
    return values


def _ratio(text: str) -> float:
    value = _positive(text)
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a ratio of 1 or more, e.g. 2 (within a factor of two)")
    return value


def _power(text: str) -> float:
    value = _share(text)
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: power lies from 0.5 to below 1, e.g. 0.8")
    return value


def _checks(text: str) -> tuple[str, ...]:
    from .checks.check_ids import CHECK_IDS, GENDER_CHECKS, unknown_checks

    if text == "all":
        return CHECK_IDS
    if text == "gender":
        return GENDER_CHECKS
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    problem = unknown_checks(ids)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{problem} (or: all, gender)")
    return ids


def _groups(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if "" in names:  # dropping it in silence planned other groups than the ones named
        raise argparse.ArgumentTypeError(f"{text!r}: a group name is empty; name each group once, e.g. cis,trans")
    if len(names) < 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: name two or more different groups, the reference first")
    return names


def _shared(plan: Any, name: str, *, help: str | None = None, default: Any = None) -> None:
    """An option ``conformance run`` has too: its spelling, parser (one message for a bad value) and metavar.

    Red team 18 F3: plan had its own parsers for these, with other messages, a seed that refused what
    run took, and a profile checked only when the policy was loaded.
    """
    option = OPTION[name]
    plan.add_argument(
        option.cli_flag,
        dest=option.name,
        type=option.argparse_type,
        default=default,
        metavar=option.metavar,
        help=help or option.help,
    )


def add_parser(commands: Any) -> None:
    """The ``plan`` subcommand and its arguments."""
    from .planning import DEFAULT_PRICE

    plan = commands.add_parser(
        "plan",
        help="people and photos a conclusive audit needs per group and check, and what sending them costs",
        description="Sample sizes for a conclusive verdict in each direction (pass at a true gap of 0, fail at "
        "--gap-multiple times the tolerance), planned on the kit's own verdict procedure and checked by "
        "simulation (docs/how-to/plan.md). Reads expected rates and ICC from a pilot report.json if given; with "
        "--manifest, says which checks that data can settle and why not.",
    )
    plan.add_argument(
        "--check",
        dest="checks",
        type=_checks,
        metavar="ID[,ID]",
        help="checks to plan (default: the gender checks; all: every check)",
    )
    plan.add_argument(
        "--groups",
        type=_groups,
        metavar="REF,G[,G]",
        help="groups to compare, the reference first (default: cis,trans)",
    )
    plan.add_argument(
        "--reference-rate",
        type=_share,
        metavar="RATE",
        help="expected rate of the reference group (default 0.05, or the pilot's)",
    )
    # One or the other: given both, the gap won in silence.
    fail_scenario = plan.add_mutually_exclusive_group()
    fail_scenario.add_argument(
        "--gap", type=_share, metavar="GAP", help="true gap of the fail scenario (default: --gap-multiple x tolerance)"
    )
    fail_scenario.add_argument(
        "--gap-multiple",
        type=_positive,
        default=3.0,
        metavar="K",
        help="fail scenario at K x the tolerance (default 3)",
    )
    plan.add_argument(
        "--tolerance", type=_tolerance, metavar="TOL", help="tolerance of the planned checks (default: the policy's)"
    )
    plan.add_argument(
        "--photos-per-person",
        type=_counts,
        metavar="M[,M]",
        help="photos of each person, or people's counts, each equally likely (1,20: half with 1, half with 20); "
        "default: the manifest's counts, the pilot's, or 1",
    )
    plan.add_argument(
        "--icc", type=_share, metavar="ICC", help="within-person correlation, 0 to 1 (default 0, or the pilot's)"
    )
    plan.add_argument(
        "--confidence-sd",
        type=_share,
        metavar="SD",
        help="confidence_calibration: sd of a photo's confidence (0-1) around its group's mean "
        "(default 0.1, assumed and said, or the pilot's)",
    )
    plan.add_argument(
        "--power", type=_power, default=0.8, metavar="P", help="power of each verdict direction (default 0.8)"
    )
    # The 1:1 comparison checks (false_match_differential, false_non_match_differential, equitability).
    _shared(
        plan,
        "target_fmr",
        help="1:1: the target FMRs, as for run; the first is planned, the one the binding threshold is fixed to "
        "(default: the policy's first target_fmr)",
    )
    plan.add_argument(
        "--ratio-tolerance",
        type=_ratio,
        metavar="R",
        help="1:1: largest acceptable FMR or FNMR ratio to the reference, either way (default: the policy's)",
    )
    plan.add_argument(
        "--fail-ratio",
        type=_ratio,
        metavar="RATIO",
        help="1:1: true ratio of the fail scenario (default: the ratio tolerance to the power --gap-multiple)",
    )
    plan.add_argument(
        "--impostor-icc",
        type=_share,
        metavar="ICC",
        help="1:1: correlation of two impostor scores that share a person, 0 to below 0.5 (default 0.1, assumed "
        "and said)",
    )
    plan.add_argument(
        "--sequential",
        action="store_true",
        help="size a `conformance run --sequential` audit: the most people it may send for the same power as the "
        "fixed plan, and the people, calls and cost it is expected to send at a true gap of 0 and at the fail scenario",
    )
    # Its default is DEFAULT_LOOKS, applied when --sequential is given: None says --looks came without it.
    _shared(plan, "looks", help=f"with --sequential: the run's --looks (default {DEFAULT_LOOKS})")
    plan.add_argument(
        "--pilot", metavar="REPORT", help="a pilot run's report.json: rates, groups, photos a person and ICC"
    )
    plan.add_argument(
        "--manifest", metavar="MANIFEST", help="an existing manifest: which checks its data can settle, and why not"
    )
    _shared(plan, "group_by", default=())
    _shared(plan, "policy")
    _shared(plan, "profile")
    _shared(
        plan,
        "price_per_1000",
        help=f"price of 1,000 images sent (default {DEFAULT_PRICE.per_1000:g} {DEFAULT_PRICE.currency}: {DEFAULT_PRICE.source})",
    )
    plan.add_argument(
        "--replicates",
        type=_whole,
        default=2000,
        metavar="N",
        help="simulated draws a size for the promised power (default 2000; 0: approximation only)",
    )
    _shared(
        plan, "seed", default=DEFAULT_SEED, help=f"seed of the simulation, any whole number (default {DEFAULT_SEED})"
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _add_sequential(document: dict[str, Any], plans: dict[str, Any], inputs: Any, looks: int | None) -> None:
    """``--sequential``: the sequential plan, and its most people as the people to collect (the top-level figures)."""
    from .planning.planners import policy_levels
    from .planning.sequential import sequential_block

    block = sequential_block(
        plans,
        alpha=policy_levels(inputs.policy)[0],
        looks=DEFAULT_LOOKS if looks is None else looks,
        power=inputs.power,
        price=inputs.price,
        inputs=inputs,
    )
    document["sequential"] = block
    figures = block["checks"]
    if len(plans) == 1 and figures:
        only = next(iter(figures.values()))
        for key in ("people_per_group", "photos_per_group", "calls", "cost"):
            document[key] = only[key]
    if "audit" in document and document["audit"]["check"] in figures:
        chosen = figures[document["audit"]["check"]]
        document["audit"] = {
            **document["audit"],
            "people_per_group": chosen["people_per_group"],
            "photos": chosen["calls"],
            "calls": chosen["calls"],
            "cost": chosen["cost"],
            "expected": chosen["expected"],
        }


def run(args: argparse.Namespace) -> int:
    """Carry out ``conformance plan``; returns the exit code."""
    from pathlib import Path

    from .checks.check_ids import COMPARISON_CHECKS, GENDER_CHECKS
    from .errors import ConformanceError
    from .planning import (
        DEFAULT_PRICE,
        PlanInputs,
        Price,
        Simulation,
        assess_manifest,
        plan_check,
        read_manifest,
        read_pilot,
    )
    from .planning.render import counts_text, non_finite, plan_document, plan_text
    from .policy import load_policy

    try:
        policy = load_policy(args.policy, profile=args.profile, project_root=str(Path.cwd()))
        pilot = read_pilot(args.pilot) if args.pilot else None
    except ConformanceError as exc:
        print(printable(f"conformance: error: {exc}"), file=sys.stderr)
        return _USAGE_ERROR
    checks: tuple[str, ...] = args.checks or GENDER_CHECKS
    if args.looks is not None and not args.sequential:
        print("conformance: error: --looks sizes a sequential audit: give --sequential with it", file=sys.stderr)
        return _USAGE_ERROR
    if args.sequential:
        from .planning.sequential import NOT_SEQUENTIAL

        if all(check in NOT_SEQUENTIAL for check in checks):
            # Refused, as run --sequential refuses them: figures of a run that cannot happen are no plan.
            why = "; ".join(f"{check}: {NOT_SEQUENTIAL[check]}" for check in checks)
            print(f"conformance: error: --sequential: {why}", file=sys.stderr)
            return _USAGE_ERROR
    if args.tolerance is not None:
        policy = replace(policy, tolerance={**policy.tolerance, **dict.fromkeys(checks, args.tolerance)})
    if args.target_fmr is not None:
        policy = replace(policy, target_fmr=args.target_fmr)
    if args.ratio_tolerance is not None:
        policy = replace(policy, ratio_tolerance=args.ratio_tolerance)
    sources = list(pilot.notes) if pilot else []
    if args.sequential:
        sources.append(
            "--sequential: the table is the fixed plan; the sequential plan (the most people the run may send, for "
            "the same power, and the people it is expected to send) follows it (docs/how-to/plan.md section 5)"
        )
    rates = dict(pilot.rates) if pilot else {}
    fallback = 0.05
    for check in checks:
        if args.reference_rate is not None:
            rates[check] = args.reference_rate
        elif check not in rates:
            rates[check] = fallback
            if check == "false_match_differential":
                continue  # its reference rate is the target FMR, not an assumption
            what = "reference FNMR" if check == "equitability" else "reference rate"
            sources.append(f"{check}: {what} {fallback:g} assumed (give --reference-rate or --pilot)")
    if "misgender_gap" not in rates:
        rates["misgender_gap"] = args.reference_rate if args.reference_rate is not None else fallback
    by: tuple[str, ...] = args.group_by
    loaded = None
    counts: tuple[int, ...] = args.photos_per_person or ()
    if args.manifest:
        try:
            # A 1:1 manifest needs only photo and subject: loaded as such when a 1:1 check is planned.
            loaded = read_manifest(args.manifest, policy, by, comparisons=any(c in COMPARISON_CHECKS for c in checks))
        except ConformanceError as exc:
            print(printable(f"conformance: error: {exc}"), file=sys.stderr)
            return _USAGE_ERROR
        if not counts:
            counts = loaded.photo_counts
            sources.append(f"photos a person: {args.manifest}'s, {counts_text(counts)}")
    if counts:
        photos = max(1, round(sum(counts) / len(counts)))
    else:
        photos = pilot.photos_per_person if pilot and pilot.photos_per_person else 1
    icc = args.icc if args.icc is not None else (pilot.icc if pilot and pilot.icc is not None else 0.0)
    if args.icc is None and not (pilot and pilot.icc is not None) and max(counts or (photos,)) > 1:
        # The most optimistic case: said, never assumed in silence.
        sources.append(
            "ICC 0 assumed: a person's photos taken to be as independent as different people's, which needs the "
            "fewest people; photos of one person are alike in practice: give --icc or a --pilot report"
        )
    groups = args.groups or (pilot.groups if pilot and len(pilot.groups) >= 2 else ("cis", "trans"))
    price = (
        DEFAULT_PRICE
        if args.price_per_1000 is None
        else Price(args.price_per_1000, "USD", "given with --price-per-1000")
    )
    inputs = PlanInputs(
        checks=checks,
        groups=tuple(groups),
        policy=policy,
        rates=rates,
        photos_per_person=int(photos),
        photo_counts=counts if len(set(counts)) > 1 else (),
        icc=float(icc),
        power=args.power,
        gap=args.gap,
        gap_multiple=args.gap_multiple,
        sd=dict(pilot.sd) if pilot else {},
        confidence_sd=args.confidence_sd,
        price=price,
        simulation=Simulation(args.replicates, args.seed),
        sources=tuple(sources),
        impostor_icc=args.impostor_icc,
        fail_ratio=args.fail_ratio,
    )
    if "false_match_differential" in checks and args.replicates > 0:
        # Each of its draws fixes a threshold over every impostor pair and bootstraps it: said before the wait.
        print(
            "conformance plan: false_match_differential is planned by simulating the check's own reading: about 30 s "
            "of CPU for 2 groups of 1 photo a person, longer with more people, photos or groups (--replicates 0: the "
            "two-way approximation alone, in seconds)",
            file=sys.stderr,
        )
    try:
        plans = {check: plan_check(check, inputs) for check in checks}
        assessment = None
        if loaded is not None:
            assessment = assess_manifest(args.manifest, inputs, group_by=by, plans=plans, loaded=loaded)
    except ConformanceError as exc:
        print(printable(f"conformance: error: {exc}"), file=sys.stderr)
        return _USAGE_ERROR
    document = plan_document(inputs, plans, assessment)
    if args.sequential:
        _add_sequential(document, plans, inputs, args.looks)
    bad = non_finite(document)
    if bad:
        # json.dumps would print Infinity, which is not JSON; a cost of inf is no answer either.
        print(
            printable(
                f"conformance: error: the plan's {bad[0]} is {bad[1]}, not a finite number: give smaller figures "
                "(--price-per-1000)"
            ),
            file=sys.stderr,
        )
        return _USAGE_ERROR
    if args.json:
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        # A pilot's or manifest's group names are data: every line of the text goes out escaped.
        print(printable_lines(plan_text(document)), end="")
    return 0
