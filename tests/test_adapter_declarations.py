"""Red team 18b F1-F4 and the earlier F10: what the kit knows of an adapter comes from its declarations.

- F1: a third party's 1:1 comparator, written from ``conformance.adapters.base`` alone, runs: its factory's declared
  ``Capabilities(compares=True)`` is what the run reads before the manifest loads (the kit used to ask the adapter's
  *module* for an undocumented ``compares_pairs`` function).
- F2: the file the argument of ``--analyzer NAME:ARGUMENT`` names is sealed into the report's evidence even when the
  adapter declares nothing (the contract said so; the kit sealed declared files only).
- F3: an analyzer without a member every analyzer has is refused when it is created, naming the adapter and the
  member (it used to pass, then fail with an AttributeError or have its labels let through unchecked).
- F4: which part of an argument is a file is the factory's declaration, read the same way by the ini rebasing,
  ``conformance verify`` and the evidence; ``conformance run``'s interrupt message reads ``Capabilities.records``.
- earlier F10: the recorder's cassette is a typed protocol, and the ``describe()`` keys the kit reads are declared.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from conformance.adapters import base, registry
from conformance.adapters.base import (
    DESCRIBE_KEYS,
    ArgumentFile,
    Capabilities,
    Vocabulary,
    check_capabilities,
    declares,
    file_and_options,
)
from conformance.errors import AdapterError
from conformance.observation import Face, Observation
from conformance.options import rebase_analyzer

REPO = Path(__file__).resolve().parent.parent

# A third-party package, written from the contract: a 1:1 comparator (its factory declares compares and its file
# argument), a gender adapter that declares nothing, and a recording one that declares records.
ACME = """
from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.adapters.base import Capabilities, EvidenceFile, Vocabulary, declares, file_and_options
from conformance.observation import Face, Observation


class AcmeComparator:
    name = "acme 1:1"
    capabilities = Capabilities(compares=True, reads_files=True)

    def __init__(self, path: str, dataset: Any) -> None:
        from conformance.adapters.scores import ScoresComparator  # stands in for the vendor's own scoring

        self._inner = ScoresComparator(Path(path), dataset=dataset, higher=True)
        self.path = path

    @property
    def scale(self):
        return self._inner.scale

    @property
    def failure_reasons(self):
        return self._inner.failure_reasons

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": "1"}

    def comparisons(self, **kwargs: Any) -> Any:
        return self._inner.comparisons(**kwargs)

    def evidence_files(self) -> list[EvidenceFile]:
        return [EvidenceFile(self.path, "acme scores")]


@declares(AcmeComparator.capabilities, argument_file=file_and_options)
def create(argument, *, dataset, **options):
    return AcmeComparator(str(argument), dataset)


class AcmeLabels:
    name = "acme labels"

    def __init__(self, path: str) -> None:
        import csv

        with open(path, newline="", encoding="utf-8") as handle:
            self.labels = {row["photo"]: row["label"] for row in csv.DictReader(handle)}
        self.vocabulary = Vocabulary(labels={"F": "woman", "M": "man"}, source="acme docs")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": "1"}

    def analyze(self, photo: Any) -> Observation:
        label = self.labels[photo.id]
        face = Face(label=label, gender={"F": "woman", "M": "man"}[label], confidence=90.0)
        return Observation(photo=photo.id, outcome="analysed", face=face, faces=1)


def create_labels(argument, *, dataset, **options):
    return AcmeLabels(str(argument))


@declares(Capabilities(records=True))
def create_recorded(argument, *, dataset, **options):
    raise NotImplementedError


@declares(Capabilities(compares=True))
def create_liar(argument, *, dataset, **options):
    return AcmeLabels(str(argument))
