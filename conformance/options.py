"""The one option table: every option of a conformance run, declared once.

Each :class:`Option` of :data:`OPTIONS` becomes

- a pytest option ``--conformance-<name>`` with ``dest="conformance_<name>"`` and an ini key of the
  same name (:mod:`conformance.plugin`, one option group);
- an argument ``--<name>`` of ``conformance run`` (:mod:`conformance.cli`);
- a field of :class:`~conformance.run.context.RunOptions` (:func:`run_options`), and a flag of the line
  that reproduces the run (:func:`reproduce_flags`, printed in the pytest header and kept in
  ``report.json``).

A value is parsed and validated once, by its option's parser, whichever way it came: pytest and
argparse call the parser as the option's ``type=`` (as pytest-randomly does), the plugin calls it on
ini values. A bad value gets one message that names it, ``'abc': the seed must be a whole number``,
after the spelling it came with (``argument --conformance-seed:``, ``argument --seed:``,
``ini conformance_seed:``).

Importing this module imports nothing heavy (the plugin imports it at start-up); parsers that need
more of the kit import it when a value is given.
"""

from __future__ import annotations

import argparse
import math
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._defaults import (  # leaves (F7)
    DEFAULT_LOOKS,
    DEFAULT_MATCH_MODE,
    DEFAULT_PRICE,
    DEFAULT_RECORD_MODE,
    DEFAULT_SEED,
)
from ._untrusted import shown
from .adapters.base import DEFAULT_TIMEOUT
from .run.execution import ExecutorSpec

if TYPE_CHECKING:
    from .run.context import RunOptions

__all__ = [
    "DEFAULT_MATCH_MODE",
    "DEFAULT_RECORD_MODE",
    "DEFAULT_SEED",
    "DEFAULT_TIMEOUT",
    "OPTION",
    "OPTIONS",
    "Option",
    "OptionError",
    "argparse_type",
    "parse_flags",
    "parse_positive",
    "parse_truth",
    "rebase",
    "rebase_analyzer",
    "reproduce_flags",
    "run_options",
]

PREFIX = "--conformance-"


class OptionError(ValueError):
    """A value an option cannot take; the message names the value and what the option takes."""


# -- parsers: text in, value out, OptionError naming the text otherwise --------------------------------


def _text(text: str) -> str:
    return text


_TRUTH = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def parse_truth(text: str) -> bool:
    """A flag's value in an ini file: true/false (yes/no, on/off, 1/0; any case), as pytest reads its own."""
    value = _TRUTH.get(str(text).strip().lower())
    if value is None:
        raise OptionError(f"{shown(str(text))}: a flag takes true or false")
    return value


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _checks(text: str) -> tuple[str, ...]:
    from .checks.check_ids import unknown_checks

    ids = _split(text)
    problem = unknown_checks(ids)
    if problem is not None:
        raise OptionError(problem)  # it names the unknown ids
    return ids


def _profile(text: str) -> str:
    from .policy import PROFILES

    if text not in PROFILES:
        raise OptionError(f"{shown(text)}: unknown profile; profiles: {', '.join(PROFILES)}")
    return text


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"{shown(text)}: the seed must be a whole number") from None


def _record_mode(text: str) -> str:
    from .recording.cassette import RECORD_MODES_HELP, record_mode

    try:
        return record_mode(text)  # pytest-recording's names; its "rewrite" becomes "all" there
    except ValueError:
        raise OptionError(f"{shown(text)}: {RECORD_MODES_HELP}") from None


def _match_mode(text: str) -> str:
    from .matching import MATCH_MODES_HELP, match_mode

    try:
        return match_mode(text)
    except ValueError:
        raise OptionError(f"{shown(text)}: {MATCH_MODES_HELP}") from None


def _thresholds(text: str) -> tuple[float, ...]:
    from .matching import is_similarity

    try:
        values = tuple(float(part) for part in _split(text))
    except ValueError:
        raise OptionError(f"{shown(text)}: give similarity thresholds as numbers, e.g. 80,90,95,99") from None
    if not all(is_similarity(v) for v in values):
        raise OptionError(f"{shown(text)}: thresholds are similarities from 0 to 100")
    return values


def _target_fmr(text: str) -> tuple[float, ...]:
    """Target false-match rates, each strictly between 0 and 1 (``1e-3,1e-4``), in the order given."""
    from .policy import is_target_fmr

    try:
        values = tuple(float(part) for part in _split(text))
    except ValueError:
        values = (math.nan,)
    if not values or not all(is_target_fmr(v) for v in values):
        raise OptionError(f"{shown(text)}: give target false-match rates between 0 and 1, e.g. 1e-3,1e-4")
    return values


def _looks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise OptionError(f"{shown(text)}: give the most looks as a whole number from 1 to 100")
    return value


