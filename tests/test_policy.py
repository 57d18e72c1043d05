"""Policy loading: defaults, profiles, where the table is found, precedence, and errors that name the
file and the key at fault. Expected values are the ones DESIGN.md and the policy docstring promise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import CHECK_IDS, PolicyError, load_policy


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# The 1:1 differentials decide on rate ratios (ratio_tolerance); equitability combines other verdicts.
ABSOLUTE = [
    c for c in CHECK_IDS if c not in {"false_match_differential", "false_non_match_differential", "equitability"}
]
# 1:1 failure to acquire: one point, whatever the profile (it can hide a group's hardest comparisons).
FTA = {"failure_to_acquire_gap": 0.01}


def test_defaults() -> None:
    policy = load_policy()
    assert policy.profile == "default"
    assert policy.confidence == 0.95
    assert policy.inconclusive == "fail"  # conformance is shown, not assumed
    assert policy.min_subjects == 10
    # Clopper-Pearson limits: each verdict errs at most 2.5% one-sided down to 10 people a group.
    assert policy.interval == "clopper-pearson"
    assert policy.exact_test == "fisher"
    # Disparity between every two groups; a group whose women and men get a gender on under 90% of
    # faces cannot pass a check that reads labels.
    assert (policy.direction, policy.min_coverage) == ("pairwise", 0.9)
    assert policy.bootstrap == 2000
    assert dict(policy.tolerance) == {**dict.fromkeys(ABSOLUTE, 0.05), **FTA}
    assert policy.ratio_tolerance == 2.0
    assert policy.lost_comparisons == "fta_gap"
    assert policy.target_fmr == (1e-3, 1e-4)
    assert (policy.fmr_calibration, policy.impostors) == ("overall", "all")
    assert dict(policy.identity) == {}
    assert policy.source == "built-in defaults"


def test_ci_profile() -> None:
    policy = load_policy(profile="ci")
    # Not below 10: the error table's smallest design; 5 let a wrong fail reach 0.0355 (issue 13 red team).
    assert (policy.profile, policy.inconclusive, policy.min_subjects) == ("ci", "xfail", 10)
    assert policy.interval == "clopper-pearson"
    assert dict(policy.tolerance) == {**dict.fromkeys(ABSOLUTE, 0.05), **FTA}


def test_procurement_profile() -> None:
    policy = load_policy(profile="procurement")
    assert policy.profile == "procurement"
    assert (policy.interval, policy.exact_test, policy.min_subjects) == ("clopper-pearson", "boschloo", 30)
    assert dict(policy.tolerance) == {**dict.fromkeys(ABSOLUTE, 0.02), **FTA}
    assert policy.inconclusive == "fail"
    assert all(policy.tolerance_for(check_id) == 0.02 for check_id in ABSOLUTE if check_id not in FTA)


def test_pyproject_table_is_found_through_project_root(tmp_path: Path) -> None:
    pyproject = write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.conformance]\nmin_subjects = 20\n\n'
        "[tool.conformance.tolerance]\nmisgender_gap = 0.03\n",
    )
    policy = load_policy(project_root=tmp_path)
    assert policy.min_subjects == 20
    assert policy.tolerance_for("misgender_gap") == 0.03
    assert policy.tolerance_for("detection_failure_gap") == 0.05  # the others keep the default
    assert str(pyproject) in policy.source


def test_pyproject_without_a_conformance_table_gives_defaults(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 99\n')
    assert load_policy(project_root=tmp_path) == load_policy()
    assert load_policy(project_root=tmp_path / "nowhere") == load_policy()


def test_policy_file_with_a_top_level_table(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policy.toml", 'inconclusive = "pass"\nconfidence = 0.9\n[identity]\n"two-spirit" = "nonbinary"\n'
    )
    policy = load_policy(path)
    assert (policy.inconclusive, policy.confidence) == ("pass", 0.9)
    assert dict(policy.identity) == {"two-spirit": "nonbinary"}
    assert policy.source == str(path)


def test_policy_file_with_a_tool_conformance_table(tmp_path: Path) -> None:
    path = write(tmp_path / "conformance.toml", '[tool.conformance]\nexact_test = "boschloo"\nbootstrap = 500\n')
    policy = load_policy(path)
    assert (policy.exact_test, policy.bootstrap) == ("boschloo", 500)


def test_policy_file_wins_over_project_root(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.conformance]\nmin_subjects = 20\n")
    path = write(tmp_path / "policy.toml", "min_subjects = 7\n")
    assert load_policy(path, project_root=tmp_path).min_subjects == 7


def test_file_values_override_the_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policy.toml",
        'profile = "procurement"\nmin_subjects = 12\n[tolerance]\nmisgender_gap = 0.03\n',
    )
    policy = load_policy(path)
    assert policy.profile == "procurement"
    assert policy.min_subjects == 12  # the file's value, not the profile's 30
    assert policy.interval == "clopper-pearson"  # the rest of the profile stays
    assert policy.tolerance_for("misgender_gap") == 0.03
    assert policy.tolerance_for("same_person_consistency") == 0.02


def test_profile_argument_wins_over_the_files_profile(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.toml", 'profile = "procurement"\nmin_subjects = 12\n')
    policy = load_policy(path, profile="ci")
    assert (policy.profile, policy.inconclusive, policy.exact_test) == ("ci", "xfail", "fisher")
    assert policy.min_subjects == 12  # the file's other keys still apply on top


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("bogus = 1\n", ["'bogus'", "unknown policy key"]),
        ("[tolerance]\nno_such_check = 0.1\n", ["'no_such_check'", "unknown check"]),
        ("[tolerance]\nmisgender_gap = 1.5\n", ["tolerance.misgender_gap", "1.5"]),
        ("[tolerance]\nmisgender_gap = -0.1\n", ["tolerance.misgender_gap", "-0.1"]),
        ('inconclusive = "maybe"\n', ["inconclusive", "'maybe'", "fail, xfail, pass"]),
        ('interval = "wald"\n', ["interval", "'wald'", "wilson, clopper-pearson"]),
        ('exact_test = "chi2"\n', ["exact_test", "'chi2'", "fisher, boschloo"]),
        ("confidence = 1.5\n", ["confidence", "1.5"]),
        ("confidence = 0.3\n", ["confidence", "0.3"]),
        ('[identity]\n"two-spirit" = "other"\n', ["'two-spirit'", "'other'", "woman, man, nonbinary"]),
        ('profile = "nope"\n', ["'nope'", "default, ci, procurement"]),
        ("min_subjects = 2.5\n", ["min_subjects", "2.5"]),
        ('direction = "one-way"\n', ["direction", "'one-way'", "pairwise, reference"]),
        ("min_coverage = 1.5\n", ["min_coverage", "1.5", "from 0 to 1"]),
        ('min_coverage = "most"\n', ["min_coverage", "'most'", "a number"]),
    ],
    ids=[
        "unknown-key",
        "unknown-check",
        "tolerance-above-1",
        "tolerance-negative",
        "inconclusive",
        "interval",
        "exact-test",
        "confidence-high",
        "confidence-low",
        "identity-target",
        "profile",
        "min-subjects-type",
        "direction",
        "min-coverage-range",
        "min-coverage-type",
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, body: str, names: list[str]) -> None:
    path = write(tmp_path / "policy.toml", body)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for name in names:
        assert name in message


def test_errors_in_pyproject_name_its_table(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", '[tool.conformance]\ninterval = "wald"\n')
    with pytest.raises(PolicyError, match=r"\[tool\.conformance\]: interval = 'wald'") as caught:
        load_policy(project_root=tmp_path)
    assert str(pyproject) in str(caught.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.toml", "confidence = [\n")
    with pytest.raises(PolicyError, match="not valid TOML") as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


def test_missing_policy_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(PolicyError, match="policy file not found") as caught:
        load_policy(missing)
    assert str(missing) in str(caught.value)


def test_policy_error_is_a_conformance_error() -> None:
    from conformance import ConformanceError

    assert issubclass(PolicyError, ConformanceError)


def test_direction_and_coverage_floor_are_read_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.toml", 'direction = "reference"\nmin_coverage = 0.75\ninterval = "wilson"\n')
    policy = load_policy(path)
    assert (policy.direction, policy.min_coverage, policy.interval) == ("reference", 0.75, "wilson")
