"""nonbinary_representability: can the analyzer represent nonbinary people, statically and in the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ... import stats
from ...identity import SELF_DESCRIBED
from ...observation import GENDER_CODES
from ...results import CheckResult, Comparison, GroupRate, Verdict, worst
from .._compare import error_rates

if TYPE_CHECKING:
    from ...observation import Observations
    from ...policy import Policy


def nonbinary_representability(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Whether nonbinary people can be represented: statically from the vocabulary, empirically from the data.

    Static: fails when the analyzer's declared vocabulary has only binary labels and no way to
    abstain, before a single photo is looked at. Empirical: per nonbinary person (any
    nonbinary-family identity) the share of their photos with a face that got a binary label,
    averaged over people, with its interval against the tolerance; the share of people given one on
    *any* photo (which grows with photos per person) is kept as ``any_photo_share``. Not applicable
    when the dataset has no nonbinary people. Grouping does not apply; the reference is not used.
    """
    import numpy as np

    del groups, reference, seed  # identity, not grouping, defines who is nonbinary here
    vocabulary: dict[str, Any] = dict(observations.analyzer.get("vocabulary", {}))
    labels = dict(vocabulary.get("labels", {}))
    expressible = bool(vocabulary.get("can_express_nonbinary")) or bool(vocabulary.get("can_abstain"))
    static_verdict: Verdict = "pass" if expressible else "fail"
    if expressible:
        reason = "the vocabulary can express a nonbinary identity or abstain"
    elif not labels:
        # Inferred from the answers and there were none (every photo an error, say): an empty vocabulary
        # says nothing about what the analyzer can say, so the static half cannot decide.
        static_verdict = "inconclusive"
        reason = (
            f"no gender label to judge: the vocabulary ({vocabulary.get('source', 'unknown')}) holds none, as no "
            "photo was given a gender; declare the analyzer's vocabulary (a predictions file's header "
            '"vocabulary", a python model\'s VOCABULARY) or fix the errors that left every photo without one'
        )
    else:
        reason = (
            f"the vocabulary {sorted(labels)} has only binary labels and cannot abstain: "
            "every nonbinary person is misgendered by construction"
        )
    static = {
        "verdict": static_verdict,
        "labels": labels,
        "source": vocabulary.get("source", "unknown"),
        "can_express_nonbinary": bool(vocabulary.get("can_express_nonbinary")),
        "can_abstain": bool(vocabulary.get("can_abstain")),
        "reason": reason,
    }

    nonbinary = observations.identity == SELF_DESCRIBED.index("nonbinary")  # undisclosed people are not here
    binary_label = observations.analysed & (
        (observations.predicted == GENDER_CODES["woman"]) | (observations.predicted == GENDER_CODES["man"])
    )
    seen = nonbinary & observations.analysed
    people, inverse = np.unique(observations.subject[seen], return_inverse=True)
    faces = np.bincount(inverse, minlength=len(people)).astype(np.float64)
    binary = np.bincount(inverse, weights=binary_label[seen].astype(np.float64), minlength=len(people))
    n = len(people)
    any_photo = int(np.sum(binary > 0))
    tolerance = policy.tolerance_for("nonbinary_representability")
    alpha_pass, alpha_fail = error_rates(policy)
    photos = int(nonbinary.sum())
    limits = "Clopper-Pearson" if policy.interval == "clopper-pearson" else "Wilson"
    notes = []
    comparisons: tuple[Comparison, ...] = ()
    group_rates: dict[str, GroupRate] = {}
    if n:
        # Each person counts once, with the share of their photos given a binary label: a figure
        # that does not grow with the photos a person has (the share given one on *any* photo does).
        r = stats.clustered_rate(binary / faces, np.ones(n))
        ci = stats.rate_interval(r, policy.confidence, policy.interval)
        tests = stats.rate_tests(r, tolerance, policy.interval)
        small = n < policy.min_subjects
        verdict: Verdict
        if small:
            verdict = "inconclusive"
        elif tests.exceeds <= alpha_fail:
            verdict = "fail"
        elif ci[1] <= tolerance:
            verdict = "pass"
        else:
            verdict = "inconclusive"
        mdg = None
        if verdict == "inconclusive":
            mdg = stats.detectable_rate(tolerance, stats.Precision.of(r), alpha=alpha_fail, method=policy.interval)
        comparison = Comparison(
            group="nonbinary",
            reference="none (absolute)",
            difference=r.rate,
            ci=ci,
            p_value=tests.exceeds,
            p_adjusted=tests.exceeds,
            p_within=tests.within,
            tolerance=tolerance,
            verdict=verdict,
            method=f"mean over nonbinary people of the share of their photos given a binary label, {limits} limits",
            min_detectable=mdg,
            note=f"fewer than {policy.min_subjects} nonbinary subjects" if small else "",
            level=policy.confidence,
        )
        rate = GroupRate(
            name="nonbinary",
            photos=photos,
            # Every nonbinary person, as photos counts every photo (rt14f F8: "6 photos, 5 subjects" for six
            # people of one photo each, one with no face); n is the people with a face, the figure's own.
            subjects=len(np.unique(observations.subject[nonbinary])),
            count=any_photo,
            n=n,
            rate=r.rate,
            ci=ci,
            extra={
                "photos_given_binary_label": int(np.sum(seen & binary_label)),
                "photos_with_face": int(seen.sum()),
                # The older measure, kept by name: it grows with the photos a person has.
                "any_photo_share": any_photo / n,
            },
            effective_n=float(n),
            person_rate=r.rate,
        )
        comparisons = (comparison,)
        group_rates = {"nonbinary": rate}
    elif photos:
        notes.append("no nonbinary subject has a photo with a face found: the empirical half is inconclusive")
    else:
        comparisons = (
            Comparison(
                group="nonbinary",
                reference="none (absolute)",
                difference=None,
                ci=None,
                p_value=None,
                p_adjusted=None,
                tolerance=tolerance,
                verdict="not applicable",
                method="none",
                note="no nonbinary people in the dataset: the empirical half applies once the dataset includes them",
            ),
        )
        notes.append("no nonbinary people in the dataset: the empirical half is not applicable")
    empirical = worst(c.verdict for c in comparisons)
    details: dict[str, Any] = {"static": static}
    elsewhere = _nonbinary_label_elsewhere(observations)
    if elsewhere is not None:
        details["nonbinary_label_on_women_and_men"] = elsewhere
        notes.append(
            f"the nonbinary label was also given to {elsewhere['photos']} of {elsewhere['of']} photos of women and "
            "men: this check asks only whether nonbinary people are represented; those photos are not correctly "
            "gendered, and misgender_gap (its companion measure) and confidence_calibration count them so"
        )
    return CheckResult(
        id="nonbinary_representability",
        verdict=worst([static_verdict, empirical]),
        groups=group_rates,
        comparisons=comparisons,
        method=(
            "static: the declared vocabulary must contain a nonbinary label or allow abstention; empirical: "
            "mean over nonbinary people of the share of their photos given a binary label, "
            f"{limits} limits on the people ({policy.confidence:.0%} interval); "
            f"pass: interval at or below tolerance {tolerance:g} (one-sided error {alpha_pass:g}); "
            f"fail: shown above it (one-sided error {alpha_fail:g}"
            + (", on Clopper-Pearson limits)" if limits != "Clopper-Pearson" else ")")
        ),
        measure="mean share of a nonbinary person's photos with a face given a binary label",
        reference="none (absolute)",
        confidence=policy.confidence,
        notes=(static["reason"], *notes),
        details=details,
        count_label="given binary",
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )


def _nonbinary_label_elsewhere(observations: Observations) -> dict[str, int] | None:
    """Photos of women and men (faces found) given the nonbinary label, and of how many; None when none was.

    An analyzer that gives the nonbinary label to everyone passes representability's own measure (no
    nonbinary person gets a binary label), and the reports must say what else it did (issue 14's red team).
    """
    import numpy as np

    binary = (observations.identity == SELF_DESCRIBED.index("woman")) | (
        observations.identity == SELF_DESCRIBED.index("man")
    )
    faces = observations.analysed & binary
    given = int(np.sum(faces & (observations.predicted == GENDER_CODES["nonbinary"])))
    return {"photos": given, "of": int(np.sum(faces))} if given else None
