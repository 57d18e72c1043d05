"""The ``predictions`` adapter: results an analyzer produced elsewhere, as a JSONL file.

For analyzers the kit cannot call, and for vendors submitting results. ``--analyzer
predictions:PATH`` (PATH relative to the working directory). One JSON object per line::

    {"analyzer": "acme-face", "version": "3.1", "vocabulary": ["Male", "Female"], "simulated": false}
    {"photo": "img/001.png", "faces": [{"gender": "Female", "confidence": 99.1, "box": [0.1, 0.2, 0.3, 0.4]}]}
    {"photo": "img/002.png", "faces": []}
    {"photo": "img/003.png", "error": "InvalidImageFormatException"}

The first line may be a **header** (an object with ``analyzer`` and no ``photo``): the analyzer's
name and version, its ``vocabulary`` (every gender label it can output), ``labels`` (what
labels outside the kit's default map mean: ``{"X": "nonbinary"}``), ``abstains`` (whether it can
return a face with no gender), ``gives_confidence`` (``false`` for an analyzer that cannot give a
confidence: ``confidence_calibration`` is then not applicable; without it, a file with no confidence
leaves calibration inconclusive), and ``simulated`` / ``emulated`` flags that reports repeat.
Without a header the vocabulary is the set of labels seen in the file, which can only
understate what the analyzer can say; reports say which it was.

A face's ``gender`` of ``null`` is an abstention. ``confidence`` is 0-100. ``box`` is
``[left, top, width, height]`` as fractions of the image. With several faces in a photo, the one
overlapping the manifest's ``box`` most counts, or else the largest; several faces without boxes
make that photo an error outcome. Lines with ``probe`` (matching results) are not for this adapter
and are skipped. A manifest photo with no line becomes an error outcome naming the file; a line for
a photo not in the manifest, a repeated photo, or a malformed line is refused with its line number.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .._files import NotRegularFile, open_regular, size_text
from .._lines import LINE_LIMIT, LineTooLong, numbered_lines, wide_text_problem
from .._paths import tried
from .._text import printable
from .._untrusted import BAD_JSON, finite_number, json_problem, shown, shown_list
from ..dataset import normalise_photo_id
from ..dataset.manifest import _RepeatedKey, _unique_keys  # the manifest's rule for repeated keys
from ..errors import PredictionsError
from ..identity import DEFAULT_LABEL_MAP, IDENTITIES, normalise_key
from ..matching import SearchOutcome
from ..observation import Face, Observation
from .answers import AnswerProblem, ConfidenceScales, LabelOutsideVocabulary, read_answer, read_face
from .base import AdapterSettings, Capabilities, EvidenceFile, Vocabulary, choose_face, declares, file_and_options

if TYPE_CHECKING:
    from ..dataset import Dataset, Photo

__all__ = [
    "REASON_LIMIT",
    "AnswerProblem",
    "ConfidenceScales",
    "LabelOutsideVocabulary",
    "PredictionsAnalyzer",
    "create",
    "read_answer",
    "read_face",
]

_CANONICAL = (*IDENTITIES, "abstain")
REASON_LIMIT = 500  # characters of a kept error (a line's, local's): the cache's bounds allow for it (REASON_CHARS)
_REASON_LIMIT = REASON_LIMIT
_MISSING_LISTED = 5  # photos without a line named in the console
# Header strings are printed and reported: the analyzer's name and version on every report's first lines.
_MAX_HEADER_NAME = 200
_HEADER_LIMITS = {"analyzer": _MAX_HEADER_NAME, "version": _MAX_HEADER_NAME, "note": 4096}
_MAX_LABELS = 100  # labels a vocabulary or label map may hold (Rekognition's: 2)
# The longest line read (its line end included): a photo's answer with a thousand faces is about 150 KB.
MAX_LINE_BYTES = LINE_LIMIT


_DECODE = json.JSONDecoder(object_pairs_hook=_unique_keys).raw_decode


def _loads(line: str) -> Any:
    """``json.loads(line)`` refusing a repeated key (:class:`_RepeatedKey`), without ``json.loads``'s two
    whitespace scans for the usual line (an object, then a newline).

    Anything else (leading spaces, extra data, bad JSON) is left to ``json.loads``: the same value, or
    the same error.
    """
    try:
        value, end = _DECODE(line)
    except _RepeatedKey:
        raise
    except BAD_JSON:
        return json.loads(line, object_pairs_hook=_unique_keys)
    if end != len(line) and line[end:].strip(" \t\n\r"):  # json.loads's own whitespace
        return json.loads(line, object_pairs_hook=_unique_keys)  # raises its "Extra data" error
    return value


def _reason(error: object) -> str:
    """A line's ``"error"`` as the photo's reason: as written, cut (its length noted) when it is long."""
    return shown(error, _REASON_LIMIT, quoted=False)


@declares(lambda _: PredictionsAnalyzer.capabilities, argument_file=file_and_options)
def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> PredictionsAnalyzer:
    """Entry point: ``--analyzer predictions:PATH`` (recording settings do not apply: nothing is called)."""
    if not argument:
        raise PredictionsError("the predictions adapter needs a file: --analyzer predictions:PATH")
    return PredictionsAnalyzer(Path(argument), dataset=dataset)


class PredictionsAnalyzer:
    """Serves a predictions file's answers photo by photo (see the module docstring for the format)."""

    # Searches are answered from the file's probe lines; it knows only the photos it lists. Its answers are the
    # file's: the report seals it, and a run stopped by systematic failures points at it.
    capabilities: Capabilities = Capabilities(
        searches=True,
        reads_files=True,
        failure_advice=(
            "nothing is recorded (the answers are the predictions file's). Fix the cause (the predictions file: a "
            "line for every photo of the manifest, with its faces or its error)"
        ),
    )

    def evidence_files(self) -> list[EvidenceFile]:
        """The predictions file: every answer of the run is one of its lines."""
        return [EvidenceFile(str(self.path), "predictions file")]

    def __init__(self, path: Path, *, dataset: Dataset) -> None:
        self.path = Path(path).expanduser()
        self.dataset = dataset
        self.header: dict[str, Any] = {}
        self._observations: dict[str, Observation] = {}
        self._faces: dict[str, list[Face]] = {}
        self._searches: dict[str, tuple[int, SearchOutcome]] = {}
        self._skipped = 0
        self._abstained = False
        self._scales = ConfidenceScales("line")
        self._strings: dict[str, str] = {}
        self.missing: tuple[str, ...] = ()  # manifest photos with no line in the file
        self._load()

    # -- reading -----------------------------------------------------------------------------------

    def _fail(self, line: int, message: str) -> PredictionsError:
        return PredictionsError(f"{self.path} line {line}: {message}")

    def _load(self) -> None:
        try:
            handle = open_regular(self.path)
        except FileNotFoundError:
            raise PredictionsError(f"predictions file not found: {tried(self.path)}") from None
        except NotRegularFile as exc:
            raise PredictionsError(
                f"predictions file {self.path} is {exc.kind}, not a regular file: the kit reads only regular files; "
                "save the predictions to a file and pass its path"
            ) from None
        except OSError as exc:
            raise PredictionsError(f"cannot read predictions file {self.path}: {exc.strerror or exc}") from None
        # Read a line at a time, never the whole file at once (a million lines are a hundred megabytes).
        with handle:
            problem = wide_text_problem(self.path, handle.read(256))  # UTF-16 or UTF-32: said, with how to convert
            if problem:
                raise PredictionsError(f"{self.path}: {problem}")
            handle.seek(0)
            self._read_lines(handle)

    def _read_lines(self, handle: BinaryIO) -> None:
        declared: Mapping[str, str] = {}
        seen_labels: dict[str, int] = {}
        # Without a header's vocabulary, a label means nothing until every line is read: faces wait here.
        raw_faces: dict[str, tuple[int, list[dict[str, Any]] | None, str | None]] = {}
        answered = 0  # photo lines read
        first = True
        vocabulary: Vocabulary | None = None
        find = self.dataset.photo_index().get
        for number, line_text in self._numbered_lines(handle):
            if not line_text.strip():
                continue
            try:
                record = _loads(line_text)
            except _RepeatedKey as exc:
                raise self._fail(
                    number,
                    f"key {shown(exc.key)} appears twice in the object; the second would hide the first: keep one",
                ) from None
            except BAD_JSON as exc:
                where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                raise self._fail(number, f"not valid JSON ({json_problem(exc)}{where})") from None
            if not isinstance(record, dict):
                raise self._fail(number, f"expected a JSON object, found {type(record).__name__}")
            if first and "photo" not in record and "analyzer" in record:
                self.header = record
                declared = self._read_header(number)
                if self.header.get("vocabulary") is not None:
                    vocabulary = self.vocabulary = self._vocabulary(declared, {})
                first = False
                continue
            first = False
            if "probe" in record and "photo" not in record:
                if self.dataset.is_matching:
                    self._read_search(number, record)
                else:
                    self._skipped += 1  # search results are of no use to a gender dataset
                continue
            photo = record.get("photo")
            if not isinstance(photo, str) or not photo:
                raise self._fail(number, 'needs a "photo" naming a manifest photo (or a header line first)')
            # A path written as the manifest's is its own normal form (normalising is idempotent): found at once.
            found = find(photo) or find(normalise_photo_id(photo))
            if found is None:
                raise self._fail(
                    number,
                    f"photo {shown(photo)} is not in the manifest {self.dataset.manifest}; "
                    "check the path (relative to the manifest) or remove the line",
                )
            photo_id = found.id  # the manifest's own string: one copy a photo, not two
            if photo_id in self._observations or photo_id in raw_faces:
                raise self._fail(
                    number,
                    f"photo {shown(photo)} already has a prediction at line {self._first_line(photo_id)}; "
                    "keep one line per photo",
                )
            answered += 1
            try:
                faces, error = read_answer(record, vocabulary=None if vocabulary is None else vocabulary.labels)
            except LabelOutsideVocabulary as exc:
                raise self._fail(
                    number,
                    f"gender label {shown(exc.label)} is not in the header's vocabulary "
                    f"[{shown_list(self.header['vocabulary'])}]",
                ) from None
            except AnswerProblem as exc:
                raise self._fail(number, str(exc)) from None
            for face in faces or ():
                label = face.get("gender")
                if label is None:
                    self._abstained = True
                else:
                    seen_labels.setdefault(label, number)
            if vocabulary is None:
                raw_faces[photo_id] = (number, faces, error)
            else:
                self._observations[photo_id] = self._observation(photo_id, number, faces, error, found.box)

        if not answered and not self._searches:
            has = ["a header"] if self.header else []
            has += [f"{self._skipped:,} face-search line{'s' if self._skipped > 1 else ''}"] if self._skipped else []
            what = f" (it has only {' and '.join(has)})" if has else ""
            raise PredictionsError(
                f"{self.path}: no predictions in the file{what}; "
                'it needs one line per manifest photo, {"photo": "...", "faces": [...]} or {"photo": "...", '
                '"error": "..."}: check that this is the file the analyzer wrote'
            )
        if vocabulary is None:
            self.vocabulary = self._vocabulary(declared, seen_labels)
            for photo_id, (number, faces, error) in raw_faces.items():
                box = self.dataset.photo(photo_id).box
                self._observations[photo_id] = self._observation(photo_id, number, faces, error, box)
            raw_faces.clear()
        else:
            self.vocabulary = replace(
                vocabulary, can_abstain=self._can_abstain(), gives_confidence=self._gives_confidence()
            )
        scales = self._scales.problem()
        if scales is not None:
            first_line, problem = scales
            if isinstance(first_line, int):
                raise self._fail(first_line, problem)
            raise PredictionsError(f"{self.path}: {problem}")
        answers = self._observations
        self.missing = tuple(p.id for p in self.dataset.photos if p.id not in answers) if answered else ()
        if self.missing and not self.dataset.is_matching:
            print(printable(f"conformance: {self.missing_note()}"), file=sys.stderr)

    def _numbered_lines(self, handle: BinaryIO) -> Iterator[tuple[int, str]]:
        """Each line of the file with its number, decoded on its own, as universal newlines read them.

        A line ends at ``\n``, ``\r\n`` or a lone ``\r``; a UTF-8 byte order mark before the first is dropped.
        Bytes that are not UTF-8, and a line over :data:`MAX_LINE_BYTES` (counted as a JSONL manifest's
        are: :func:`conformance._lines.numbered_lines`), are refused with their line.
        """
        limit = MAX_LINE_BYTES
        try:
            for number, line in numbered_lines(handle, limit):
                if number == 1 and line.startswith(codecs.BOM_UTF8):
                    line = line[len(codecs.BOM_UTF8) :]
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise self._fail(number, "not UTF-8; save the file as UTF-8") from None
                yield number, text
        except LineTooLong as exc:
            raise self._fail(
                exc.number,
                f"the line is longer than {size_text(limit)}, the most the kit reads for one line (a photo's answer, "
                "or the header); write one JSON object per line, a line per photo",
            ) from None

    def _first_line(self, photo_id: str) -> int:
        """The line of a photo's first prediction, read again for the message about a second one (a map
        of every photo to its line would cost a million entries for that one message)."""
        with open_regular(self.path) as handle:
            for number, line_text in self._numbered_lines(handle):
                try:
                    record = json.loads(line_text)
                except BAD_JSON:
                    continue
                photo = record.get("photo") if isinstance(record, dict) else None
                if isinstance(photo, str) and normalise_photo_id(photo) == photo_id:
                    return number
        return 0

    def has_line(self, photo_id: str) -> bool:
        """Whether the file has a line for the photo (faces or an error), as read when the analyzer was made."""
        return photo_id in self._observations

    def line_of(self, photo_id: str) -> int | None:
        """The number of the photo's line, read again from the file for a message; None when it cannot be told.

        The file is opened as when it was first read (a regular file only): one replaced since by a pipe or a
        device gives None, never a wait or an endless read.
        """
        if not self.has_line(photo_id):
            return None
        try:
            return self._first_line(photo_id) or None
        except (OSError, PredictionsError):  # changed since it was read: the message names the photo instead
            return None

    def missing_note(self) -> str:
        """What the run is told about manifest photos the file has no line for ('' when there is none)."""
        if not self.missing:
            return ""
        count, total = len(self.missing), len(self.dataset)
        return (
            f"{self.path.name} has no prediction for {count:,} of {total:,} photo{'s' if total != 1 else ''} "
            f"({shown_list(self.missing, most=_MISSING_LISTED)}); each counts as an error: "
            "add their lines, or drop them from the manifest"
        )

    @property
    def search_floor(self) -> float:
        """The search threshold the matches were produced with (header ``search_threshold``, default 0)."""
        return float(self.header.get("search_threshold", 0.0))  # checked in _read_header

    def _read_search(self, number: int, record: dict[str, Any]) -> None:
        probe = record.get("probe")
        if not isinstance(probe, str) or not probe:
            raise self._fail(number, '"probe" must name a probe photo of the manifest')
        probe_id = normalise_photo_id(probe)
        if probe_id not in self.dataset or self.dataset.photo(probe_id).role != "probe":
            raise self._fail(number, f"probe {shown(probe)} is not a photo with role probe in {self.dataset.manifest}")
        if probe_id in self._searches:
            raise self._fail(
                number,
                f"probe {shown(probe)} already has a result at line {self._searches[probe_id][0]}; keep one line per probe",
            )
        if record.get("error") is not None:
            self._searches[probe_id] = (number, SearchOutcome(probe_id, "error", reason=_reason(record["error"])))
            return
        if record.get("no_face") is True:
            self._searches[probe_id] = (number, SearchOutcome(probe_id, "no_face", reason="no face found in the probe"))
            return
        matches = record.get("matches")
        if not isinstance(matches, list):
            raise self._fail(
                number, 'a probe line needs "matches" (a list, empty when nothing matched), "no_face" or "error"'
            )
        found: list[tuple[str, float]] = []
        floor = self.search_floor
        for match in matches:
            gallery = match.get("gallery") if isinstance(match, dict) else None
            similarity = match.get("similarity") if isinstance(match, dict) else None
            if not isinstance(gallery, str) or normalise_photo_id(gallery) not in self.dataset:
                raise self._fail(number, f"match {shown(match)} must name a gallery photo of the manifest")
            gallery_id = normalise_photo_id(gallery)
            if self.dataset.photo(gallery_id).role != "gallery":
                raise self._fail(number, f"{shown(gallery)} is not a photo with role gallery in the manifest")
            if (
                isinstance(similarity, bool)
                or not isinstance(similarity, (int, float))
                or not (finite_number(similarity) and floor <= similarity <= 100)
            ):
                raise self._fail(
                    number,
                    f"similarity {shown(similarity)} must be a number from the search threshold {floor:g} to 100 "
                    "(set search_threshold in the header to the threshold the search used)",
                )
            found.append((gallery_id, float(similarity)))
        self._searches[probe_id] = (number, SearchOutcome(probe_id, "analysed", matches=tuple(found)))

    def search_result(self, probe_id: str) -> SearchOutcome | None:
        """The probe's search exactly as the file gives it (every match), or None without a line."""
        found = self._searches.get(probe_id)
        return None if found is None else found[1]

    def compare(self, source: Photo, target: Photo) -> float | None:
        """1:1 from the file: the probe ``source``'s similarity to the gallery photo ``target``.

        None when the file gives no such match (below its search threshold) or no line for the probe.
        """
        found = self._searches.get(source.id)
        if found is None:
            return None
        return dict(found[1].matches).get(target.id)

    def search(self, probe: Photo, gallery: Sequence[Photo], *, threshold: float) -> SearchOutcome:
        """The probe's search as the file gives it, keeping matches at or above ``threshold``."""
        found = self._searches.get(probe.id)
        if found is None:
            return SearchOutcome(probe.id, "error", reason=f"no search result for this probe in {self.path}")
        result = found[1]
        kept = tuple(m for m in result.matches if m[1] >= threshold)
        return SearchOutcome(result.probe, result.outcome, matches=kept, reason=result.reason)

    def _read_header(self, number: int) -> Mapping[str, str]:
        # Printed on the console, in the job summary and in every report: a vendor's megabyte-long name went
        # five times to the console and whole into report.json and report.html (red team 15, s09/s10).
        for member, limit in _HEADER_LIMITS.items():
            value = self.header.get(member)
            if value is not None and len(str(value)) > limit:
                raise self._fail(
                    number,
                    f"header {member!r} is {len(str(value)):,} characters long, over the {limit:,} the kit accepts "
                    f"(it is printed and reported): shorten it",
                )
        for member in ("vocabulary", "labels"):
            entries = self.header.get(member)
            names = entries if isinstance(entries, (list, dict)) else []
            long = next((str(name) for name in names if len(str(name)) > _MAX_HEADER_NAME), None)
            if long is not None or len(names) > _MAX_LABELS:
                what = f"a label of {len(long):,} characters" if long is not None else f"{len(names):,} labels"
                raise self._fail(
                    number,
                    f"header {member!r} holds {what}, over the {_MAX_HEADER_NAME} characters and {_MAX_LABELS} labels "
                    "the kit accepts: shorten it",
                )
        threshold = self.header.get("search_threshold", 0.0)
        if not finite_number(threshold) or not 0 <= threshold <= 100:
            raise self._fail(number, f"header search_threshold {shown(threshold)} must be a similarity from 0 to 100")
        for flag in ("simulated", "emulated", "abstains", "gives_confidence"):
            if flag in self.header and not isinstance(self.header[flag], bool):
                raise self._fail(number, f"header {flag!r} must be true or false, not {shown(self.header[flag])}")
        labels = self.header.get("labels", {})
        vocabulary = self.header.get("vocabulary")
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise self._fail(number, 'header "labels" must map each label to woman, man, nonbinary or abstain')
        if vocabulary is not None and (
            not isinstance(vocabulary, list) or not all(isinstance(v, str) for v in vocabulary)
        ):
            raise self._fail(number, 'header "vocabulary" must be a list of the labels the analyzer can output')
        for label, meaning in labels.items():
            if meaning not in _CANONICAL:
                raise self._fail(
                    number, f"header maps {shown(label)} to {shown(meaning)}; use one of {', '.join(_CANONICAL)}"
                )
        return {str(k): str(v) for k, v in labels.items()}

    def _meaning(self, label: str, declared: Mapping[str, str]) -> str | None:
        if label in declared:
            return declared[label]
        return DEFAULT_LABEL_MAP.get(normalise_key(label))

    def _vocabulary(self, declared: Mapping[str, str], seen: Mapping[str, int]) -> Vocabulary:
        listed = self.header.get("vocabulary")
        labels: dict[str, str] = {}
        names = list(listed) if listed is not None else list(seen)
        for label in names:
            meaning = self._meaning(label, declared)
            if meaning is None:
                where = f"line {seen[label]}" if label in seen else "line 1 (the header's vocabulary)"
                raise PredictionsError(
                    f"{self.path} {where}: gender label {shown(label)} has no known meaning; "
                    f'say what it means in the header: {{"analyzer": ..., "labels": {{"{shown(label, quoted=False)}": "nonbinary"}}}}'
                )
            labels[label] = meaning
        if listed is not None:
            for label, number in seen.items():
                if label not in labels:
                    raise self._fail(
                        number, f"gender label {shown(label)} is not in the header's vocabulary [{shown_list(listed)}]"
                    )
            source = f"declared in the header of {self.path.name}"
        else:
            source = f"labels seen in {self.path.name} (no header declared the vocabulary)"
        return Vocabulary(
            labels=labels, source=source, can_abstain=self._can_abstain(), gives_confidence=self._gives_confidence()
        )

    def _gives_confidence(self) -> bool | None:
        """The header's ``"gives_confidence"`` (None when it says nothing).

        Only a declaration makes calibration not applicable: a file without confidences shows what was
        written, not what the analyzer can do (the confidences could have been left out of it).
        """
        declared = self.header.get("gives_confidence")
        return declared if isinstance(declared, bool) else None

    def _can_abstain(self) -> bool:
        """Whether a face without a gender is an abstention: as the header declares it, else as the file shows.

        A header's ``"abstains": false`` is the analyzer's contract: a null gender then breaks it and is that
        photo's error (:func:`conformance.run.execution.hold_to_vocabulary`), never an abstention, however many
        lines have one (a vendor that cannot abstain and leaves gender out of the photos it gets wrong would
        otherwise show no misgendering). Without the key, a null gender seen in the file shows it can abstain.
        """
        declared = self.header.get("abstains")
        if isinstance(declared, bool):
            return declared
        return self._abstained

    def _observation(
        self,
        photo_id: str,
        number: int,
        faces: list[dict[str, Any]] | None,
        error: str | None,
        box: tuple[float, float, float, float] | None,
    ) -> Observation:
        if error is not None:
            return Observation(photo=photo_id, outcome="error", reason=_reason(error))
        assert faces is not None
        if not faces:
            return Observation(photo=photo_id, outcome="no_face", reason="no face found")
        parsed = [self._face(number, f) for f in faces]
        chosen = choose_face(parsed, box)
        if len(parsed) > 1 or chosen is None:
            self._faces[photo_id] = parsed  # a lone face that counts is the observation's own: not kept twice
        if chosen is None:
            return Observation(
                photo=photo_id,
                outcome="error",
                faces=len(parsed),
                reason=f"{len(parsed)} faces in {self.path.name} line {number} and none can be told to be the "
                "subject's (give every face a box, and the manifest a box that overlaps the subject's face)",
            )
        return Observation(photo=photo_id, outcome="analysed", face=chosen, faces=len(parsed))

    def _face(self, number: int, face: dict[str, Any]) -> Face:
        label = face.get("gender")
        try:
            parsed = read_face(face, None if label is None else self.vocabulary.labels[label], self._strings)
        except AnswerProblem as exc:
            raise self._fail(number, str(exc)) from None
        if parsed.confidence is not None:
            self._scales.add(number, parsed.confidence)
        return parsed

    # -- the Analyzer protocol ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.header.get("analyzer", "predictions"))

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "adapter": "predictions",
            "version": str(self.header.get("version", "unknown")),
            "source": str(self.path),
            "vocabulary": self.vocabulary.to_dict(),
            "simulated": bool(self.header.get("simulated", False)),
            "emulated": bool(self.header.get("emulated", False)),
        }
        if self.header.get("note"):
            info["note"] = str(self.header["note"])
        if self._skipped:
            info["skipped_matching_lines"] = self._skipped
        if self.missing:
            # For reports: photos of the manifest the file has no line for (each is an error observation).
            info["missing_predictions"] = {
                "count": len(self.missing),
                "photos": len(self.dataset),
                "first": list(self.missing[:_MISSING_LISTED]),
                "note": self.missing_note(),
            }
        if self._searches:
            info["searches"] = len(self._searches)
            info["search_threshold"] = self.search_floor
        return info

    def faces(self, photo_id: str) -> list[Face] | None:
        """Every face the file gives for a photo (not only the one that counts); None without a faces line."""
        if photo_id in self._faces:
            return list(self._faces[photo_id])
        found = self._observations.get(photo_id)
        if found is not None and found.face is not None:
            return [found.face]
        return [] if found is not None and found.outcome == "no_face" else None

    def analyze(self, photo: Photo) -> Observation:
        found = self._observations.get(photo.id)
        if found is None:
            return Observation(photo=photo.id, outcome="error", reason=f"no prediction for this photo in {self.path}")
        return found