def _executor(text: str) -> ExecutorSpec:
    from .errors import ConformanceError

    try:
        return ExecutorSpec.parse(text)
    except ConformanceError as exc:
        # ExecutorSpec names the value after "--executor"; the caller names the option as it was given.
        raise OptionError(str(exc).removeprefix("--executor ")) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise OptionError(f"{shown(text)}: give a positive number")
    return value


# conformance plan reads its options that are not the table's with the table's parsers where they take the same
# values (a positive number), so that a bad value gets the one message (red team 18 F3).
parse_positive = _positive


def argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` for argparse's ``type=``: its :class:`OptionError` as argparse's error, with the same message."""

    def typed(text: str) -> Any:
        try:
            return parse(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    typed.__name__ = getattr(parse, "__name__", "value").lstrip("_")  # argparse names a failed type by it
    return typed


# -- writers: a value back as the text of a command-line argument (quoted for a shell only in the reproduce line)


def _joined(value: Any) -> str:
    return ",".join(value)


def _number(value: Any) -> str:
    # Short where that loses nothing (80, not 80.0), else repr, the shortest text that reads back as the same
    # float: verify re-derives from this line, so a rounded number would re-run at another value (rt18 F2).
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _untrusted(value: Any) -> str:
    return ",".join(_number(v) for v in value)


@dataclass(frozen=True)
class Option:
    """One option of a run.

    ``name`` is the RunOptions field (``group_by``) unless ``field`` says otherwise; the spellings
    follow from it: ``--conformance-group-by``, ini ``conformance_group_by``, ``conformance run
    --group-by``. ``parse`` turns given text into the value (raising :class:`OptionError` naming the
    text) and ``show`` writes a value back as an argument's text (unquoted: the reproduce line quotes
    it for a shell). A ``flag`` takes no value (an ini
    bool). A ``tuning`` option says how a run is carried out, not what it audits: setting it alone
    does not turn the kit on. ``reproduce`` says when the option is part of the line that repeats the
    run: ``changed`` from its default, ``always``, or ``never`` (where reports go, the gate's
    baseline, display and caching). A ``path`` set in an ini file is relative to that file's folder
    (:func:`rebase`), as is the file in an ini file's analyzer (:func:`rebase_analyzer`).
    """

    name: str
    help: str
    parse: Callable[[str], Any] = _text
    show: Callable[[Any], str] = str
    default: Any = None
    metavar: str | None = None
    flag: bool = False
    tuning: bool = False
    reproduce: Literal["changed", "always", "never"] = "changed"
    path: bool = False
    field: str | None = ""  # "": the name; None: not a RunOptions field
    invert: bool = False  # the RunOptions field holds the flag's negation (--no-cache -> cache)
    cli_default: Any = None  # conformance run's default where it differs (report dir)
    negatable: bool = False  # conformance run also takes --no-<name>, and leaves it unset (None) by default

    @property
    def pytest_flag(self) -> str:
        """``--conformance-<name>``."""
        return PREFIX + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The pytest ``dest`` and ini key: ``conformance_<name>``."""
        return "conformance_" + self.name

    @property
    def cli_flag(self) -> str:
        """``conformance run``'s spelling: ``--<name>``."""
        return "--" + self.name.replace("_", "-")

    @property
    def run_field(self) -> str | None:
        """The :class:`~conformance.run.context.RunOptions` field this option sets, if any."""
        return self.name if self.field == "" else self.field

    def argparse_type(self, text: str) -> Any:
        """:attr:`parse` for argparse's ``type=`` (pytest's options, ``conformance run``'s and ``conformance plan``'s)."""
        return argparse_type(self.parse)(text)


OPTIONS: tuple[Option, ...] = (
    # In the order of the reproduce line (report.json's run.flags); the others at the end.
    Option(
        "demo",
        "audit the shipped demo (simulated predictions, emulated recordings) instead of a dataset of your own; "
        "what conformance run does with no --dataset",
        flag=True,
    ),
    Option(
        "demo_matching",
        "audit the shipped face-search demo (Congress-style: 535 probes against 500 arrest photos; simulated "
        "search results, emulated recordings)",
        flag=True,
    ),
    Option("dataset", "manifest (CSV or JSONL) of the dataset to audit", metavar="MANIFEST", path=True),
    Option("analyzer", "analyzer as NAME[:ARGUMENT], e.g. predictions:results.jsonl", metavar="NAME[:ARG]"),
    Option(
        "reference",
        "reference group the others are compared with (default: cis, or the largest group with --group-by)",
        metavar="GROUP",
    ),
    Option(
        "policy",
        "policy TOML with a [tool.conformance] table (default: the project's pyproject.toml)",
        metavar="FILE",
        path=True,
    ),
    Option("profile", "named policy profile: default, ci or procurement", parse=_profile, metavar="NAME"),
    Option(
        "group_by",
        "manifest column(s) to group by, comma-separated for intersections (default: cis/trans/nonbinary)",
        parse=_split,
        show=_joined,
        default=(),
        metavar="COL[,COL]",
    ),
    Option(
        "checks",
        "comma-separated check ids to run (default: all of the dataset's kind; see conformance checks)",
        parse=_checks,
        show=_joined,
        default=(),
        metavar="ID[,ID]",
    ),
    Option(
        "seed",
        "seed of every bootstrap, printed in the header so a run can be repeated",
        parse=_seed,
        default=DEFAULT_SEED,
        metavar="N",
        reproduce="always",
    ),
    Option(
        "record_mode",
        "the kit's vendor recordings, with pytest-recording's mode names: none replays only, offline (default); "
        "once records what is missing until a recording is complete; new_episodes records anything new; all (or "
        "rewrite) records everything anew. pytest-recording's own --record-mode is for your cassettes and never "
        "makes the kit call a vendor",
        parse=_record_mode,
        default=DEFAULT_RECORD_MODE,
        metavar="MODE",
        tuning=True,
    ),
    Option(
        "cassette_dir",
        "directory of recordings (default: cassettes/ in the rootdir; in the working directory for conformance run)",
        metavar="DIR",
        path=True,
    ),
    Option(
        "allow_live", "let a recording call a non-loopback endpoint (a real, billed vendor API)", flag=True, tuning=True
    ),
    Option(
        "accept_vendor_retention",
        "go live although no AI services opt-out policy was seen: accept, on the record, that the vendor may keep "
        "and use the photos (conformance.retention)",
        flag=True,
        tuning=True,
    ),
    Option(
        "price_per_1000",
        "price of 1,000 images sent, for the calls and cost a live run shows before its first call (default "
        f"{DEFAULT_PRICE.per_1000:g} {DEFAULT_PRICE.currency}: {DEFAULT_PRICE.source}); as conformance plan's",
        parse=_positive,
        show=_number,
        metavar="PRICE",
        tuning=True,
        reproduce="never",  # what a run is priced at changes nothing it audits
    ),
    Option(
        "match_mode",
        "face matching as search (1:N, per probe; default) or compare (1:1, per probe-gallery pair)",
        parse=_match_mode,
        default=DEFAULT_MATCH_MODE,
        metavar="MODE",
    ),
    Option(
        "thresholds",
        "similarity thresholds of the face-matching checks, comma-separated (default: 80,90,95,99)",
        parse=_thresholds,
        show=_untrusted,
        default=(),
        metavar="T[,T]",
    ),
    Option(
        "target_fmr",
        "1:1 comparisons: target false-match rates the thresholds are fixed to, comma-separated; the first the "
        "data support binds (default: the policy's target_fmr, 1e-3,1e-4)",
        parse=_target_fmr,
        show=_untrusted,
        default=(),
        metavar="FMR[,FMR]",
    ),
    Option(
        "executor",
        "where analyzer calls run: serial (default), threads:N, processes:N, dask-local:N or dask:ADDRESS",
        parse=_executor,
        default=ExecutorSpec(),  # serial
        metavar="SPEC",
        tuning=True,
    ),
    Option(
        "rate",
        "live calls per second at most (token bucket; default for a live Rekognition endpoint: 5)",
        parse=_positive,
        show=_number,
        metavar="CALLS_PER_S",
        tuning=True,
    ),
    Option(
        "timeout",
        f"seconds to wait for one answer of a service before retrying, then failing that photo "
        f"(default: {DEFAULT_TIMEOUT:g})",
        parse=_positive,
        show=_number,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        tuning=True,
    ),
    Option(
        "sequential",
        "send photos in batches of people (in an order the data fix, stratified within each group by identity "
        "kind and by one photo or two and more) and stop when every check is settled (a 'not applicable' only "
        "when it holds for the whole manifest); error spent over the looks "
        "(docs/explanation/methodology.md#sequential-audits)",
        flag=True,
        tuning=True,
    ),
    Option(
        "looks",
        f"with --sequential: the most looks at the data, at equal shares of each group's people (default {DEFAULT_LOOKS})",
        parse=_looks,
        show=str,
        default=DEFAULT_LOOKS,
        metavar="K",
        tuning=True,
    ),
    Option(
        "report_dir",
        "directory to write report.json, report.md and report.html into (conformance run: conformance-report)",
        metavar="DIR",
        reproduce="never",
        field=None,
        cli_default="conformance-report",
        path=True,
    ),
    Option(
        "baseline",
        "a previous run's report.json: fail when a gap got worse than it beyond noise (regression gate)",
        metavar="REPORT",
        reproduce="never",
        field=None,
        path=True,
    ),
    Option(
        "baseline_any_dataset",
        "let --baseline name a report made on another dataset (a different content hash); without it that is a "
        "usage error, as gaps measured on other photos are not comparable",
        flag=True,
        tuning=True,
        reproduce="never",
        field=None,
    ),
    Option(
        "progress",
        "show a progress bar with rate and ETA on stderr while the analyzer runs (conformance run: when stderr "
        "is a terminal)",
        flag=True,
        default=False,
        tuning=True,
        reproduce="never",
        negatable=True,
    ),
    Option(
        "no_cache",
        "neither read nor keep replayed observations in .conformance_cache (docs/how-to/large-runs.md)",
        flag=True,
        tuning=True,
        reproduce="never",
        field="cache",
        invert=True,
    ),
)
OPTION: Mapping[str, Option] = {option.name: option for option in OPTIONS}


def _under(path: str, base: Path) -> str:
    given = Path(path).expanduser()
    return path if not path or given.is_absolute() else str(base / given)


def rebase_analyzer(spec: str, base: Path) -> str:
    """``spec`` with a relative file in its argument read against ``base`` (other specs as they are).

    Which part of the argument is a file is the adapter's factory's declaration
    (:func:`conformance.adapters.registry.argument_file`), the kit's adapters' and third parties' alike: a factory
    that declares nothing has its ``FILE[?OPTIONS]`` read against ``base`` when that file is there.

    >>> rebase_analyzer("predictions:vendor.jsonl", Path("/project"))
    'predictions:/project/vendor.jsonl'
    >>> rebase_analyzer("python:models/mine.py:analyze", Path("/project"))
    'python:/project/models/mine.py:analyze'
    >>> rebase_analyzer("python:mymodel:analyze", Path("/project"))  # a module name, not a path
    'python:mymodel:analyze'
    """
    from .adapters.registry import argument_file

    found = argument_file(spec)
    if found is None:
        return spec
    name = spec.partition(":")[0]
    rebased = _under(found.file, base)
    if not found.certain and not Path(rebased).is_file():
        return spec
    return f"{name}:{rebased}{found.rest}"


def rebase(option: Option, value: Any, base: Path) -> Any:
    """An ini file's value of ``option`` with its relative paths read against ``base``, that file's folder."""
    if option.path and isinstance(value, str):
        return _under(value, base)
    if option.name == "analyzer" and isinstance(value, str):
        return rebase_analyzer(value, base)
    return value


def run_options(values: Mapping[str, Any], *, project_root: str | None) -> RunOptions:
    """The :class:`~conformance.run.context.RunOptions` of parsed ``values``, keyed by option name.

    A missing or ``None`` value is the option's default, except that a negatable flag given as
    ``None`` means "decide at run time" (``conformance run``'s progress bar when stderr is a terminal).
    """
    from .run.context import RunOptions

    fields: dict[str, Any] = {}
    for option in OPTIONS:
        if option.run_field is None:
            continue
        value = values.get(option.name, option.default)
        if option.flag:
            if value is not None or not option.negatable:
                value = bool(value) != option.invert
        elif value is None:
            value = option.default
        fields[option.run_field] = value
    return RunOptions(**fields, project_root=project_root)


def reproduce_flags(options: RunOptions) -> list[str]:
    """The pytest flags that repeat the run ``options`` describes (the pytest header, ``report.json``)."""
    out = []
    for option in OPTIONS:
        if option.reproduce == "never" or option.run_field is None:
            continue
        value = getattr(options, option.run_field)
        if option.flag:
            if value:
                out.append(option.pytest_flag)
        elif option.reproduce == "always" or value != option.default:
            out.append(f"{option.pytest_flag}={shlex.quote(option.show(value))}")
    return out


def parse_flags(flags: Iterable[str], *, project_root: str | None) -> RunOptions:
    """The :class:`~conformance.run.context.RunOptions` that a reproduce line stands for (``report.json``'s ``run.flags``).

    The inverse of :func:`reproduce_flags`: each flag is read by its option's parser. Raises
    :class:`OptionError` naming a flag that is not an option of the table, or a value it cannot take.
    """
    values: dict[str, Any] = {}
    for flag in flags:
        # A value was shell-quoted for the line; one flag is one word once unquoted.
        words = shlex.split(flag)
        word = words[0] if len(words) == 1 else flag
        name, given, text = word.removeprefix(PREFIX).partition("=")
        option = OPTION.get(name.replace("-", "_"))
        if not word.startswith(PREFIX) or option is None or option.flag == bool(given):
            raise OptionError(f"{shown(flag)}: not an option of a conformance run")
        values[option.name] = True if option.flag else option.parse(text)
    return run_options(values, project_root=project_root)
