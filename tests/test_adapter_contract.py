"""The adapter contract (``conformance.adapters.base``): capabilities declared, never probed; plans passed in.

Also runs the third-party adapter example of docs/reference/python-api.md as the page shows it.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tomllib

from conformance import group_labels, load_dataset, load_policy, run_check
from conformance.adapters import registry
from conformance.adapters.base import (
    AdapterSettings,
    Capabilities,
    SessionPlan,
    Vocabulary,
    capabilities_of,
    check_capabilities,
)
from conformance.dataset import Dataset, Photo
from conformance.demo import MANIFEST, PREDICTIONS
from conformance.errors import AdapterError
from conformance.observation import Face, Observation
from conformance.run.runner import analyze_dataset, plan_variants

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "reference" / "python-api.md"


def _blocks_after(marker: str) -> list[tuple[str, str]]:
    """The fenced blocks (language, body) of the page's section that starts at ``marker``."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(marker)
    end = text.find("\n#", start + len(marker))
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```([a-z]*)\n(.*?)```", section, re.S)


# -- the documented example, run as it stands on the page ---------------------------------------------


@pytest.fixture
def abstain_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The page's package written out and registered under its entry point's name; returns that name."""
    blocks = dict(_blocks_after("### A minimal adapter package"))
    entry_points = tomllib.loads(blocks["toml"])["project"]["entry-points"]["conformance.adapters"]
    ((name, target),) = entry_points.items()
    package = tmp_path / target.partition(":")[0]
    package.mkdir()
    (package / "__init__.py").write_text(blocks["python"], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, package.name, raising=False)
    # What installing the package does: its entry point joins the group the registry reads.
    monkeypatch.setitem(registry._BUILTIN, name, target)
    return name


def test_the_documented_minimal_adapter_runs_as_the_page_says(abstain_adapter: str) -> None:
    dataset = load_dataset(MANIFEST)
    analyzer = registry.create(f"{abstain_adapter}:2.0", dataset=dataset, settings=AdapterSettings())
    assert capabilities_of(analyzer) == Capabilities()  # asked for photos only
    assert analyzer.describe()["version"] == "2.0"
    observations = analyze_dataset(analyzer, dataset)
    # Every photo analysed, one face each, never a gender: 0 of them misgendered, coverage 0.
    assert observations.outcome_counts() == {"analysed": len(dataset), "no_face": 0, "error": 0}
    assert all(o.face is not None and o.face.gender is None for o in observations.records)
    assert observations.variants is None  # it does not declare sees_new_images: no variants
    groups = group_labels(dataset)
    verdicts = {
        check: run_check(check, observations, groups=groups, reference="cis", policy=load_policy(), seed=20261121)
        for check in ("misgender_gap", "nonbinary_representability")
    }
    # As the page says: abstaining on every face is no pass. Every cis photo is not correctly gendered (1),
    # no nonbinary one misgendered (0): a gap of -1 that fails; the static half of representability passes.
    assert {check: result.verdict for check, result in verdicts.items()} == {
        "misgender_gap": "fail",
        "nonbinary_representability": "inconclusive",
    }
    (nonbinary,) = [c for c in verdicts["misgender_gap"].comparisons if (c.group, c.reference) == ("nonbinary", "cis")]
    assert nonbinary.difference == -1.0


# -- declarations held to their members ------------------------------------------------------------------


class _Plain:
    name = "plain"
    vocabulary = Vocabulary(labels={"F": "woman", "M": "man"}, source="test")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": "1"}

    def analyze(self, photo: Photo) -> Observation:
        return Observation(photo.id, "analysed", Face("F", "woman", 90.0))


def test_a_declared_capability_without_its_members_is_refused_naming_them() -> None:
    class Claims(_Plain):
        capabilities = Capabilities(records=True)

        def can_see(self, photo: Photo) -> bool:
            return True

    with pytest.raises(AdapterError, match=r"records=True.*no cache_key, cacheable, chunk_limit, emulated.*Recorded"):
        check_capabilities(Claims(), "adapter 'claims'")


def test_members_without_a_declaration_are_refused_not_guessed() -> None:
    """An adapter written for a kit that probed for session(): told to declare it, never silently skipped."""

    class Undeclared(_Plain):
        sees_new_images = True

        @contextmanager
        def session(self, plan: SessionPlan | None = None) -> Iterator[None]:
            yield

    with pytest.raises(AdapterError, match=r"Capabilities\(sees_new_images=True, sessions=True\)"):
        check_capabilities(Undeclared(), "adapter 'old'")


def test_a_declaration_that_is_not_capabilities_is_refused() -> None:
    class Wrong(_Plain):
        capabilities: ClassVar[object] = {"sessions": True}

    with pytest.raises(AdapterError, match="capabilities is a dict"):
        check_capabilities(Wrong(), "adapter 'wrong'")


def test_an_analyzer_declaring_nothing_is_asked_for_photos_only() -> None:
    check_capabilities(_Plain(), "adapter 'plain'")
    assert capabilities_of(_Plain()) == Capabilities()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # The predictions file is sealed into the report (red team 18 F10).
        (f"predictions:{PREDICTIONS}", Capabilities(searches=True, reads_files=True)),
        (
            "rekognition",
            Capabilities(
                sees_new_images=True,
                sessions=True,
                calls_service=True,
                records=True,
                workers=True,
                searches=True,
                reads_files=True,  # its recording, sealed into the report (red team 18 F10)
            ),
        ),
    ],
)
def test_the_kits_adapters_declare_what_they_do_and_keep_it(spec: str, expected: Capabilities) -> None:
    dataset = load_dataset(MANIFEST)
    analyzer = registry.create(spec, dataset=dataset)  # check_capabilities ran here
    # The advice a stopped run gives is text, held by the systematic-failure tests; here, what is declared.
    assert dataclasses.replace(capabilities_of(analyzer), failure_advice="") == expected


# -- the run passes a plan in, and sets nothing on the analyzer ---------------------------------------------


class _Sealed(_Plain):
    """Declares a session that estimates calls; refuses any attribute set on it from outside."""

    capabilities = Capabilities(sees_new_images=True, sessions=True, calls_service=True)

    def __init__(self) -> None:
        object.__setattr__(self, "plans", [])

    def __setattr__(self, name: str, value: object) -> None:
        raise AssertionError(f"the run set {name} on the analyzer")

    @contextmanager
    def session(self, plan: SessionPlan | None = None) -> Iterator[None]:
        self.plans.append(plan)
        yield


def test_the_runner_hands_the_session_a_plan_counting_the_variants() -> None:
    dataset: Dataset = load_dataset(MANIFEST)
    variants = plan_variants(dataset, photos=4, transforms=3, seed=7)
    analyzer = _Sealed()
    analyze_dataset(analyzer, dataset, variants=variants)
    # 4 photos x 3 transforms, counted by hand; serial: one process shares the rate limit.
    assert analyzer.plans == [SessionPlan(variant_calls=12, workers=1)]
