"""``conformance plan`` reads the options it shares with ``conformance run`` through the one option table.

Red team 18 F3: plan had its own parsers for --looks and --price-per-1000, a seed that refused what run took
(and a seed of -3 crashed run's 1:1 check inside numpy), --profile checked only when the policy was loaded,
--group-by split by hand, and the default looks written twice.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance import _defaults, options, sequential
from conformance.cli import main
from conformance.demo import MANIFEST, PREDICTIONS

REPO = Path(__file__).resolve().parent.parent
PLAN = ["plan", "--check", "misgender_gap", "--reference-rate", "0.04", "--gap", "0.15", "--tolerance", "0.05"]
RUN = ["run", "--dataset", str(MANIFEST), "--analyzer", f"predictions:{PREDICTIONS}"]


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The usage error ``argv`` ends in, without the command's name and its --help hint."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    return line.removeprefix(f"conformance {argv[0]}: error: ").removesuffix(f" (see conformance {argv[0]} --help)")


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--looks", "0", "argument --looks: '0': give the most looks as a whole number from 1 to 100"),
        ("--profile", "bogus", "argument --profile: 'bogus': unknown profile; profiles: default, ci, procurement"),
        ("--seed", "abc", "argument --seed: 'abc': the seed must be a whole number"),
        ("--price-per-1000", "-1", "argument --price-per-1000: '-1': give a positive number"),
        (
            "--target-fmr",
            "2",
            "argument --target-fmr: '2': give target false-match rates between 0 and 1, e.g. 1e-3,1e-4",
        ),
    ],
)
def test_a_bad_value_gets_the_same_message_from_plan_and_run(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    sequential_flag = ["--sequential"] if flag == "--looks" else []
    assert _error(capsys, [*PLAN, *sequential_flag, flag, value]) == message
    assert _error(capsys, [*RUN, *sequential_flag, flag, value]) == message


def test_a_column_the_manifest_lacks_gets_the_same_message_from_plan_and_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--manifest", str(MANIFEST), "--replicates", "0", "--group-by", "no_such, column"]) == 2
    planned = capsys.readouterr().err.strip().splitlines()[-1]
    assert main([*RUN, "--group-by", " no_such,column", "--report-dir", "unused"]) == 2
    ran = capsys.readouterr().err.strip().splitlines()[-1]
    expected = (
        f"conformance: error: {MANIFEST}: cannot group by 'no_such', 'column': no such column; columns available: "
    )
    assert planned.startswith(expected)
    assert ran == planned


def test_plan_and_run_read_their_shared_options_with_the_tables_parsers() -> None:
    import argparse

    from conformance.cli import _parser

    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    plan = {a.dest: a for a in commands.choices["plan"]._actions}
    for name in ("seed", "profile", "policy", "group_by", "looks", "price_per_1000", "target_fmr"):
        option = options.OPTION[name]
        assert plan[name].option_strings == [option.cli_flag]
        # The parser is the option's own bound method: one parser, so one message.
        assert getattr(plan[name].type, "__func__", None) is options.Option.argparse_type, name
        assert getattr(plan[name].type, "__self__", None) is option, name
    assert plan["seed"].default == _defaults.DEFAULT_SEED
    assert plan["group_by"].default == ()
    assert options.OPTION["looks"].default is _defaults.DEFAULT_LOOKS is sequential.DEFAULT_LOOKS


def _plan(capsys: pytest.CaptureFixture[str], seed: str) -> dict[str, Any]:
    assert main([*PLAN, "--replicates", "200", "--seed", seed, "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_plan_takes_a_negative_seed_as_run_does(capsys: pytest.CaptureFixture[str]) -> None:
    # Plan refused --seed -3 ("0 or more") where run took it. A negative seed draws as its absolute value, as
    # Python's random.Random does with it (the run's variant plan): seed -3's plan is seed 3's.
    assert random.Random(-3).random() == random.Random(3).random()
    negative, positive = _plan(capsys, "-3"), _plan(capsys, "3")
    assert negative["people_per_group"] == positive["people_per_group"]
    assert json.dumps(negative).replace("seed -3", "seed 3") == json.dumps(positive)
    assert "seed -3" in json.dumps(negative)


def _two_models(root: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_two_models", REPO / "scripts" / "make_two_models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(root)


def _one_to_one(root: Path, seed: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable, "-m", "conformance", "run",
            "--dataset", "manifest.csv", "--analyzer", "embeddings:model_a.npy",
            "--group-by", "skin_type", "--reference", "I-II", "--checks", "false_match_differential",
            "--seed", seed, "--report-dir", f"seed{seed}",
        ],
        cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "non-negative" not in done.stdout + done.stderr
    report: dict[str, Any] = json.loads((root / f"seed{seed}" / "report.json").read_text(encoding="utf-8"))
    return report


def test_a_negative_seed_runs_the_one_to_one_check(tmp_path: Path) -> None:
    # Red team 18 F3: --seed -3 ended the 1:1 check in numpy's "ValueError: expected non-negative integer"
    # (its bootstrap seeded numpy with the run's seed as given).
    _two_models(tmp_path)
    negative, positive = _one_to_one(tmp_path, "-3"), _one_to_one(tmp_path, "3")
    ran = [c for c in negative["checks"] if c["id"] == "false_match_differential"]
    assert ran, json.dumps(negative)[:2000]
    assert {c["verdict"] for c in ran} <= {"pass", "fail", "inconclusive", "not applicable"}
    # The same bootstrap draws as seed 3: the same intervals, threshold by threshold.
    assert [c["comparisons"] for c in ran] == [
        c["comparisons"] for c in positive["checks"] if c["id"] == "false_match_differential"
    ]
    assert negative["seed"] == -3
