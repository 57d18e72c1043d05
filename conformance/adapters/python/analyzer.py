"""The analyzer around an audited function: each photo's call, its answer read, and the checks of the run as a whole."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._files import open_regular
from ..._model_output import model_code
from ..._text import printable
from ..._untrusted import shown, shown_list
from ...errors import AdapterError, ManifestError
from ...identity import DEFAULT_LABEL_MAP, normalise_key
from ...observation import Face, Observation
from ..base import Capabilities, EvidenceFile, SessionPlan, Vocabulary, choose_face
from ..predictions import AnswerProblem, ConfidenceScales, LabelOutsideVocabulary, read_answer, read_face
from .common import _ASYNC, _HOWTO, ModelExit, _exit_code, _type_name, _where
from .declaration import _Declaration
from .loading import _cwd, _module_problem, _moved_back, _warn_moved
from .signature import _KINDS, PhotoInput, _Input

if TYPE_CHECKING:
    from ...dataset import Dataset, Photo


_REASON_LIMIT = 500  # characters of an exception's message kept as the photo's reason


class InferredVocabularyWarning(UserWarning):
    """The audited function declares no VOCABULARY: what it can say was inferred from what it said."""


@dataclass
class _State:
    """What the run learnt from the answers; merged from worker processes (every part keyed, so merging is idempotent)."""

    seen: dict[str, str] = field(default_factory=dict)  # label -> meaning (inferred vocabulary)
    abstained: bool = False
    faults: dict[str, tuple[str, str]] = field(default_factory=dict)  # dataset photo id -> (kind, reason)
    confidences: dict[str, list[float]] = field(default_factory=dict)  # photo id -> confidences of its faces


class _Fault(Exception):
    """A photo's answer cannot be used: ``kind`` groups alike failures, ``reason`` is what the report says."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


_INFERRED_NOTE = (
    "{where} declares no VOCABULARY, so the vocabulary was inferred from the labels {spec} returned in this run. "
    "An inferred vocabulary can only understate what a model can say: the static half of "
    "nonbinary_representability then judges this run's answers, not the model, and cannot fail (or pass) it "
    "honestly. Declare VOCABULARY (and ABSTAINS = True if it can return a face with no gender) in {where}."
)


_IN_PROCESS = (
    "The analyzer is Python code that ran inside the kit's own process, so it could change what the kit computed, "
    "wrote and printed, and conformance verify runs it again: this report is as trustworthy as that code. For a "
    "vendor's own submission, audit a predictions file or a recording of its service instead "
    "(docs/explanation/trust.md)."
)


# A model handed over by a conftest.py fixture (python:@NAME) exists only inside that pytest session: conformance verify,
# another process, cannot call it again, and says so (rt14f F4: this banner said verify re-runs it).
_IN_PROCESS_FIXTURE = (
    "The analyzer is Python code that ran inside the kit's own process (handed over by a conftest.py fixture), so it "
    "could change what the kit computed, wrote and printed: this report is as trustworthy as that code. conformance "
    "verify cannot run it again (it exists only inside that pytest session): for a report verify can re-run, run the "
    "model with --analyzer python:MODULE:FUNCTION. For a vendor's own submission, audit a predictions file or a "
    "recording of its service instead (docs/explanation/trust.md)."
)


