"""Systematic failures: the watch that stops a run when every call fails alike (policy key systematic_failures).

A leaf module (errors and number display only), so that the photo runner and the face-search runner
share it without the matching layer importing the executors (docs/explanation/architecture.md).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

# SystematicFailure is an error like any other the kit raises, so it lives in errors.py (a leaf): adapters raise
# it too (a python: model that exits), and adapters are below the run that watches for systematic failures.
from .errors import SystematicFailure

if TYPE_CHECKING:
    from .observation import Observation

__all__ = ["DEFAULT_SYSTEMATIC_FAILURES", "FailureWatch", "SystematicFailure", "failure_kind"]

# Photos failing alike in a row before a run stops (policy key systematic_failures).
DEFAULT_SYSTEMATIC_FAILURES = 20
# A run of at least this many photos (or systematic_failures, if fewer) in which no face was found in any photo
# stops: a blind analyzer gave a "no face" for every person alike, a gap of 0 that passed detection_failure_gap
# (red team 14d F3). Ten photos of a face dataset with not one face found is a setup fault, not a finding. A run
# whose size the watch was told (expect) stops at any size once all of it is seen, as one whose only photo
# failed does (rt14e F8: 1-3 photos with no face, or no face and errors mixed, ran on to "nothing to count").
NO_FACE_PHOTOS = 10
# How the predictions adapter's reason for a photo with no line in the file begins: counted as a missing line, not
# an error, where a stop counts what it saw (rt14f F8: "(1 no face, 11 errors)" for 11 missing lines).
MISSING_LINE = "no prediction for this photo"


# An error's reason that begins with a code ("InternalServerError: ...", "NotRekognition: ..."): the code is its kind.
_CODED = re.compile(r"([A-Za-z_][\w.#-]{0,80}): ")
# What varies between messages of one kind: request ids, timestamps, counts, digests.
_VARYING = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|\b[0-9a-fA-F]*\d[0-9a-fA-F]*\b|\d+")


def failure_kind(reason: str) -> str:
    """The kind of an error's reason: its code when it starts with one, else the reason with ids and numbers masked.

    A systematic failure rarely says the same words twice: a server's message carries a request id or a
    time (``InternalServerError: Internal error, request 5``). Reasons of one kind are the same failure.

    >>> failure_kind("InternalServerError: Internal error, request 5")
    'InternalServerError'
    >>> failure_kind("timed out after 30 s at 2026-01-02T03:04:05Z")
    'timed out after # s at #-#-#T#:#:#Z'
    """
    coded = _CODED.match(reason)
    if coded is not None:
        return coded.group(1)
    return _VARYING.sub("#", reason)


class FailureWatch:
    """Watches observations as they come and raises :class:`SystematicFailure` on a systematic failure.

    ``limit`` photos in a row with an error of the same kind (:func:`failure_kind`: its code, else its
    reason with ids and numbers masked), or errors on every one of the first ``limit`` photos (whatever
    their reasons), stop the run; so does :meth:`finish` when no face was found in any photo of a run of at
    least :data:`NO_FACE_PHOTOS` (or ``limit``, if fewer). 0 never stops. Thread-safe.
    """

    # What to fix, for an analyzer that calls a service and records its answers (the default).
    SERVICE = "what was recorded so far is kept. Fix the cause (the endpoint, its permissions, the network)"

    def __init__(
        self, limit: int = DEFAULT_SYSTEMATIC_FAILURES, *, what: str = "photos", advice: str = SERVICE
    ) -> None:
        self.limit = int(limit)
        self.what = what
        self.advice = advice  # what was kept and what to fix, worded for the analyzer in use (rt14c F12)
        self._lock = threading.Lock()
        self._seen = 0
        self._errors_from_start = 0
        self._faces = 0  # photos in which a face was found
        self._missing = 0  # errors that are a predictions file's missing lines (MISSING_LINE)
        self._outcomes: dict[str, int] = {}
        self._streak = 0
        self._kind = ""
        self._reason = ""
        self._first = ""  # the streak's first reason: a whole run failing alike is named by its first photo
        self._reasons: set[str] = set()  # the distinct messages of the streak (a few are enough to say so)
        self._run_reasons: list[str] = []  # the first few distinct error messages of the whole run
        self._expected = 0  # photos the run will send, when told (expect): 0, not known
        self.stopped: SystematicFailure | None = None

    def expect(self, total: int) -> None:
        """Say how many photos the run holds: if every one of them fails the same way, the run stops too.

        The streak needs ``limit`` photos; a run with fewer (a first try on a dozen photos, a model
        whose weights did not load answering ``{"error": ...}`` for each) was reported as inconclusive
        instead of stopped (rt14d F5). With ``total`` known, its last photo failing as all the others
        did stops it, whatever the number. 0 (the default) leaves the streak rule alone.
        """
        with self._lock:
            self._expected = int(total)

    def see(self, observation: Observation) -> None:
        """Count one observation; raises :class:`SystematicFailure` when the run must stop."""
        self.see_outcome(observation.outcome, observation.reason)

    def see_outcome(self, outcome: str, reason: str) -> None:
        """Count one outcome (``analysed``, ``no_face`` or ``error``, with its reason): a photo's or a search's."""
        if self.limit <= 0:
            return
        with self._lock:
            if self.stopped is not None:
                raise self.stopped
            self._seen += 1
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1
            if outcome == "analysed":
                self._faces += 1
            if outcome != "error":
                self._streak, self._kind, self._reason = 0, "", ""
                self._reasons.clear()
                return
            if reason.startswith(MISSING_LINE):
                self._missing += 1
            if self._errors_from_start == self._seen - 1:
                self._errors_from_start += 1
            if len(self._run_reasons) < 3 and reason not in self._run_reasons:
                self._run_reasons.append(reason)
            kind = failure_kind(reason)
            if self._streak and kind == self._kind:
                self._streak += 1
            else:
                self._streak, self._kind, self._first = 1, kind, reason
                self._reasons.clear()
            self._reason = reason
            if len(self._reasons) < 3:
                self._reasons.add(reason)
            if self._streak >= self.limit:
                self.stopped = self._failure(f"the last {self._streak} {self.what} all failed the same way")
            elif self._errors_from_start >= self.limit and self._seen == self.limit:
                self.stopped = self._failure(f"the first {self.limit} {self.what} all failed")
            elif self._seen == self._expected and self._streak == self._seen:
                alike = f"all {self._seen} {self.what} of the run failed the same way" if self._seen > 1 else ""
                self.stopped = self._failure(alike or f"the run's only {self.what[:-1]} failed", whole=True)
            if self.stopped is not None:
                raise self.stopped

    def finish(self) -> None:
        """The whole run seen: raises :class:`SystematicFailure` when no face was found in any photo of it.

        A detector that finds no face anywhere gives every group the same rate (1.0), so detection_failure_gap
        would pass and every other check would have nothing to count: no verdict is built on that. The run needs
        :data:`NO_FACE_PHOTOS` photos (or ``limit``), unless the watch was told its size (:meth:`expect`) and
        saw all of it: then any size stops, errors of different kinds only too (rt14e F8).
        """
        if self.limit <= 0 or self.what != "photos":
            return
        with self._lock:
            whole = 0 < self._expected == self._seen
            if self.stopped is not None or self._faces or not self._seen:
                return
            if not whole and self._seen < min(self.limit, NO_FACE_PHOTOS):
                return
            errors = self._outcomes.get("error", 0)
            no_face = self._seen - errors
            if not no_face and not whole:
                return  # errors only: the rules above, and the adapter's own, say what failed
            if not no_face:
                from ._untrusted import shown

                said = "; ".join(shown(r, 200, quoted=False) for r in self._run_reasons)
                self.stopped = SystematicFailure(
                    f"stopped: every one of the {self._seen} {self.what} of the run failed ({said}): no face was "
                    f"found anywhere, so no verdict is built on it; {self.advice} and run the same command again; "
                    "if these failures are real answers, set systematic_failures = 0 (never stop; now "
                    f"{self.limit}) in [tool.conformance]"
                )
                raise self.stopped
            where = f"any of the {self._seen} photos" if self._seen > 1 else "the run's only photo"
            counted = [f"{no_face} no face"]
            if self._missing:
                counted.append(
                    f"{self._missing} missing line{'s' if self._missing != 1 else ''} in the predictions file"
                )
            if errors - self._missing or not self._missing:
                other = errors - self._missing
                counted.append(f"{other} error{'s' if other != 1 else ''}")
            self.stopped = SystematicFailure(
                f"stopped: no face was found in {where} ({', '.join(counted)}): an analyzer that sees no face anywhere is not working on these "
                "images, so no verdict is built on it (detection_failure_gap would find every group alike). Check "
                "what the analyzer is given and how it reads it: the image itself (the path or the bytes it opens), "
                "its channel order (RGB or BGR) and pixel scale (0-255 or 0-1), its input size, and its detection "
                "threshold; for a predictions file, how it was made. Then run the same command again; if no photo "
                "really shows a face, set systematic_failures = 0 in [tool.conformance] to make the reports anyway"
            )
            raise self.stopped

    def _failure(self, what: str, *, whole: bool = False) -> SystematicFailure:
        from ._untrusted import shown

        reason = shown(self._first if whole else self._reason, 700, quoted=False)
        if len(self._reasons) > 1 and (self._streak >= self.limit or whole):
            reason += f"; their messages differ only in ids and numbers: one kind of failure, {shown(self._kind, 120)}"
        # A whole run failing alike stops at any limit but 0: raising the limit would not let it through.
        way = (
            f"set systematic_failures = 0 (never stop; now {self.limit})"
            if whole
            else f"raise systematic_failures (now {self.limit}; 0 never stops)"
        )
        return SystematicFailure(
            f"stopped: {what} ({reason}): a fault of the setup, not of the photos, "
            f"so no verdict is built on it; {self.advice} and run the same command again; if these failures are "
            f"real answers, {way} in [tool.conformance]"
        )
