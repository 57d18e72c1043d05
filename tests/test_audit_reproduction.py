"""Reproduce a published gender-classification audit from its per-group counts, through a predictions file.

Buolamwini & Gebru (2018), "Gender Shades: Intersectional Accuracy Disparities in Commercial Gender
Classification", PMLR 81:77-91. Pilot Parliaments Benchmark (PPB): 1,270 parliamentarians, one photo
each: darker female 271, darker male 318, lighter female 296, lighter male 385. Error rates of the
three classifiers audited in 2017, per subgroup, as published (percentages, one decimal).

Identity: the paper's labels are binary sex labels (female / male) assigned by the authors, not
self-described gender identities, and nothing is known of the subjects' trans status. The manifest
says so: ``gender_identity`` is the paper's label and ``trans`` is ``unknown``. The kit's default
grouping (cis / trans / nonbinary / unknown) would therefore put every subject in the one group
``unknown`` and compare nothing, which is why these tests group by the manifest column ``subgroup``
(skin type x sex label, as the paper does) with ``lighter male`` as the reference.

Each subgroup is compared with lighter males, in both directions (``direction = "reference"``), as
the paper does. Expected intervals come from statsmodels' Clopper-Pearson limits combined by
Newcombe's hybrid rule written out here, and expected verdicts from the rule in DESIGN.md applied to
those intervals (Holm's adjustment from statsmodels), never from the kit.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from builders import observe, people
from scipy.stats import fisher_exact  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations

SEED = 20261121
REFERENCE = "lighter male"
SIZES = {"darker female": 271, "darker male": 318, "lighter female": 296, "lighter male": 385}
# Published error rates in percent (Table 4 of the paper; also the figures the press reported). For
# Face++ lighter female the figure used is 6.0 (PPV 94.0), the one quoted in press reports of the paper.
PUBLISHED = {
    "IBM": {"darker female": 34.7, "darker male": 12.0, "lighter female": 7.1, "lighter male": 0.3},
    "Microsoft": {"darker female": 20.8, "darker male": 6.0, "lighter female": 1.7, "lighter male": 0.0},
    "Face++": {"darker female": 34.5, "darker male": 0.7, "lighter female": 6.0, "lighter male": 0.8},
}
# The published figures are percentages rounded to one decimal, so the error counts are the nearest
# integers: round(rate * n). For these cells no integer count over the subgroup's size gives the
# published percentage at all (the paper's subgroup figures are 1 - PPV, whose denominators need not
# be the subgroup sizes); the nearest count is then within half a photo of the published rate.
NOT_EXACT = {
    ("IBM", "darker male"),
    ("Microsoft", "darker female"),
    ("Face++", "darker female"),
    ("Face++", "darker male"),
    ("Face++", "lighter female"),
}
TOLERANCE = 0.05  # the default policy's
COMPARISONS = len(SIZES) - 1


def errors(classifier: str, subgroup: str) -> int:
    return round(PUBLISHED[classifier][subgroup] / 100 * SIZES[subgroup])


def clopper_pearson(count: int, n: int) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=0.05, method="beta")
    return float(lo), float(hi)


def hybrid(c1: int, n1: int, c2: int, n2: int) -> tuple[float, float]:
    """Newcombe's hybrid rule on Clopper-Pearson limits, 95% two-sided."""
    (l1, u1), (l2, u2) = clopper_pearson(c1, n1), clopper_pearson(c2, n2)
    p1, p2 = c1 / n1, c2 / n2
    return p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


def rule(ci: tuple[float, float], p_adjusted: float) -> str:
    if p_adjusted <= 0.025:
        return "fail"
    if ci[0] >= -TOLERANCE and ci[1] <= TOLERANCE:
        return "pass"
    return "inconclusive"


def test_subgroups_make_up_the_benchmark() -> None:
    assert sum(SIZES.values()) == 1270


@pytest.mark.parametrize("classifier", list(PUBLISHED))
def test_counts_reproduce_the_published_percentages(classifier: str) -> None:
    for subgroup, n in SIZES.items():
        published = PUBLISHED[classifier][subgroup]
        count = errors(classifier, subgroup)
        assert abs(count / n - published / 100) <= 0.5 / n  # the nearest count
        if (classifier, subgroup) in NOT_EXACT:
            assert all(round(100 * k / n, 1) != published for k in range(n + 1)), (classifier, subgroup)
        else:
            assert round(100 * count / n, 1) == published, (classifier, subgroup)


