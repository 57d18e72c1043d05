"""The plan as ``conformance plan`` prints it: one JSON document, or the text read from it."""

from __future__ import annotations

import math
from typing import Any


def non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The first number in ``value`` (a JSON document) that is inf or nan, with where it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(value)", value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def counts_text(counts: tuple[int, ...]) -> str:
    """How people's photo counts are spread, in a few words."""
    from collections import Counter

    mean = sum(counts) / len(counts)
    if len(set(counts)) == 1:
        return f"{counts[0]} each"
    common = ", ".join(f"{c} ({n})" for c, n in sorted(Counter(counts).items())[:8])
    more = "" if len(set(counts)) <= 8 else ", ..."
    return f"people with {common}{more} photos, {mean:.3g} on average"


def plan_document(inputs: Any, plans: dict[str, Any], assessment: Any) -> dict[str, Any]:
    """The plan as one JSON object; for a single check its figures are at the top level too."""
    from .planners import policy_levels
    from .sizes import counts_shares

    alpha_pass, alpha_fail = policy_levels(inputs.policy)
    checks = [plan.to_json(inputs.price) for plan in plans.values()]
    # One set of photos serves every gender check: the audit needs the most any of them needs.
    decided = [c for c in checks if c["people_per_group"] is not None]
    largest = max(
        decided, key=lambda c: c["people_per_group"] * len(c["groups"]) * c["photos_per_person"], default=None
    )
    document: dict[str, Any] = {
        "power": inputs.power,
        "alpha_pass": alpha_pass,
        "alpha_fail": alpha_fail,
        "confidence": inputs.policy.confidence,
        "interval": inputs.policy.interval,
        "direction": inputs.policy.direction,
        "min_subjects": inputs.policy.min_subjects,
        "groups": list(inputs.groups),
        "photos_per_person": inputs.photos_per_person,
        **(
            {
                "photo_counts": counts_shares(inputs.photo_counts),
                "mean_photos_per_person": round(sum(inputs.photo_counts) / len(inputs.photo_counts), 4),
            }
            if inputs.photo_counts
            else {}
        ),
        "icc": inputs.icc,
        "price": {"per_1000": inputs.price.per_1000, "currency": inputs.price.currency, "source": inputs.price.source},
        "sources": list(inputs.sources),
        "checks": checks,
    }
    if largest is not None:
        document["audit"] = {
            "check": largest["check"],
            "people_per_group": largest["people_per_group"],
            "photos": largest["calls"],
            "calls": largest["calls"],
            "cost": largest["cost"],
        }
    if len(checks) == 1:
        only = checks[0]
        for key in ("check", "people_per_group", "photos_per_group", "calls", "cost", "tolerance", "reference_rate"):
            document[key] = only[key]
    if assessment is not None:
        summary, rows = assessment
        document["manifest"] = {**summary, "checks": [row.to_json() for row in rows]}
    return document


def plan_text(document: dict[str, Any]) -> str:
    price = document["price"]
    lines = [
        f"conformance plan: {document['power']:.0%} power for each verdict direction; a wrong pass at most "
        f"{document['alpha_pass']:g} per comparison, a wrong fail at most {document['alpha_fail']:g} for the check "
        f"({document['interval']} limits, {document['direction']} comparisons, min_subjects {document['min_subjects']})",
        f"groups {', '.join(document['groups'])} (reference first); "
        + (
            f"{document['mean_photos_per_person']:.3g} photos a person on average (counts vary)"
            if "photo_counts" in document
            else f"{document['photos_per_person']} photo{'' if document['photos_per_person'] == 1 else 's'} a person"
        )
        + f", ICC {document['icc']:.3g}",
    ]
    lines += [f"  {source}" for source in document["sources"]]
    lines.append("")
    header = f"  {'check':<28} {'tolerance':>9} {'ref. rate':>9} {'pass: people':>13} {'fail: people':>13} {'people/group':>13} {'calls':>9} {'cost':>10}"
    lines.append(header)
    for c in document["checks"]:
        pass_, fail = c["directions"]
        rate = "" if c["reference_rate"] is None else f"{c['reference_rate']:.3g}"
        cost = "" if c["cost"] is None else f"{c['cost']:,.2f}"
        # A ratio check's tolerance is a factor (x2), a rate check's an absolute gap.
        tolerance = f"x{c['tolerance']:g}" if "true_ratio" in fail else f"{c['tolerance']:g}"
        lines.append(
            f"  {c['check']:<28} {tolerance:>9} {rate:>9} {_people(pass_):>13} {_people(fail):>13} "
            f"{_shown(c['people_per_group']):>13} {_shown(c['calls']):>9} {cost:>10}"
        )
    lines.append("")
    for c in document["checks"]:
        pass_, fail = c["directions"]
        if "cannot_plan" in c:
            lines.append(f"{c['check']}: {c['cannot_plan']['reason']}")
            continue
        lines.append(
            f"{c['check']}: pass at {_scenario(pass_)} with {_people(pass_)} people a group (power {_shown(pass_['power'])}); "
            f"fail at {_scenario(fail)} with {_people(fail)} (power {_shown(fail['power'])}); {c['method']}"
        )
        for note in [*c["notes"], *(d["note"] for d in c["directions"] if d["note"])]:
            lines.append(f"  - {note}")
    if "audit" in document:
        audit = document["audit"]
        lines += [
            "",
            f"To settle every planned check: {audit['people_per_group']} people a group ({audit['check']} needs the most), "
            f"{audit['calls']:,} photos sent, {price['currency']} {audit['cost']:,.2f} at {price['per_1000']:g} per 1,000 images",
            f"  price: {price['source']}",
        ]
    if "sequential" in document:
        from .sequential import sequential_text

        lines += sequential_text(document["sequential"], price["currency"])
    if "manifest" in document:
        manifest = document["manifest"]
        lines += [
            "",
            f"{manifest['manifest']}: "
            + ", ".join(f"{g} {v['people']} people / {v['photos']} photos" for g, v in manifest["groups"].items()),
        ]
        for row in manifest["checks"]:
            lines.append(f"  {'settles' if row['settles'] else 'cannot settle'}: {row['check']}: {row['reason']}")
    return "\n".join(lines) + "\n"


def _scenario(direction: dict[str, Any]) -> str:
    """The fail scenario in words: a true gap, or a true ratio for the 1:1 checks."""
    if "true_ratio" in direction:
        return f"a true ratio of {direction['true_ratio']:g}"
    return f"a true gap of {direction['true_gap']:g}"


def _people(direction: dict[str, Any]) -> str:
    return _shown(direction["people_per_group"])


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}"
