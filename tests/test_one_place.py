"""Knowledge that used to live in two places lives in one: each pair of surfaces here must agree.

Issue 18, item 10: the misgendering rule (per photo and per table), the verdict words, the --timeout
default, the target-FMR and similarity rules of options and policies, check-id validation, and the way
a rate and an interval are written.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest
from builders import observe, shot
from test_identity import MISGENDER_TABLE

from conformance import AdapterSettings, PolicyError, load_policy
from conformance._format import fixed, interval
from conformance.comparison.values import Figure, Gap
from conformance.options import DEFAULT_TIMEOUT, OPTION, OptionError
from conformance.reporting.compare import _gap_text, _rate_text
from conformance.results import CHECK_VERDICTS, Verdict

LABELS = {"woman": "Female", "man": "Male", "nonbinary": "Nonbinary", "abstain": None}


def test_the_table_misgenders_whom_the_rule_does(tmp_path: Path) -> None:
    """Observations.misgendered (every photo at once) agrees with test_identity's hand-written truth table."""
    rows = [(identity, predicted, expected) for identity, predicted, expected in MISGENDER_TABLE if predicted]
    shots = [shot(f"s{i}", identity, "no", LABELS[predicted]) for i, (identity, predicted, _) in enumerate(rows)]
    header = {"analyzer": "table", "vocabulary": ["Male", "Female", "Nonbinary"], "abstains": True}
    observations = observe(tmp_path, shots, header=header)
    assert observations.misgendered.tolist() == [expected for _, _, expected in rows]
    # No face, no misgendering; an undisclosed person is never misgendered.
    more = observe(
        tmp_path / "more",
        [shot("a", "woman", "no", "Male", outcome="no_face"), shot("b", "prefer not to say", "no", "Male")],
    )
    assert more.misgendered.tolist() == [False, False]


def test_the_verdict_type_names_every_verdict_a_check_may_carry() -> None:
    assert typing.get_args(Verdict) == CHECK_VERDICTS
    assert "not run" in CHECK_VERDICTS


def test_one_timeout_default() -> None:
    assert AdapterSettings().timeout == DEFAULT_TIMEOUT == OPTION["timeout"].default == 30.0


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5, 1e-9, 1.5, -1e-3, math.nan, math.inf])
def test_options_and_policies_accept_the_same_target_fmrs(value: float, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(f"target_fmr = [{value!r}]\n", encoding="utf-8")  # TOML writes nan and inf as Python does
    try:
        OPTION["target_fmr"].parse(repr(value))
        by_option = True
    except OptionError:
        by_option = False
    try:
        load_policy(policy)
        by_policy = True
    except PolicyError:
        by_policy = False
    assert by_option == by_policy == (0 < value < 1)


def test_a_policy_names_an_unknown_check_as_the_options_do(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[tolerance]\nmisgender_gapp = 0.05\n", encoding="utf-8")
    with pytest.raises(OptionError) as by_option:
        OPTION["checks"].parse("misgender_gapp")
    with pytest.raises(PolicyError) as by_policy:
        load_policy(policy)
    assert str(by_policy.value) == f"{policy}: tolerance for {by_option.value}"


def test_rates_and_intervals_are_written_one_way() -> None:
    assert (fixed(0.31), interval((0.2614, 0.364)), fixed(None), interval(None)) == (
        "0.310",
        "[0.261, 0.364]",
        "n/a",
        "n/a",
    )
    figure = Figure(photos=300, subjects=103, count=93, n=300, rate=0.31, ci=(0.2614, 0.364), level=0.95)
    assert _rate_text(figure) == "0.310 [0.261, 0.364]"
    gap = Gap(reference="cis", difference=0.27, ci=(0.21, 0.33), level=0.95, tolerance=0.05, verdict="fail")
    assert _gap_text(gap, 0.95) == "0.270 [0.210, 0.330]"


def test_report_md_and_junit_xml_write_figures_as_the_one_formatter_does() -> None:
    """report.md and the JUnit XML properties had copies of their own: a bound that is no number read ``nan``."""
    from conformance.plugin import _junit_properties
    from conformance.reporting.markdown import _check_section
    from conformance.results import CheckResult, Comparison, GroupRate

    cis = GroupRate("cis", photos=300, subjects=97, count=12, n=300, rate=0.04, ci=(0.0231, 0.0688))
    trans = GroupRate("trans", photos=300, subjects=103, count=93, n=300, rate=0.31, ci=(0.2614, math.nan))
    gap = Comparison(
        "trans", "cis", difference=0.27, ci=(0.21, math.inf), p_value=None, p_adjusted=None, tolerance=0.05,
        verdict="fail", method="Newcombe",
    )  # fmt: skip
    result = CheckResult(
        id="misgender_gap",
        verdict="fail",
        groups={"cis": cis, "trans": trans},
        comparisons=(gap,),
        method="m",
        measure="misgender rate",
        reference="cis",
        confidence=0.95,
    )
    properties = dict(_junit_properties(result))
    assert properties["conformance.misgender_gap.cis.rate"] == f"{fixed(0.04)} (12/300) {interval((0.0231, 0.0688))}"
    assert properties["conformance.misgender_gap.trans.rate"] == "0.310 (93/300) n/a"
    assert properties["conformance.misgender_gap.trans.gap"] == "+0.270 n/a tolerance 0.05: fail"
    section = "\n".join(_check_section(result))
    assert "| cis | 300 | 97 | 12 | 300 | 0.040 | [0.023, 0.069] |" in section
    assert "| trans | 300 | 103 | 93 | 300 | 0.310 | n/a |" in section
    assert "| trans vs cis | 0.270 | n/a |" in section
    assert "nan" not in section
    assert "inf" not in section


def test_the_match_modes_are_one_list() -> None:
    """--match-mode, run_matching_check and the checks' Searches accepted modes each declared for itself."""
    from conformance.checks import matching as checks_matching
    from conformance.matching import MATCH_MODES
    from conformance.options import DEFAULT_MATCH_MODE

    assert MATCH_MODES == ("search", "compare")
    assert checks_matching.MODES is MATCH_MODES
    assert DEFAULT_MATCH_MODE in MATCH_MODES
    assert [OPTION["match_mode"].parse(mode) for mode in MATCH_MODES] == list(MATCH_MODES)
    with pytest.raises(OptionError):
        OPTION["match_mode"].parse("searches")
