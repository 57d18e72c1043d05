"""The option table: one declaration per option feeds pytest, its ini keys, ``conformance run`` and RunOptions.

A bad value gets the same message naming it whichever way it came (``conformance run``, a pytest
option, an ini key); the messages expected below are written out by hand.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from conformance import cli
from conformance.options import (
    DEFAULT_SEED,
    DEFAULT_TIMEOUT,
    OPTION,
    OPTIONS,
    OptionError,
    parse_flags,
    reproduce_flags,
    run_options,
)
from conformance.run.context import RunOptions
from conformance.run.execution import ExecutorSpec

pytest_plugins = ["pytester"]

CHECKS = (
    "misgender_gap, nonbinary_representability, same_person_consistency, transformation_invariance, "
    "confidence_calibration, detection_failure_gap, false_match_gap, false_non_match_gap, false_match_differential, "
    "false_non_match_differential, failure_to_acquire_gap, equitability"
)
HOW_EXECUTORS = (
    "give serial, threads:N, processes:N, dask-local:N or dask:ADDRESS (e.g. threads:8, processes:2, "
    "dask:tcp://scheduler:8786)"
)

# (option, bad value, the message that names it), each message written out by hand.
BAD = [
    ("seed", "abc", "'abc': the seed must be a whole number"),
    ("seed", "1.5", "'1.5': the seed must be a whole number"),
    ("timeout", "0", "'0': give a positive number"),
    ("timeout", "nan", "'nan': give a positive number"),
    ("rate", "-2", "'-2': give a positive number"),
    ("rate", "fast", "'fast': give a positive number"),
    ("thresholds", "80,x", "'80,x': give similarity thresholds as numbers, e.g. 80,90,95,99"),
    ("thresholds", "80,101", "'80,101': thresholds are similarities from 0 to 100"),
    ("checks", "misgender_gapp", f"unknown check 'misgender_gapp'; checks: {CHECKS}"),
    ("checks", "misgender_gap,nope", f"unknown check 'nope'; checks: {CHECKS}"),
    ("match_mode", "both", "'both': search (1:N) or compare (1:1)"),
    (
        "record_mode",
        "sometimes",
        "'sometimes': record modes: none (replay only, the default), once, new_episodes, all (or rewrite)",
    ),
    ("profile", "strict", "'strict': unknown profile; profiles: default, ci, procurement"),
    ("executor", "ray:4", f"'ray:4': unknown executor; {HOW_EXECUTORS}"),
    ("executor", "threads:0", "'threads:0': the number of workers must be from 1 to 1024"),
]
BAD_IDS = [f"{name}={value}" for name, value, _ in BAD]


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=BAD_IDS)
def test_the_parser_names_the_bad_value(name: str, value: str, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        OPTION[name].parse(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=BAD_IDS)
def test_conformance_run_gives_the_same_message(
    name: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = "--" + name.replace("_", "-")
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", f"{flag}={value}"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.splitlines() == [f"conformance run: error: argument {flag}: {message} (see conformance run --help)"]


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=BAD_IDS)
def test_a_pytest_option_gives_the_same_message(name: str, value: str, message: str, pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest(f"--conformance-{name.replace('_', '-')}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"error: argument --conformance-{name.replace('_', '-')}: {message}" in result.stderr.str()


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=BAD_IDS)
def test_an_ini_key_gives_the_same_message(name: str, value: str, message: str, pytester: pytest.Pytester) -> None:
    # The demo turns the kit on, so that tuning options (timeout, rate...) are read too.
    pytester.makeini(f"[pytest]\nconformance_demo = true\nconformance_{name} = {value}\n")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: ini conformance_{name}: {message}" in result.stderr.str()


def test_good_values_parse_to_what_the_run_uses() -> None:
    assert OPTION["seed"].parse("-3") == -3
    assert OPTION["group_by"].parse(" skin_type , age_band,") == ("skin_type", "age_band")
    assert OPTION["thresholds"].parse("80, 99.5") == (80.0, 99.5)
    assert OPTION["executor"].parse("Threads: 4") == ExecutorSpec("threads", 4)
    assert OPTION["record_mode"].parse("rewrite") == "all"  # pytest-recording's name for all, read as all
    assert OPTION["timeout"].parse("2.5") == 2.5


def test_every_option_is_one_run_field_and_every_field_one_option() -> None:
    fields = [f.name for f in dataclasses.fields(RunOptions) if f.name != "project_root"]
    mapped = [option.run_field for option in OPTIONS if option.run_field is not None]
    assert sorted(mapped) == sorted(fields)
    assert len(set(mapped)) == len(mapped)


def test_spellings_follow_from_the_name() -> None:
    option = OPTION["group_by"]
    assert (option.pytest_flag, option.dest, option.cli_flag) == (
        "--conformance-group-by",
        "conformance_group_by",
        "--group-by",
    )


def test_conformance_run_takes_every_option(pytester: pytest.Pytester) -> None:
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    run = commands.choices["run"]
    spelled = {flag for action in run._actions for flag in action.option_strings}
    assert {option.cli_flag for option in OPTIONS} <= spelled
    assert "--no-progress" in spelled  # progress is left to the terminal unless said either way
    shown = pytester.runpytest("--help").stdout.str()
    for option in OPTIONS:
        assert option.pytest_flag in shown
        # Every key is read as text and parsed by the table (a flag by parse_truth: its error names the key).
        assert f"{option.dest} (string)" in shown


def test_defaults_are_the_tables() -> None:
    options = run_options({}, project_root=None)
    assert options == RunOptions()
    assert (options.seed, options.timeout, options.record_mode) == (DEFAULT_SEED, DEFAULT_TIMEOUT, "none")
    assert options.executor == ExecutorSpec()
    assert options.cache is True
    assert options.progress is False
    assert "(default: 30)" in OPTION["timeout"].help


def test_the_reproduce_line_parses_back_to_the_same_run() -> None:
    options = run_options(
        {
            "dataset": "my photos/manifest.csv",
            "analyzer": "predictions:out.jsonl",
            "group_by": ("skin type", "age_band"),
            "reference": "lighter",
            "checks": ("misgender_gap",),
            "seed": 7,
            "record_mode": "new_episodes",
            "cassette_dir": "cassettes",
            "allow_live": True,
            "match_mode": "compare",
            "thresholds": (80.0, 99.5),
            "executor": ExecutorSpec("threads", 4),
            "rate": 2.5,
            "timeout": 12.0,
            "no_cache": True,  # not part of the run: not in the line
            "progress": True,
        },
        project_root="/somewhere",
    )
    flags = reproduce_flags(options)
    assert flags[:2] == [
        "--conformance-dataset='my photos/manifest.csv'",
        "--conformance-analyzer=predictions:out.jsonl",
    ]
    assert "--conformance-record-mode=new_episodes" in flags
    again = parse_flags(flags, project_root="/somewhere")
    assert again == options  # cache and progress are not compared: they are not part of what was run
    assert again.cache is True
    assert options.cache is False


def test_the_default_run_reproduces_with_its_seed_alone() -> None:
    assert reproduce_flags(RunOptions()) == [f"--conformance-seed={DEFAULT_SEED}"]
    assert reproduce_flags(RunOptions(demo=True)) == ["--conformance-demo", f"--conformance-seed={DEFAULT_SEED}"]


@pytest.mark.parametrize("flag", ["--seed=3", "--conformance-bogus=1", "--conformance-demo=yes", "--conformance-seed"])
def test_a_flag_that_is_not_an_option_is_named(flag: str) -> None:
    with pytest.raises(OptionError, match="not an option of a conformance run"):
        parse_flags([flag], project_root=None)


def test_a_reports_flags_give_back_its_options() -> None:
    flags = ["--conformance-demo-matching", "--conformance-seed=5", "--conformance-thresholds=85,95"]
    options = parse_flags(flags, project_root=None)
    assert (options.demo_matching, options.seed, options.thresholds) == (True, 5, (85.0, 95.0))
    assert reproduce_flags(options) == flags


def test_a_bad_flag_in_an_ini_file_names_its_key(pytester: pytest.Pytester) -> None:
    """rt18b F11: pytest's own bool ini type said only "invalid truth value 'maybe'"; the table's parser names
    the key and what a flag takes, as every other key's error does."""
    pytester.makeini("[pytest]\nconformance_demo = true\nconformance_sequential = maybe\n")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: ini conformance_sequential: 'maybe': a flag takes true or false" in result.stderr.str()


@pytest.mark.parametrize(("text", "value"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)])
def test_a_flag_in_an_ini_file_reads_as_pytest_reads_its_own(text: str, value: bool) -> None:
    from conformance.options import parse_truth

    assert parse_truth(text) is value


def test_an_ini_file_flag_turns_the_kit_on(pytester: pytest.Pytester) -> None:
    """A flag set only in the ini file (a TOML boolean here) is read: the demo runs, as with --conformance-demo."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nconformance_demo = true\n")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest("--co")
    assert result.ret == pytest.ExitCode.OK
    assert "conformance: the shipped demo (simulated predictions, emulated recordings)" in result.stdout.str()