def test_hand_derived_counts() -> None:
    # Spelled out so a reader can check them against the paper without running anything.
    assert {c: [errors(c, s) for s in SIZES] for c in PUBLISHED} == {
        "IBM": [94, 38, 21, 1],
        "Microsoft": [56, 19, 5, 0],
        "Face++": [93, 2, 18, 3],
    }


@pytest.fixture(scope="module", params=list(PUBLISHED))
def audit(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Observations]:
    classifier: str = request.param
    shots = []
    for subgroup, n in SIZES.items():
        skin, sex = subgroup.split()
        shots += people(
            subgroup.replace(" ", "-"),
            n,
            identity=sex,  # the paper's sex label, not a self-described identity
            trans="unknown",
            misgendered=errors(classifier, subgroup),
            subgroup=subgroup,
            skin_type=skin,
        )
    header = {"analyzer": classifier, "version": "2017 (Gender Shades)", "vocabulary": ["Male", "Female"]}
    return classifier, observe(tmp_path_factory.mktemp(classifier.replace("+", "p")), shots, header=header)


def run(observations: Observations, by: list[str], reference: str = REFERENCE) -> CheckResult:
    return run_check(
        "misgender_gap",
        observations,
        groups=group_labels(observations.dataset, by),
        reference=reference,
        policy=replace(load_policy(), direction="reference"),
        seed=SEED,
    )


def test_default_grouping_puts_everyone_in_unknown(audit: tuple[str, Observations]) -> None:
    _, observations = audit
    assert set(group_labels(observations.dataset)) == {"unknown"}
    assert len(observations) == 1270


def test_rates_are_the_published_counts(audit: tuple[str, Observations]) -> None:
    classifier, observations = audit
    result = run(observations, ["subgroup"])
    assert set(result.groups) == set(SIZES)
    for subgroup, n in SIZES.items():
        count = errors(classifier, subgroup)
        group = result.groups[subgroup]
        assert (group.photos, group.subjects, group.count, group.n) == (n, n, count, n)
        assert group.rate == count / n
        assert group.ci == pytest.approx(clopper_pearson(count, n), abs=1e-12)


def test_gaps_to_lighter_males_are_newcombe_hybrids_with_holm_for_fail(audit: tuple[str, Observations]) -> None:
    classifier, observations = audit
    result = run(observations, ["subgroup"])
    assert len(result.comparisons) == COMPARISONS
    ref = errors(classifier, REFERENCE)
    ref_n = SIZES[REFERENCE]
    holm = multipletests([c.p_value for c in result.comparisons], method="holm")[1]
    expected_verdicts = {}
    for c, p_adjusted in zip(result.comparisons, holm, strict=True):
        count, n = errors(classifier, c.group), SIZES[c.group]
        expected = hybrid(count, n, ref, ref_n)
        assert c.reference == REFERENCE
        assert c.difference == pytest.approx(count / n - ref / ref_n, abs=1e-12)
        assert c.ci == pytest.approx(expected, abs=1e-12)
        assert c.p_equal == pytest.approx(fisher_exact([[count, n - count], [ref, ref_n - ref]]).pvalue, rel=1e-9)
        expected_verdicts[c.group] = rule(expected, p_adjusted)
    assert {c.group: c.verdict for c in result.comparisons} == expected_verdicts
    assert set(expected_verdicts) == set(SIZES) - {REFERENCE}
    order = ["pass", "inconclusive", "fail"]
    assert result.verdict == max(expected_verdicts.values(), key=order.index)
    # Darker-skinned women fare worst under every classifier, as the paper found.
    assert expected_verdicts["darker female"] == "fail"
    assert result.worst_comparison is not None
    assert result.worst_comparison.group == "darker female"


def test_intersection_of_columns_gives_the_same_figures(audit: tuple[str, Observations]) -> None:
    _, observations = audit
    by_subgroup = run(observations, ["subgroup"])
    # identity is the kit's reading of the paper's sex label: female -> woman, male -> man.
    crossed = run(observations, ["skin_type", "identity"], reference="lighter & man")
    names = {"darker female": "darker & woman", "darker male": "darker & man"}
    names |= {"lighter female": "lighter & woman", "lighter male": "lighter & man"}
    for subgroup, name in names.items():
        assert crossed.groups[name].to_dict() == by_subgroup.groups[subgroup].to_dict()
    assert {names[c.group]: c.ci for c in by_subgroup.comparisons} == {c.group: c.ci for c in crossed.comparisons}