class FunctionAnalyzer:
    """A function of the user's, called in this process for each photo (see the module docstring)."""

    # A real model: it can look at images outside the dataset (transformed variants). Its module's file is sealed
    # into the report; a run stopped by systematic failures points at the model.
    capabilities = Capabilities(
        sees_new_images=True,
        sessions=True,
        workers=True,
        reads_files=True,
        failure_advice="nothing is recorded (the model runs in this process). Fix the cause (the model, its weights, its input)",
    )

    def evidence_files(self) -> list[EvidenceFile]:
        """The model's module file, when it was imported from one (not from a zip or a namespace)."""
        file = self.declaration.file
        return [EvidenceFile(str(file), "model module")] if file is not None else []

    def __init__(
        self, function: Callable[..., Any], *, dataset: Dataset, spec: str, declaration: _Declaration, call: _Input
    ) -> None:
        self.function = function
        self.dataset = dataset
        self.spec = spec
        self.declaration = declaration
        self.call = call
        self.name = declaration.name
        self._state = _State()
        self._lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._pending: dict[str, Any] = {}  # answers of a batch not yet asked for (photo id -> answer or _Fault)
        self._strings: dict[str, str] = {}  # one copy of each label returned (read_face), however many faces
        self._served: set[str] = set()
        self._moved = False  # whether the function changed the working directory already (warned once)
        self._order: Sequence[Photo] = dataset.photos
        self._position = {p.id: i for i, p in enumerate(self._order)}
        self.vocabulary = self._vocabulary()

    # -- vocabulary and provenance -----------------------------------------------------------------------

    @property
    def inferred(self) -> bool:
        """Whether the vocabulary is inferred from the answers (no VOCABULARY declared)."""
        return self.declaration.labels is None

    def _vocabulary(self) -> Vocabulary:
        declared = self.declaration.labels
        if declared is not None:
            return Vocabulary(
                labels=dict(declared),
                source=f"declared in {self.declaration.where} (VOCABULARY"
                + (", ABSTAINS = True)" if self.declaration.abstains else ")"),
                can_abstain=self.declaration.abstains,
                gives_confidence=self.declaration.gives_confidence,
            )
        return Vocabulary(
            labels=dict(sorted(self._state.seen.items())),
            source=f"inferred from the labels {self.spec} returned in this run "
            f"(no VOCABULARY in {self.declaration.where})",
            can_abstain=self._state.abstained,
            gives_confidence=self.declaration.gives_confidence,
        )

    def describe(self) -> dict[str, Any]:
        kind = _KINDS[self.call.kind]
        info: dict[str, Any] = {
            "name": self.declaration.name,
            "adapter": "python",
            "version": self.declaration.version,
            "source": self.spec,
            "input": f"list[{kind}], {self.declaration.batch_size} photos a call" if self.call.batch else kind,
            "vocabulary": self.vocabulary.to_dict(),
            "simulated": False,
            "emulated": False,
            # The model is code in the kit's own process: what it could change is said in every report.
            "in_process": True,
            "trust": _IN_PROCESS_FIXTURE if self.spec.startswith("python:@") else _IN_PROCESS,
        }
        file = self.declaration.file
        if file is not None:
            try:
                hashed = hashlib.sha256()
                with open_regular(file) as handle:  # a block at a time: a compiled module may be large
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        hashed.update(block)
            except (FileNotFoundError, NotADirectoryError):  # gone since the import, or inside a zip: no file
                pass
            except OSError as exc:
                raise _module_problem(self.spec, file, exc) from None
            else:
                info["module_file"] = str(file)
                info["module_sha256"] = hashed.hexdigest()
        if self.inferred:
            info["note"] = _INFERRED_NOTE.format(where=self.declaration.where, spec=self.spec)
        return info

    # -- calling the function ------------------------------------------------------------------------------

    def _argument(self, photo: Photo) -> object:
        if self.call.kind == "str":
            return str(photo.path)
        if self.call.kind == "bytes":
            from ...images import image_bytes

            try:
                return image_bytes(photo.path)
            except ManifestError as exc:  # checked at load; changed since: this photo's error, not the model's
                raise _Fault("the image cannot be read", f"photo {photo.id}: {exc}") from None
        # A plain pathlib.Path, not the dataset's lazily parsed subclass, whose private name showed in the
        # model's own errors ("... not _UnparsedPath", rt14d F8) and failed a type(path) is PosixPath test.
        path = Path(os.fspath(photo.path))
        if self.call.kind == "photo":
            return PhotoInput(path=path, box=photo.box, format=photo.format)
        return path

    def _raised(self, exc: Exception) -> _Fault:
        try:
            text = str(exc)
        except Exception as unprintable:  # its __str__ fails: still this photo's error
            # Named by its type, so that one odd exception class is not a crash of the whole run (rt14c F4).
            text = f"(its message could not be printed: str() raised {type(unprintable).__name__})"
        message = shown(text, _REASON_LIMIT, quoted=False)
        where = _where(exc, self.declaration.file)
        return _Fault(type(exc).__name__, f"{type(exc).__name__}: {message} (raised by {self.spec}{where})")

    def _call(self, argument: object, photo: Photo) -> Any:
        """The function called on ``argument`` (for ``photo``, or a batch starting with it), as user code is run.

        ``SystemExit`` stops the run (:class:`ModelExit`); a changed working directory is changed
        back, with one warning per analyzer. Ctrl-C goes through; any other exception is the caller's.
        """
        before = _cwd()
        try:
            with model_code():  # what it prints goes to the report folder, not among the kit's lines
                return self.function(argument)
        except SystemExit as exc:
            raise ModelExit(
                f"{self.spec} called {_exit_code(exc)}{_where(exc, self.declaration.file)} on photo {photo.id}: a "
                "model under audit must return an answer, not end the process, so the run stopped with no verdict. "
                "If it wraps a command-line tool's main(), call the function main() calls, or catch SystemExit in "
                f"{self.spec.removeprefix('python:')} ({_HOWTO})"
            ) from None
        except (Exception, KeyboardInterrupt, GeneratorExit):
            raise  # an Exception is the caller's (this photo's error); Ctrl-C and SIGTERM interrupt the run
        except BaseException as exc:  # CancelledError, a custom one: not a photo's error
            raise ModelExit(
                f"{self.spec} raised {_type_name(exc)}{_where(exc, self.declaration.file)} on photo {photo.id}, "
                "a BaseException that is not an Exception: it asks the process to stop rather than report a failure, "
                "so the run stopped with no verdict. Make the model raise an Exception (or return "
                f'{{"error": "..."}}) for a photo it cannot answer ({_HOWTO})'
            ) from None
        finally:
            moved = _moved_back(before)
            if moved is not None:
                with self._lock:
                    warn, self._moved = not self._moved, True
                if warn:
                    code = getattr(self.function, "__code__", None)
                    at = (code.co_filename, code.co_firstlineno) if code is not None else (self.spec, 1)
                    _warn_moved(f"{self.spec} (on photo {photo.id})", moved, before or "", at)

    def _answer(self, photo: Photo) -> Any:
        """The function's answer for one photo, or a _Fault; a batch function answers a window of photos at once."""
        if not self.call.batch:
            try:
                argument = self._argument(photo)
            except _Fault as fault:
                return fault
            try:
                return self._call(argument, photo)
            except ModelExit:
                raise
            except Exception as exc:  # the function's failure is this photo's; Ctrl-C and ModelExit stop the run
                return self._raised(exc)
        with self._batch_lock:
            if photo.id in self._pending:
                return self._pending.pop(photo.id)
            window = self._window(photo)
            unread: dict[str, _Fault] = {}  # photos whose image cannot be read: their error, not sent
            arguments = []
            for member in window:
                try:
                    arguments.append(self._argument(member))
                except _Fault as fault:
                    unread[member.id] = fault
            sent = [p for p in window if p.id not in unread]
            answers = self._batch_answers(arguments, photo) if sent else []
            given = iter(answers)
            every = [unread[p.id] if p.id in unread else next(given) for p in window]
            self._served.update(p.id for p in window)
            self._pending.update((p.id, a) for p, a in zip(window[1:], every[1:], strict=True))
            return every[0]

    def _batch_answers(self, arguments: list[object], photo: Photo) -> list[Any]:
        """The batch function's answers to ``arguments`` (the batch starting with ``photo``), one per argument."""
        try:
            answers = self._call(arguments, photo)
        except ModelExit:
            raise
        except Exception as exc:
            return [self._raised(exc)] * len(arguments)
        if inspect.iscoroutine(answers):
            answers.close()  # never awaited: closed, so Python does not warn about it at exit
            return [_Fault("returned a coroutine", f"{self.spec} {_ASYNC}")] * len(arguments)
        answers = _plain(answers)
        if not isinstance(answers, list) or len(answers) != len(arguments):
            got = f"a list of {len(answers)}" if isinstance(answers, list) else shown(answers)
            problem = f"returned {got} for a batch of {len(arguments)} photos; return one answer per photo, in order"
            return [_Fault(problem, f"{self.spec} {problem}")] * len(arguments)
        return answers

    def _window(self, photo: Photo) -> list[Photo]:
        """``photo`` and the photos after it, in the run's order, not yet asked for: one batch."""
        start = self._position.get(photo.id)
        window = [photo]
        if start is None:
            return window  # a transformed variant: a batch of its own
        for later in self._order[start + 1 :]:
            if len(window) >= self.declaration.batch_size:
                break
            if later.id not in self._served and later.id not in self._pending:
                window.append(later)
        return window

    def analyze(self, photo: Photo) -> Observation:
        try:
            observation = self._observe(photo, self._answer(photo))
        except _Fault as fault:
            if photo.id in self.dataset:
                with self._lock:
                    self._state.faults[photo.id] = (fault.kind, fault.reason)
            return Observation(photo=photo.id, outcome="error", reason=fault.reason)
        return observation

    def _observe(self, photo: Photo, answer: Any) -> Observation:
        if isinstance(answer, _Fault):
            raise answer
        if inspect.iscoroutine(answer):
            answer.close()  # never awaited: closed, so Python does not warn about it at exit
            raise _Fault("returned a coroutine", f"photo {photo.id}: {self.spec} {_ASYNC}")
        answer = _plain(answer)
        where = f"photo {photo.id}: {self.spec} returned"
        if not isinstance(answer, Mapping):
            kind = f"returned {type(answer).__name__}"
            raise _Fault(
                kind,
                f'{where} {shown(answer)}; return a dict, {{"faces": [...]}} or {{"error": "..."}} ({_HOWTO})',
            )
        named = answer.get("photo")
        if named is not None and named not in (photo.id, str(photo.path), photo.path.as_posix()):
            raise _Fault(
                "an answer for another photo",
                f'{where} an answer for photo {shown(named)} (its "photo" key), not for {photo.id}: each call answers '
                'the photo it was given, in the same order for a batch; drop "photo" from the answer',
            )
        if answer.get("faces") is not None and answer.get("error") is not None:
            # Read as an error, it silently dropped the faces (rt14d F5); read as faces, it dropped the error.
            raise _Fault(
                'both "faces" and "error"',
                f'{where} both "faces" and "error" ({shown(answer)}): an answer holds one of them, "faces" (a list, '
                'empty when no face was found) or "error" for a photo the model could not answer',
            )
        declared = self.declaration.labels
        try:
            faces, error = read_answer(answer, vocabulary=declared)
        except LabelOutsideVocabulary as exc:
            raise _Fault(
                f"label {exc.label!r} outside VOCABULARY",
                f"{where} gender {shown(exc.label)}, which is not in its VOCABULARY [{shown_list(exc.vocabulary)}]; "
                f"add it to VOCABULARY in {self.declaration.where} with what it means",
            ) from None
        except AnswerProblem as exc:
            raise _Fault(str(exc), f"{where} {shown(answer)}: the answer {exc}") from None
        if error is not None:
            return Observation(photo=photo.id, outcome="error", reason=shown(error, _REASON_LIMIT, quoted=False))
        assert faces is not None
        parsed: list[Face] = []
        learnt: dict[str, str] = {}
        for face in faces:
            label: str | None = face.get("gender")  # a string or None: read_answer checked
            if label is None and self.declaration.labels is not None and not self.declaration.abstains:
                raise _Fault(
                    "a face without gender",
                    f"{where} a face with no gender, but its VOCABULARY says it cannot abstain: set ABSTAINS = True "
                    f"in {self.declaration.where} if it can",
                )
            meaning = None if label is None else self._meaning(label, where)
            if label is not None and meaning is not None and self.inferred:
                learnt[label] = meaning
            try:
                parsed.append(read_face(face, meaning, self._strings))
            except AnswerProblem as exc:
                raise _Fault(str(exc), f"{where} a face {shown(face)}: {exc}") from None
        with self._lock:
            changed = any(self._state.seen.get(k) != v for k, v in learnt.items())
            self._state.seen.update(learnt)
            if any(f.label is None for f in parsed) and not self._state.abstained:
                self._state.abstained = changed = True
            self._state.confidences[photo.id] = [f.confidence for f in parsed if f.confidence is not None]
            if changed:
                self.vocabulary = self._vocabulary()
        if not parsed:
            return Observation(photo=photo.id, outcome="no_face", reason="no face found")
        chosen = choose_face(parsed, photo.box)
        if chosen is None:
            return Observation(
                photo=photo.id,
                outcome="error",
                faces=len(parsed),
                reason=f"{len(parsed)} faces from {self.spec} and none can be told to be the subject's (give every face "
                "a box, and the manifest a box that overlaps the subject's face)",
            )
        return Observation(photo=photo.id, outcome="analysed", face=chosen, faces=len(parsed))

    def _meaning(self, label: str, where: str) -> str:
        declared = self.declaration.labels
        if declared is not None:
            return declared[label]  # read_answer refused a label outside VOCABULARY
        meaning = DEFAULT_LABEL_MAP.get(normalise_key(label))
        if meaning is None:
            raise _Fault(
                f"label {label!r} without a meaning",
                f"{where} gender {shown(label)}, which has no known meaning; declare every label and what it means "
                f"in {self.declaration.where}: VOCABULARY = {{{shown(label)}: "
                '"woman" | "man" | "nonbinary" | "abstain", ...}',
            )
        return meaning

    # -- the run around the calls ----------------------------------------------------------------------------

    @contextmanager
    def session(self, plan: SessionPlan | None = None) -> Iterator[None]:
        """Held open by the runner around every call: afterwards, checks of the run as a whole."""
        yield
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            faults = dict(self._state.faults)
            answered = dict(self._state.confidences)
        # In manifest order (threads and workers answer in any order), variants after: messages name the first.
        position = {p.id: i for i, p in enumerate(self.dataset.photos)}
        confidences = sorted(answered.items(), key=lambda item: (position.get(item[0], len(position)), item[0]))
        kinds = {kind for kind, _ in faults.values()}
        if len(self.dataset) and len(faults) == len(self.dataset) and len(kinds) == 1:
            first = faults[self.dataset.photos[0].id][1]
            raise AdapterError(
                f"{self.spec} failed on every one of the {len(faults)} photos the same way; the first: {first}. "
                f"Fix the function (call it on one photo in a Python shell to see the traceback; {_HOWTO})"
            )
        scales = ConfidenceScales("photo")
        for photo_id, values in confidences:
            for confidence in values:
                scales.add(photo_id, confidence)
        found = scales.problem()
        if found is not None:
            first_photo, problem = found
            where = f", from photo {first_photo} on" if first_photo is not None else ""
            raise AdapterError(f"{self.spec} returned confidences off the 0-100 scale{where}: {problem}")
        if self.inferred:
            self._warn_inferred()

    def _warn_inferred(self) -> None:
        seen = ", ".join(f"{label!r}: {meaning!r}" for label, meaning in self.vocabulary.labels.items())
        # pytest's warnings summary prints the message as it is: the model's labels are data, escaped.
        message = printable(
            f"conformance: {_INFERRED_NOTE.format(where=self.declaration.where, spec=self.spec)} "
            f"Inferred: VOCABULARY = {{{seen}}}" + (", ABSTAINS = True" if self.vocabulary.can_abstain else "")
        )
        # Point at the function itself: that is where VOCABULARY belongs.
        code = getattr(self.function, "__code__", None)
        if code is not None:
            warnings.warn_explicit(message, InferredVocabularyWarning, code.co_filename, code.co_firstlineno)
        else:
            warnings.warn(message, InferredVocabularyWarning, stacklevel=2)

    # Worker processes (executor processes:N or Dask) each build their own analyzer; what they learn of
    # the vocabulary and of failures comes back here, so the run's checks see every photo.

    def worker_payload(self, chunk: Sequence[Photo]) -> list[str]:
        return [p.id for p in chunk]

    @contextmanager
    def worker_session(self, payload: Sequence[str]) -> Iterator[Callable[[], _State]]:
        ids = set(payload)
        self._order = [p for p in self.dataset.photos if p.id in ids]  # a batch stays within the chunk
        self._position = {p.id: i for i, p in enumerate(self._order)}
        yield self._snapshot

    def _snapshot(self) -> _State:
        with self._lock:
            return _State(
                seen=dict(self._state.seen),
                abstained=self._state.abstained,
                faults=dict(self._state.faults),
                confidences={k: list(v) for k, v in self._state.confidences.items()},
            )

    def absorb(self, returned: object) -> None:
        if not isinstance(returned, _State):
            return
        with self._lock:
            self._state.seen.update(returned.seen)
            self._state.abstained = self._state.abstained or returned.abstained
            self._state.faults.update(returned.faults)
            self._state.confidences.update(returned.confidences)
            self.vocabulary = self._vocabulary()


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (and tuples) as the Python values a JSON line would hold; the rest as it is."""
    module = type(value).__module__
    if module == "numpy" and callable(getattr(value, "tolist", None)):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
