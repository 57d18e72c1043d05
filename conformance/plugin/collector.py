"""Collecting results (on the controller under xdist) and writing the run's reports, summary and exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._text import printable, printable_lines
from ..options import reproduce_flags
from .fixtures import _context_payload
from .gate import _sealed_baseline
from .options import _active, _cli, _command, _gate_flags, _options, _pytest_args, _report_dir, _shown_path
from .state import (
    _ANSWERS_FIELD,
    _CONTEXT_ATTR,
    _DESELECTED_OUTPUT,
    _ELSEWHERE_ATTR,
    _GATE_ATTR,
    _NOT_RUN_ATTR,
    _RESULTS_ATTR,
    _SKIPPED_ATTR,
    _SYSTEMATIC_ATTR,
    USAGE_EXIT,
)
from .summary import (
    _junit_run_properties,
    _reason,
    _verdict_exit,
    provenance_lines,
    run_summary,
    verdict_exit_status,
)

if TYPE_CHECKING:
    from ..report import Report


def _append_regular(path: str, text: str) -> None:
    """Append ``text`` to ``path`` if it is (or becomes) a regular file; OSError otherwise, never a wait.

    ``GITHUB_STEP_SUMMARY`` comes from the environment: a named pipe there with no reader made every
    run hang at its end (red team 15c). Opened without blocking and checked before writing.
    """
    import errno
    import stat

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


class _Collector:
    """Gathers results from test reports, which on the xdist controller come from the workers.

    It also keeps what it needs to account for every planned check that has no result: which were
    deselected (``-k``, ``-m``, ``--deselect``; an xdist worker hands its list over at the end),
    which raised, and whether the run stopped early (``-x``, ``--maxfail``).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # As they travel from xdist workers: plain JSON types, read into a Report once at the end.
        self.results: list[dict[str, Any]] = []
        self.context: dict[str, Any] = {}
        self.skipped: list[dict[str, Any]] = []
        self.not_run: dict[str, dict[str, str]] = {}  # check id -> cause and reason
        self.deselected: list[str] = []  # check ids whose test pytest's arguments deselected
        self.gate: dict[str, Any] = {}
        self.report_dir: Path | None = None
        self.stopped = ""
        self.exit_reason = ""  # why the run exits 1 although every test passed, if it does
        self.checked = False  # whether any result came from a test other than the regression gate
        self.interrupted = ""  # pytest.exit() (a user's conftest may call it with exit status 0)
        self.ctrl_c = False  # Ctrl-C: no verdict and no report, the earlier reports stay as they were
        self.signal: BaseException | None = None  # the Ctrl-C (KeyboardInterrupt) or SIGTERM (Terminated) that came
        self.late_signal: BaseException | None = None  # one held back while the reports were put in place
        self.write_error = ""  # why the reports could not be written (the previous ones are kept)
        self.results_interrupted_in_writing = False  # the interruption came as the reports were being written
        self.systematic = ""  # the message of a systematic failure that stopped the run
        self.collected = False  # whether any check of the kit's suite was collected in this session
        self.answers: tuple[str, str] | None = None  # xdist: the first worker's name and digest of its answers
        self._report: Report | None = None

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if item.get_closest_marker("conformance") is not None:
            self.collected = True

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C: no verdict and no report. ``pytest.exit()``: the checks not reached are not run, and the
        run is no verdict (its reports say incomplete)."""
        if excinfo.errisinstance(KeyboardInterrupt):
            self.ctrl_c = True
            self.signal = excinfo.value
            return
        message = " ".join(str(getattr(excinfo.value, "msg", "") or excinfo.value).split())
        self.interrupted = f"{excinfo.typename}: {message}" if message else excinfo.typename

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("conformance")
            if marker is not None and marker.args:
                self.deselected.append(str(marker.args[0]))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist: a worker's deselected checks (pytest_deselected is not forwarded to the controller)."""
        self.deselected.extend(getattr(node, "workeroutput", {}).get(_DESELECTED_OUTPUT, []))

    @pytest.hookimpl(tryfirst=True)  # before a hook that may stop the session (pytest.exit in a conftest)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        skipped = getattr(report, _SKIPPED_ATTR, None)
        if skipped:
            self.skipped.append(dict(skipped))
        systematic = getattr(report, _SYSTEMATIC_ATTR, None)
        if systematic and not self.systematic:
            self.systematic = str(systematic)
        not_run = getattr(report, _NOT_RUN_ATTR, None)
        for entry in ([not_run] if not_run else []) + list(getattr(report, _ELSEWHERE_ATTR, None) or []):
            self.not_run.setdefault(str(entry["id"]), {k: str(v) for k, v in entry.items() if k != "id"})
        gate = getattr(report, _GATE_ATTR, None)
        if gate:
            self.gate = dict(gate)
        if report.when != "call":
            return
        results = getattr(report, _RESULTS_ATTR, [])
        if results and not gate:
            self.checked = True  # a check's own test (or a user's) made results, not the gate alone
        self.results.extend(results)
        context = dict(getattr(report, _CONTEXT_ATTR, {}))
        answers = context.pop(_ANSWERS_FIELD, None)
        if not self.context:
            self.context = context
        if answers is not None:
            self._same_answers(dict(answers), context)

    def _same_answers(self, answers: dict[str, str], context: dict[str, Any]) -> None:
        """xdist: every worker's checks must stand on the same answers, or the run gives no verdict (exit 2)."""
        worker, digest = answers["worker"], answers["digest"]
        if self.answers is None:
            self.answers = (worker, digest)
        elif digest != self.answers[1] and not self.systematic:
            from ..run.sharing import different_answers

            analyzer = self.context.get("analyzer", {})
            name = str(analyzer.get("source") or analyzer.get("name") or "the analyzer")
            first = (self.answers[0], list(self.context.get("photos", [])))
            self.systematic = different_answers(name, first, (worker, list(context.get("photos", []))))

    def _reasons(self) -> dict[str, dict[str, str]]:
        """Why each planned check without a result has none, as far as this process can tell."""
        reasons = dict(self.not_run)
        for check_id in self.deselected:
            reasons.setdefault(
                check_id,
                {"cause": "deselected", "reason": "deselected by pytest's arguments (-k, -m or --deselect)"},
            )
        for skipped in self.skipped:
            reasons.setdefault(
                str(skipped["id"]), {"cause": "skipped", "reason": f"skipped: {skipped.get('reason', '')}"}
            )
        if self.interrupted:
            reasons["*"] = {"cause": "stopped", "reason": f"not reached: the run was interrupted ({self.interrupted})"}
        elif self.stopped:
            reasons["*"] = {"cause": "stopped", "reason": f"not reached: pytest stopped the run ({self.stopped})"}
        else:
            reasons["*"] = {"cause": "no result", "reason": "no test of this run produced a result for it"}
        return reasons

    def _load_context(self) -> None:
        """The run's context when no check sent one (every planned check was deselected or stopped)."""
        if self.context or not self.deselected or not _active(self.config):
            return
        from ..errors import ConformanceError
        from ..run.context import load_context

        try:
            ctx = load_context(_options(self.config))
        except ConformanceError:
            return  # the fixtures said what is wrong
        self.context = _context_payload(ctx)

    def report(self) -> Report:
        """The run's report, made once from what the tests recorded."""
        if self._report is None:
            from ..reporting import build_report
            from ..results import CheckResult

            context = dict(self.context)
            options = _options(self.config)
            run = dict(context.get("run", {}))
            # Made here, on the controller: a worker does not know the command conformance run was given.
            run["pytest_args"] = _pytest_args(self.config)
            # The gate's options belong to the run: its reproduce line must gate again (issue 14, red team).
            run["flags"] = [*run.get("flags", reproduce_flags(options)), *_gate_flags(self.config)]
            run["command"] = _command(self.config, list(run["flags"]))
            run["checks_chosen"] = bool(options.checks)
            if self._gate_only(run.get("checks") or ()):
                run["gate_only"] = True  # the exit status is the gate's: the writers say so beside the verdict
            # Where the flags' relative paths are relative to: conformance verify reads them from there.
            run["cwd"] = str(self.config.invocation_params.dir)
            context["run"] = run
            if self.gate and isinstance(context.get("evidence"), dict):
                context["evidence"] = {**context["evidence"], "baseline": _sealed_baseline(self.gate, options)}
            # A check's results come once from its test and once more from the gate, when both ran.
            unique = {(r.get("id"), r.get("threshold")): r for r in reversed(self.results)}
            # Read once here, typed, as they came from the tests (CheckResult.to_dict, through xdist's channel).
            results = [CheckResult.from_dict(r, where=f"{r.get('id')}'s result") for r in reversed(unique.values())]
            self._report = build_report(
                results,
                context=context,
                skipped=self.skipped,
                regression=self.gate or None,
                not_run=self._reasons(),
            )
        return self._report

    @pytest.hookimpl(tryfirst=True)  # before JUnit XML is written: it gets the not-run checks too
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            # An xdist worker sends its results inside the test reports, its deselected checks here.
            self.config.workeroutput[_DESELECTED_OUTPUT] = list(self.deselected)  # type: ignore[attr-defined]
            return
        if self.ctrl_c:
            # A report of the checks that happened to finish would read as a verdict on fewer checks, and
            # would replace the last whole run's reports: none is written (the terminal summary says so).
            _junit_interrupted(self.config)
            self._interrupted_status(session)
            return
        stop = session.shouldfail or session.shouldstop
        self.stopped = stop if isinstance(stop, str) else ""
        if self.systematic:
            # As conformance run does: the run stopped on a fault of the setup, and no verdict is built on it.
            session.exitstatus = USAGE_EXIT
            return
        if not self.interrupted:
            self._load_context()  # never after Ctrl-C: loading may mean calling a vendor
        if not self.context:
            if self.collected and self.interrupted and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # interrupted before any check: no verdict
            return
        report = self.report()
        new_status = self._exit_status(report, session.exitstatus)
        # Say why when every test passed and the verdict fails the run (not for the gate alone).
        self.exit_reason = _verdict_exit(report) if self.checked and new_status != session.exitstatus else ""
        session.exitstatus = new_status
        _junit_run_properties(self.config, report)
        self.report_dir = _report_dir(self.config)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        from ..reporting import render_markdown
        from ..reporting.markdown import render_gate_summary

        # Every run that recorded a result gets its reports, whichever way its tests made the checks.
        if not self._write_reports(session, report):
            return
        if summary:
            # GitHub Actions shows this file as the job's summary; appended, as other steps may write too.
            try:
                gate_alone = report.regression is not None and report.run.fields.get("gate_only") is True
                text = render_gate_summary(report) if gate_alone else render_markdown(report)
                _append_regular(summary, text + "\n")
            except OSError as exc:  # the job's summary is a courtesy: the run's reports are written
                print(
                    printable(f"conformance: WARNING: cannot append to GITHUB_STEP_SUMMARY {summary}: {exc.strerror}"),
                    file=sys.stderr,
                )

    def _write_reports(self, session: pytest.Session, report: Report) -> bool:
        """Write the three reports as one unit (see conformance.report_folder); False if none was written."""
        from ..report_folder import ReportWriteError, write_reports
        from ..reporting import write_html, write_json, write_markdown

        assert self.report_dir is not None
        cli = _cli(self.config)

        def written() -> None:
            if cli is not None:
                cli.reports_written = True

        writers = {
            "report.json": lambda path: write_json(report, path),
            "report.md": lambda path: write_markdown(report, path),
            "report.html": lambda path: write_html(report, path),
        }
        try:
            done = write_reports(self.report_dir, writers, on_written=written)
        except ReportWriteError as exc:
            self.write_error = printable(f"conformance: error: {exc}")
            self.report_dir = None
            session.exitstatus = USAGE_EXIT
            return False
        except KeyboardInterrupt as exc:  # before the reports were put in place: the previous ones are kept
            self.ctrl_c, self.signal, self.report_dir = True, exc, None
            self.results_interrupted_in_writing = True
            if cli is not None:
                cli.interrupted, cli.signal = True, exc
            _junit_interrupted(self.config)
            self._interrupted_status(session)
            return False
        if done.interrupted is not None:  # came while they were put in place: they are whole, and this run's
            self.late_signal = done.interrupted
            if cli is not None:
                cli.interrupted, cli.signal = True, done.interrupted
            self._interrupted_status(session)
        return True

    def _interrupted_status(self, session: pytest.Session) -> None:
        """pytest's status for an interrupted session; 143 for SIGTERM, which a CI system reads as terminated."""
        from .._signals import Terminated, exit_code

        stopped = self.late_signal or self.signal
        session.exitstatus = exit_code(stopped) if isinstance(stopped, Terminated) else pytest.ExitCode.INTERRUPTED

    @pytest.hookimpl(specname="pytest_sessionfinish", wrapper=True, tryfirst=True)
    def pytest_sessionfinish_exit_status(self, session: pytest.Session) -> Any:
        """Hold the kit's exit status against hooks that run after the report (a conftest setting it to 0)."""
        try:
            return (yield)
        finally:
            if self.ctrl_c or self.late_signal is not None:
                self._interrupted_status(session)
            elif self.write_error:
                session.exitstatus = USAGE_EXIT
            elif self._report is not None and not self.systematic:
                session.exitstatus = self._exit_status(self._report, session.exitstatus)
            elif self.systematic and not hasattr(self.config, "workerinput"):
                session.exitstatus = USAGE_EXIT

    def _exit_status(self, report: Report, status: int) -> int:
        """The kit's verdict decides, except in a run of the regression gate alone (``-k regression``),
        whose exit status is the gate's: it makes every check to compare them, and says if any regressed."""
        return status if self._gate_only(report.planned) else verdict_exit_status(report, status)

    def _gate_only(self, planned: Iterable[str]) -> bool:
        """Whether the regression gate was the run's only test of the kit (``-k regression``): every planned
        check's own test deselected, the gate's results the only ones."""
        planned = set(planned)
        return bool(self.gate) and bool(planned) and planned <= set(self.deselected)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        def say(text: str) -> None:
            # Group names, reasons, paths and the analyzer's name are data: each line goes out escaped.
            for line in printable_lines(text).split("\n"):
                terminalreporter.write_line(line)

        if self.ctrl_c and _active(config):
            terminalreporter.section("conformance verdicts")
            say(self.interrupted_message())
            return
        if self.systematic:
            terminalreporter.section("conformance verdicts")
            say(self.systematic.removeprefix("conformance: "))
            say(f"conformance verdict: NONE: the run stopped (exit {USAGE_EXIT})")
            return
        if not self.context:
            if self.gate:  # the gate alone (e.g. -k regression): still say what it found
                say(self.gate["summary"])
            return
        from ..assertions import result_label, verdict_line

        terminalreporter.section("conformance verdicts")
        report = self.report()
        for line in provenance_lines(report):
            say(printable(line))
        for check in report.checks:  # in the order of the check ids
            if str(check.verdict) in ("not run", "not applicable"):
                label = str(check.verdict).upper()
                say(printable(f"{label:<14} {result_label(check):<28}  {_reason(check)}"))
            else:
                say(verdict_line(check))
        if report.regression is not None:
            say(report.regression.summary)
        for line in run_summary(report, gate_exit=exitstatus if self._gate_only(report.planned) else None):
            say(printable(line))
        if self.exit_reason:
            say(self.exit_reason)
        if self.report_dir is not None:
            names = ", ".join(
                _shown_path(self.report_dir / name) for name in ("report.json", "report.md", "report.html")
            )
            say(printable(f"reports: {names}"))
        if self.write_error:
            say(self.write_error)
            say(f"conformance: the verdict above is in no report: the reports could not be written (exit {USAGE_EXIT})")
        if self.late_signal is not None:
            from .._signals import signal_name

            say(
                f"conformance: INTERRUPTED ({signal_name(self.late_signal)}) as the reports were put in place: they "
                "were finished first, whole and this run's; the exit status says the run was interrupted"
            )

    def interrupted_message(self) -> str:
        """What an interrupted run says instead of its verdicts."""
        from .._signals import signal_name

        done = sorted({str(r.get("id")) for r in self.results})
        where = f"; the reports in {_report_dir(self.config)}, if any, are an earlier run's"
        finished = (
            f" ({len(done)} check{'s' if len(done) != 1 else ''} had finished: {', '.join(done)})" if done else ""
        )
        when = (
            "while the reports were written" if self.results_interrupted_in_writing else f"during the checks{finished}"
        )
        return printable(
            f"conformance: INTERRUPTED ({signal_name(self.signal)}) {when}: no verdict, and no report written"
            f"{where}. Run the same command again for a verdict"
        )


def _junit_interrupted(config: pytest.Config) -> None:
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("conformance.verdict", "interrupted")
