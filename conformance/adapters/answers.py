"""One analyzer's answer for one photo, checked: its faces or its error, each face's label, confidence and box.

Split out of :mod:`conformance.adapters.predictions` (issue 18): a predictions file's lines and an
in-process model's return values (:mod:`conformance.adapters.python`) are read by the same rules.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .._untrusted import finite_number, finite_numbers, shown, shown_list
from ..observation import Face

__all__ = ["AnswerProblem", "ConfidenceScales", "LabelOutsideVocabulary", "read_answer", "read_face"]

_LINES_LISTED = 5  # lines named in a message about confidence scales


class ConfidenceScales:
    """Answers (lines, or photos) with a confidence above 0 and at most 1, and answers with one above 1.

    The format is 0-100. Every confidence at most 1 (two answers or more) is a 0-1 scale; some on
    each side of 1 is two scales in one run, which on 0-100 would make the low ones an analyzer at
    most 1% sure of its own label. A confidence of 0 says nothing of either scale. An answer counts
    once however many faces it has: add its faces one after another, keyed by ``where`` (a line
    number, or a photo id); ``unit`` is what a message calls one (``"line"``, ``"photo"``).
    """

    def __init__(self, unit: str = "line") -> None:
        self.unit = unit
        self.low: list[int | str] = []  # the first few answers of each kind
        self.high: list[int | str] = []
        self.counts = [0, 0]  # low, high (answers)
        self._last: tuple[int | str | None, int] = (None, -1)  # (answer, which) just counted

    def add(self, where: int | str, confidence: float) -> None:
        if confidence == 0.0:
            return  # no confidence at all on either scale: no sign of which one the file uses
        which = 0 if confidence <= 1.0 else 1
        if self._last == (where, which):
            return
        self._last = (where, which)
        self.counts[which] += 1
        listed = self.high if which else self.low
        if len(listed) < _LINES_LISTED:
            listed.append(where)

    def problem(self) -> tuple[int | str | None, str] | None:
        """None when the confidences are on 0-100; else the answer to name first (None when the message
        names them itself) and what is wrong, the way out included."""
        low, high = self.counts
        if high == 0 and low >= 2:
            return self.low[0], (
                "every confidence is at most 1: they look like a 0-1 scale, and the format is 0-100; multiply by 100"
            )
        if not (low and high):
            return None

        def where(count: int, first: list[int | str]) -> str:
            more = f", and {count - len(first):,} more" if count > len(first) else ""
            return f"{self._units(count)} {', '.join(map(str, first))}{more}"

        return None, (
            f"confidences on two scales: {high:,} {self._units(high)} give{'s' if high == 1 else ''} a confidence "
            f"above 1 ({where(high, self.high)}) and {low:,} give{'s' if low == 1 else ''} one above 0 and at most 1 "
            f"({where(low, self.low)}), which on the format's 0-100 scale would mean the analyzer was at most 1% sure "
            "of its own label; write every confidence from 0 to 100 (multiply those on a 0-1 scale by 100)"
        )

    def _units(self, count: int) -> str:
        return self.unit if count == 1 else self.unit + "s"


# A key given twice in one object is refused, as in a JSONL manifest: json keeps the last one silently, so a
# line could show a reviewer "gender": "Male" and give the kit "gender": "Female". The hook costs about 0.6 µs


class AnswerProblem(ValueError):
    """What is wrong with one answer (a predictions line, or what an in-process model returned); the caller says where."""


class LabelOutsideVocabulary(AnswerProblem):
    """A face's gender label that the declared vocabulary does not hold; the caller names the vocabulary's source."""

    def __init__(self, label: str, vocabulary: Collection[str]) -> None:
        super().__init__(f"gender label {shown(label)} is not in the declared vocabulary [{shown_list(vocabulary)}]")
        self.label = label
        self.vocabulary = vocabulary


def read_answer(
    record: Mapping[str, Any], *, vocabulary: Collection[str] | None = None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """One answer's ``faces`` or ``error``, checked: ``(faces, None)`` or ``(None, error)``.

    Each face is a dict whose ``gender`` is a string or None, and with a declared ``vocabulary``
    (every label the analyzer can output) a string in it; :func:`read_face` checks the rest.

    Raises
    ------
    AnswerProblem
        Saying what is wrong, for the caller to prefix with the line or photo;
        :class:`LabelOutsideVocabulary` for a label the declared vocabulary does not hold.
    """
    error = record.get("error")
    faces = record.get("faces")
    if error is not None:
        if not isinstance(error, str) or not error:
            raise AnswerProblem('"error" must be a non-empty string')
        return None, error
    if not isinstance(faces, list):
        raise AnswerProblem('needs "faces" (a list, empty when no face was found) or "error"')
    for face in faces:
        if not isinstance(face, dict):
            raise AnswerProblem("each face must be an object with gender, confidence and box")
        label = face.get("gender")
        if label is not None and not isinstance(label, str):
            raise AnswerProblem(f"gender {shown(label)} must be a string or null")
        if label is not None and vocabulary is not None and label not in vocabulary:
            raise LabelOutsideVocabulary(label, vocabulary)
    return faces, None


def _plain_box(box: list[Any]) -> bool:
    """Four floats, left and top finite, width and height above 0 and at most 1.5: the usual box, as is.

    Anything else (ints, a bad value) goes through :func:`read_face`'s checks, which convert or name it.
    """
    left, top, width, height = box
    return (
        type(left) is float
        and type(top) is float
        and type(width) is float
        and type(height) is float
        and left - left == 0.0  # inf - inf and nan - nan are nan
        and top - top == 0.0
        and 0.0 < width <= 1.5
        and 0.0 < height <= 1.5
    )


def read_face(face: Mapping[str, Any], gender: str | None, strings: dict[str, str] | None = None) -> Face:
    """One face of an answer as a :class:`Face`: confidence 0-100, box as fractions; ``gender`` is its label's meaning.

    With ``strings``, the face's label is the one copy kept there (the caller's, one per run): a
    million faces then hold one ``"Female"``, not a million.

    Raises
    ------
    AnswerProblem
        Naming the bad confidence or box and the way out.
    """
    label = face.get("gender")
    if label is not None and strings is not None:
        label = strings.setdefault(label, label)
    confidence = face.get("confidence")
    if type(confidence) is float and 0.0 <= confidence <= 100.0:  # JSON's usual: checked (nan and inf fail it)
        pass
    elif confidence is not None:
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, (int, float))
            or not (finite_number(confidence) and 0.0 <= confidence <= 100.0)
        ):
            raise AnswerProblem(f"confidence {shown(confidence)} must be a number from 0 to 100")
        confidence = float(confidence)
    box = face.get("box")
    if type(box) is list and len(box) == 4 and _plain_box(box):
        box = (box[0], box[1], box[2], box[3])
    elif box is not None:
        if not isinstance(box, list) or len(box) != 4 or not finite_numbers(box):
            raise AnswerProblem(f"box {shown(box)} must be [left, top, width, height] as fractions of the image")
        if box[2] <= 0 or box[3] <= 0:
            raise AnswerProblem(f"box {shown(box)} has no area; width and height must be positive")
        if box[2] > 1.5 or box[3] > 1.5:
            raise AnswerProblem(f"box {shown(box)} looks like pixels; give fractions of the image width and height")
        # left and top may be negative: a face can reach past the frame's edge.
        box = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    return Face(label=label, gender=gender, confidence=confidence, box=box)