"""

ENTRY_POINTS = """[conformance.adapters]
acme = acme_thirdparty:create
acme_labels = acme_thirdparty:create_labels
acme_recorded = acme_thirdparty:create_recorded
acme_liar = acme_thirdparty:create_liar
"""


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The third-party package on sys.path with its entry points (a dist-info folder, as pip would leave it)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_thirdparty.py").write_text(ACME, encoding="utf-8")
    info = site / "acme_thirdparty-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-thirdparty\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    return site


def _pairs_project(folder: Path) -> None:
    """12 photos of 6 people in two skin groups, no gender columns, and a score for every ordered pair."""
    rows = [
        {"photo": f"p{i:02d}.png", "subject": f"s{i // 2}", "skin": "dark" if i % 4 < 2 else "light"} for i in range(12)
    ]
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["photo", "subject", "skin"])
        writer.writeheader()
        writer.writerows(rows)
    for i, row in enumerate(rows):
        Image.new("RGB", (8, 8), ((i * 37) % 256, (i * 91) % 256, 200)).save(folder / row["photo"])
    with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["probe", "reference", "score"])
        for a in range(12):
            for b in range(12):
                if a != b:
                    writer.writerow(
                        [f"p{a:02d}.png", f"p{b:02d}.png", 90 if a // 2 == b // 2 else 10 + (a * 7 + b) % 30]
                    )


def _run(args: list[str], cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


# -- F1: the declared capabilities are the one source ------------------------------------------------------


def test_the_registry_reads_a_factorys_declared_capabilities_not_its_module(acme: Path) -> None:
    assert registry.compares_pairs("acme:scores.csv") is True
    assert registry.compares_pairs("scores:scores.csv") is True
    assert registry.compares_pairs("local:embeddings") is True
    assert registry.compares_pairs("local") is False
    assert registry.compares_pairs("acme_labels:labels.csv") is False  # declares nothing: not a comparator
    # The built-in modules no longer carry the undocumented function the registry used to look for.
    import conformance.adapters.embeddings as embeddings
    import conformance.adapters.scores as scores

    assert not hasattr(scores, "compares_pairs")
    assert not hasattr(embeddings, "compares_pairs")


def test_a_third_party_comparator_written_from_the_contract_runs(acme: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    _pairs_project(project)
    done = _run(
        [
            "run",
            "--dataset",
            "manifest.csv",
            "--analyzer",
            "acme:scores.csv",
            "--group-by",
            "skin",
            "--checks",
            "false_match_differential",
            "--report-dir",
            "rep",
        ],
        project,
        acme,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads((project / "rep" / "report.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in report["checks"]][:1] == ["false_match_differential"]
    sealed = {Path(f["path"]).name for f in report["evidence"]["analyzer_files"]}
    assert sealed == {"scores.csv"}


def test_a_factory_declaring_compares_that_builds_a_face_analyzer_is_refused(acme: Path, tmp_path: Path) -> None:
    from conformance import load_dataset
    from conformance.demo import MANIFEST

    labels = tmp_path / "labels.csv"
    labels.write_text("photo,label\n", encoding="utf-8")
    with pytest.raises(AdapterError, match=r"acme_liar.*declares Capabilities\(compares=True\).*does not"):
        registry.create(f"acme_liar:{labels}", dataset=load_dataset(MANIFEST))


# -- F2: the argument's file is sealed in any case ------------------------------------------------------------


def test_the_file_after_the_colon_is_sealed_for_an_adapter_that_declares_nothing(acme: Path, tmp_path: Path) -> None:
    from conformance.demo import MANIFEST

    project = tmp_path / "project"
    project.mkdir()
    with open(MANIFEST, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(project / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo", "label"])
        for row in rows:
            writer.writerow([row["photo"], "F" if row["gender_identity"] == "woman" else "M"])
    done = _run(
        [
            "run",
            "--dataset",
            str(MANIFEST),
            "--analyzer",
            "acme_labels:labels.csv",
            "--checks",
            "misgender_gap",
            "--report-dir",
            "rep",
        ],
        project,
        acme,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    evidence = json.loads((project / "rep" / "report.json").read_text(encoding="utf-8"))["evidence"]
    assert [(Path(f["path"]).name, f["kind"]) for f in evidence["analyzer_files"]] == [
        ("labels.csv", "analyzer argument")
    ]
    # And conformance verify now sees the file change.
    with open(project / "labels.csv", "a", encoding="utf-8") as handle:
        handle.write("not-a-photo.png,F\n")
    checked = _run(["verify", "rep/report.json"], project, acme)
    said = checked.stdout + checked.stderr
    assert checked.returncode == 1, said[-2000:]
    assert re.search(r"labels\.csv.*altered", said), said[-2000:]


# -- F3: the members every analyzer has ---------------------------------------------------------------------


class _NoVocabulary:
    name = "acme"

    def describe(self) -> dict[str, Any]:
        return {"name": "acme", "version": "1"}

    def analyze(self, photo: Any) -> Observation:
        return Observation(
            photo=photo.id, outcome="analysed", face=Face(label="X", gender="woman", confidence=1.0), faces=1
        )


def test_an_analyzer_without_a_vocabulary_is_refused_naming_the_member() -> None:
    with pytest.raises(AdapterError, match=r"adapter 'acme'.*_NoVocabulary.* no vocabulary.*Analyzer"):
        check_capabilities(_NoVocabulary(), "adapter 'acme'")


def test_a_vocabulary_that_is_not_a_vocabulary_is_refused() -> None:
    analyzer = _NoVocabulary()
    analyzer.vocabulary = {"X": "woman"}  # type: ignore[attr-defined]
    with pytest.raises(AdapterError, match=r"vocabulary is a dict; declare vocabulary = Vocabulary"):
        check_capabilities(analyzer, "adapter 'acme'")


def test_each_missing_member_is_named() -> None:
    for missing in ("name", "describe", "analyze"):
        members = {
            "name": "acme",
            "vocabulary": Vocabulary({"F": "woman"}, "docs"),
            "describe": lambda: {},
            "analyze": lambda photo: None,
        }
        del members[missing]
        with pytest.raises(AdapterError, match=rf"with no {missing}:"):
            check_capabilities(SimpleNamespace(**members), "adapter 'acme'")


def test_a_comparator_needs_no_vocabulary_nor_analyze() -> None:
    class Comparator:
        name = "c"
        capabilities = Capabilities(compares=True)
        scale = failure_reasons = None

        def describe(self) -> dict[str, Any]:
            return {}

        def comparisons(self, **kwargs: Any) -> Any:
            return None

    check_capabilities(Comparator(), "adapter 'c'")  # accepted


def test_the_vocabulary_is_read_without_a_default_that_lets_labels_through() -> None:
    from conformance.run.execution import hold_to_vocabulary

    answer = Observation(photo="p", outcome="analysed", face=Face(label="X", gender="woman", confidence=1.0), faces=1)
    with pytest.raises(AttributeError):
        hold_to_vocabulary(_NoVocabulary(), answer)  # type: ignore[arg-type]


# -- F4: which part of an argument is a file, said once ------------------------------------------------------


def test_a_third_party_file_in_an_ini_is_read_against_the_ini_folder(acme: Path, tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("photo,label\n", encoding="utf-8")
    assert rebase_analyzer("acme_labels:labels.csv", tmp_path) == f"acme_labels:{tmp_path / 'labels.csv'}"
    # Not a file there: left as written (an adapter that declares nothing may take a word, not a file).
    assert rebase_analyzer("acme_labels:fast", tmp_path) == "acme_labels:fast"
    # A factory that declares its file argument is rebased like the kit's own, options kept.
    assert rebase_analyzer("acme:s.csv?higher=true", tmp_path) == f"acme:{tmp_path / 's.csv'}?higher=true"
    assert rebase_analyzer("scores:s.csv", tmp_path) == f"scores:{tmp_path / 's.csv'}"


def test_the_ini_rebasing_and_verify_read_the_argument_by_one_rule(tmp_path: Path) -> None:
    from conformance.verify import _Places

    specs = [
        "python:models/mine:analyze",
        "python:mine.py:analyze",
        "python:pkg.mod:analyze",
        "python:@x",
        "predictions:p.jsonl",
        "embeddings:e.npy?metric=l2",
        "local:embeddings",
        "rekognition",
    ]
    for spec in specs:
        found = registry.argument_file(spec)
        rebased = rebase_analyzer(spec, tmp_path)
        if found is None:
            assert rebased == spec
        else:
            assert rebased == f"{spec.partition(':')[0]}:{tmp_path / found.file}{found.rest}"
    # verify's reading: the same rule (it used to take only a .py file for python:, where the ini rebased any path).
    places = _Places.__new__(_Places)
    places.path = lambda path: str(tmp_path / path)  # type: ignore[method-assign]
    assert places.spec("python:models/mine:analyze") == f"python:{tmp_path / 'models/mine'}:analyze"
    assert places.spec("python:pkg.mod:analyze") == "python:pkg.mod:analyze"


def test_the_conventions_are_the_contract_functions() -> None:
    assert file_and_options("s.csv?pairs=all") == ArgumentFile("s.csv", "?pairs=all")
    assert base.no_file("embeddings") is None
    assert registry.argument_file("local:embeddings") is None
    assert registry.argument_file("python:mymodel:analyze") is None


def test_the_interrupt_message_reads_the_declared_records(acme: Path) -> None:
    from conformance.cli import _records

    assert _records("acme_recorded", False) is True
    assert _records("acme:scores.csv", False) is False
    assert _records("acme_labels:x.csv", False) is None  # declares nothing: the kit does not guess
    assert _records("rekognition", False) is True
    assert _records("predictions:p.jsonl", False) is False
    assert _records("python:m:f", False) is False


def test_declares_marks_a_factory_with_a_typed_declaration() -> None:
    @declares(lambda argument: Capabilities(compares=argument == "pairs"))
    def create(argument: str | None, **kwargs: Any) -> Any:
        return None

    declaration = base.declaration_of(create)
    assert declaration.capabilities_for("pairs").compares
    assert not declaration.capabilities_for("x").compares
    assert base.declaration_of(lambda: None) == base.Declaration()


# -- earlier F10: the recorder's transport and the describe() keys the kit reads ---------------------------------


def test_the_recorder_reads_a_typed_transport_not_getattr_probes() -> None:
    import typing

    from conformance.recording import recorder

    source = Path(recorder.__file__).read_text(encoding="utf-8")
    assert "getattr(self.cassette" not in source
    assert recorder.RecordedVendor.open_transport.__annotations__["return"] == "Transport"
    assert {"claims", "verdicts"} <= set(typing.get_type_hints(recorder.Transport))


def test_every_describe_key_the_kit_reads_is_declared() -> None:
    """The keys of an analyzer's describe() that the evidence, the replayed provenance and the report's analyzer
    section read are the ones base.DESCRIBE_KEYS declares (besides the kit's own: vocabulary, evidence_files)."""
    kit_own = {"vocabulary", "evidence_files", "observations_cache"}
    read: set[str] = set()
    for module, pattern in (
        ("conformance/evidence.py", r'(?:described|ctx\.analyzer)\.get\("(\w+)"'),
        ("conformance/run/provenance.py", r'info\.get\("(\w+)"'),
        ("conformance/run/runner.py", r'observations\.analyzer\.get\("(\w+)"'),
    ):
        read |= set(re.findall(pattern, (REPO / module).read_text(encoding="utf-8")))
    report = (REPO / "conformance/report.py").read_text(encoding="utf-8")
    section = report[
        report.index("class AnalyzerInfo") : report.index("\nclass ", report.index("class AnalyzerInfo") + 1)
    ]
    read |= set(re.findall(r'fields\.get\("(\w+)"', section))
    assert {"source", "recording_sessions", "recorded_with", "endpoint_class"} <= read  # the pattern still reads
    assert sorted(read - kit_own - set(DESCRIBE_KEYS)) == []
