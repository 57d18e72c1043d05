"""What the console and JUnit XML say of a finished run: verdict lines, provenance, the exit status it earns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .._text import printable

if TYPE_CHECKING:
    from ..report import Report
    from ..results import CheckResult


def _junit_properties(result: CheckResult, suffix: str = "") -> list[tuple[str, str]]:
    """A check's figures as short JUnit XML properties (``--junitxml``), for CI systems that show them."""
    from .._format import fixed, interval

    def name(text: str) -> str:
        # pytest escapes a property's value for XML but writes its name as given: a group name with a
        # control character in it (ESC, NUL, U+FFFE) would make the file no XML at all (issue 15).
        return _xml_text(text)

    prefix = f"conformance.{result.id}{suffix}"
    out: list[tuple[str, str]] = [(name(f"{prefix}.verdict"), str(result.verdict))]
    for group, rate in result.groups.items():
        ci = "" if rate.ci is None else f" {interval(rate.ci)}"
        out.append((name(f"{prefix}.{group}.rate"), f"{fixed(rate.rate)} ({rate.count}/{rate.n}){ci}"))
    for c in result.comparisons:
        gap = fixed(c.difference, sign=True)
        # A group is in several comparisons when every two groups are compared: name the other side
        # unless it is the check's reference.
        pair = c.group if c.reference in (result.reference, "none (absolute)") else f"{c.group}.vs.{c.reference}"
        ci = "" if c.ci is None else f" {interval(c.ci)}"
        out.append((name(f"{prefix}.{pair}.gap"), f"{gap}{ci} tolerance {c.tolerance:g}: {c.verdict}"))
    return out


def _xml_text(text: str) -> str:
    """``text`` as :func:`printable` shows it, with what XML 1.0 cannot hold (U+FFFE, U+FFFF) escaped too."""
    from _pytest.junitxml import bin_xml_escape

    return bin_xml_escape(printable(text))


def verdict_exit_status(report: Report, status: int) -> int:
    """The session's exit status once the kit's verdict is known: never 0 for a run that is not a pass.

    pytest's own status stands when it already says something went wrong. When it says 0, the kit's
    verdict, the one its reports print, decides: ``fail`` and
    ``incomplete`` exit 1, and so does ``inconclusive`` unless the policy lets it pass or xfail.
    Whatever pytest was told (an ``xfail`` marker on a check, ``pytest.exit(0)`` from a conftest,
    ``-k`` keeping only passing checks), failing data never exits 0.
    """
    if status != pytest.ExitCode.OK:
        return status
    # The verdict the reports print decides (issue 14: one rule, one exit code), every threshold of a
    # matching run included: a report saying fail or inconclusive never comes with exit 0.
    verdict = str(report.verdict)
    failing = verdict in ("fail", "incomplete") or (
        verdict == "inconclusive" and report.policy.inconclusive not in ("xfail", "pass")
    )
    return int(pytest.ExitCode.TESTS_FAILED) if failing else status


def _reason(check: CheckResult) -> str:
    """Why a check was not run, as the report holds it."""
    not_run = check.typed_details.not_run
    if not_run is not None:
        return not_run.reason
    return "; ".join(n.removeprefix("not applicable: ") for n in check.notes)


def _verdict_exit(report: Report) -> str:
    """Why the run's verdict fails the run (exit status 1) whatever its tests' outcomes, or ''.

    A test asserts one result (a face-matching check's binding threshold, say) while the run's
    verdict is the worst of all its results: a run whose reports say fail, or inconclusive under a
    policy that counts inconclusive as a failure (the default), exits 1, as every other run does.
    """
    verdict = str(report.verdict)
    if verdict == "fail":
        return "exit status 1: the run's verdict is fail"
    if verdict == "inconclusive" and report.policy.inconclusive == "fail":
        from ..assertions import result_label

        which = ", ".join(result_label(c) for c in report.checks if str(c.verdict) == "inconclusive")
        return (
            f"exit status 1: the run's verdict is inconclusive ({which}), and under this policy inconclusive "
            'counts as fail (inconclusive = "xfail" or "pass" in [tool.conformance] says otherwise)'
        )
    return ""


def provenance_lines(report: Report) -> list[str]:
    """What the console says first when the answers are not the vendor's service's (as every report does)."""
    from ..report import provenance_warnings

    out = provenance_warnings(report.analyzer)
    notes = report.analyzer.fields.get("recording_notes")
    out += [f"recording: {note}" for note in (notes if isinstance(notes, list) else [])]
    cache = report.analyzer.fields.get("observations_cache")
    if isinstance(cache, str):
        out.append(f"observations read from the verified cache entry {cache} (provenance read from the recording)")
    missing = missing_predictions(report)
    if missing:
        out.append(f"MISSING PREDICTIONS: {missing}")
    out += [f"note: {note}" for note in report.notes]
    from ..reporting.markdown import identity_map_text

    if (entries := identity_map_text(report)) is not None:
        out.append(f"identity map: {entries}")  # who is in which group: said where the verdicts are read
    return out


def missing_predictions(report: Report) -> str:
    """What the report says of manifest photos the predictions file has no line for ('' when none)."""
    missing = report.analyzer.fields.get("missing_predictions")
    if not isinstance(missing, dict):
        return ""
    note = missing.get("note")
    if isinstance(note, str) and note:
        return note
    first = missing.get("first")
    names = ", ".join(str(n) for n in first) if isinstance(first, list) else ""
    return f"no prediction for {missing.get('count', '?')} of {missing.get('photos', '?')} photos" + (
        f" ({names}, ...)" if names else ""
    )


def run_summary(report: Report, *, gate_exit: int | None = None) -> list[str]:
    """The run's verdict and what it covers, for the console (the writers say the same in their words).

    ``gate_exit``: the exit status of a run of the regression gate alone (``-k regression``), which is the
    gate's, not the checks' verdict's: the line then says what decided it, so that it never reads
    INCONCLUSIVE beside exit 0.
    """
    missing = report.not_run
    planned = len(report.planned)
    line = f"conformance verdict: {str(report.verdict).upper()}"
    if gate_exit is not None and report.regression is not None:
        found = len(report.regression.regressions)
        line = (
            f"conformance verdict: regression gate: {found or 'no'} regression{'s' if found > 1 else ''} against "
            f"{report.regression.baseline} (exit {gate_exit}); the checks' own verdict "
            f"({str(report.verdict).upper()} in the reports) was not asked for: only the gate was selected"
        )
    if missing:
        line += f": {len(missing)} of {planned} planned checks not run ({', '.join(c.id for c in missing)})"
        if report.verdict == "incomplete":
            line += "; not a verdict on the analyzer: run every planned check, or choose fewer with --checks"
    out = [line]
    if report.run.fields.get("checks_chosen"):
        out.append(f"scope: the checks chosen with --checks ({', '.join(report.planned)}): complete for those only")
    return out


def _not_run_properties(not_run: dict[str, str]) -> list[tuple[str, str]]:
    prefix = _xml_text(f"conformance.{not_run['id']}")
    return [(f"{prefix}.verdict", "not run"), (f"{prefix}.reason", not_run["reason"])]


def _junit_run_properties(config: pytest.Config, report: Report) -> None:
    """The run's verdict, and each planned check with no test case of its own, as JUnit XML suite properties."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    xml.add_global_property("conformance.verdict", str(report.verdict))
    for check in report.not_run:
        for name, value in _not_run_properties({"id": check.id, "reason": _reason(check)}):
            xml.add_global_property(name, value)
