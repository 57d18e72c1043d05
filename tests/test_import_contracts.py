"""The import contracts hold the pipeline's one-way rules (issue 18 item 8; red team 18b F5).

Red team 18b added one rule-breaking import at a time to a copy of the kit and ran ``lint-imports``: the
hand-written ``forbidden`` lists let 12 of 14 through (stats importing the planner, a leaf importing the
identities, checks importing the run's looks, reporting importing the photos...). Here each of those imports is
added to the kit's import graph (grimp's, the graph ``lint-imports`` checks) and every contract of
pyproject.toml is checked against it with import-linter's own contract classes: at least one contract must
break. One probe also goes through the real command on a copy of the package, so that the two ways agree.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

importlinter = pytest.importorskip("importlinter", reason="import-linter is in the lint extra: pip install -e .[lint]")
grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).parents[1]
PYPROJECT = ROOT / "pyproject.toml"


class Probe(NamedTuple):
    importer: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}"


# Red team 18b's probes (/work/redteam/18b/probes/lint_probe.sh): each line it appended, as the graph edge it
# makes (``from .retention import preflight`` in stats.py is conformance.stats -> conformance.retention).
PROBES = [
    Probe("conformance.stats", "conformance.recording.store", "statistics know nothing of the kit"),
    Probe("conformance.stats", "conformance.planning.sizes", "statistics know nothing of the kit (a cycle)"),
    Probe("conformance.stats", "conformance.retention", "statistics know nothing of the kit (botocore)"),
    Probe("conformance._format", "conformance.identity", "leaves import no layer"),
    Probe("conformance._defaults", "conformance.images", "leaves import no layer (Pillow, the data)"),
    Probe("conformance.checks.gender._common", "conformance.sequential", "checks never import the run"),
    Probe("conformance.checks.gender._common", "conformance.planning.sizes", "checks are pure: not the planner"),
    Probe("conformance.dataset", "conformance.sequential", "the data knows no run"),
    Probe("conformance.dataset", "conformance.failures", "the data knows no run"),
    Probe("conformance.reporting.markdown", "conformance.images", "reporting never reaches the data"),
    Probe("conformance.reporting.markdown", "conformance.identity", "reporting never reaches the data"),
    Probe("conformance.adapters.local", "conformance.sequential", "adapters never import the run"),
    Probe("conformance.adapters.local", "conformance.comparison.values", "adapters never import reports"),
    Probe("conformance.comparison.values", "conformance.images", "comparing never reaches the data"),
    # The review's two controls, which the old contracts caught too.
    Probe("conformance.sequential", "conformance.run.runner", "the run's looks are below the run"),
    Probe("conformance.checks.gender._common", "conformance.reporting.markdown", "checks never import reporting"),
]


class Contracts(NamedTuple):
    session: dict[str, Any]
    options: list[dict[str, Any]]

    def broken(self, graph: Any) -> list[str]:
        """The ids of the contracts ``graph`` breaks (each checked on its own copy, as lint-imports does)."""
        from importlinter.contracts.forbidden import ForbiddenContract
        from importlinter.contracts.independence import IndependenceContract
        from importlinter.contracts.layers import LayersContract

        kinds: dict[str, Any] = {
            "layers": LayersContract,
            "forbidden": ForbiddenContract,
            "independence": IndependenceContract,
        }
        broken = []
        for options in self.options:
            contract = kinds[options["type"]](
                name=options["name"], session_options=self.session, contract_options=options
            )
            if not contract.check(copy.deepcopy(graph), verbose=False).kept:
                broken.append(options.get("id", options["name"]))
        return broken

    def by_id(self, contract_id: str) -> dict[str, Any]:
        return next(options for options in self.options if options.get("id") == contract_id)


@pytest.fixture(scope="module")
def contracts() -> Contracts:
    from importlinter import api

    config = api.read_configuration(str(PYPROJECT))
    session = dict(config["session_options"])
    if "root_packages" not in session:  # older import-linter leaves it as root_package
        session["root_packages"] = [session["root_package"]]
    return Contracts(session, list(config["contracts_options"]))


@pytest.fixture(scope="module")
def graph(request: pytest.FixtureRequest) -> Any:
    import conformance

    # The graph of the package beside this pyproject.toml (a scratch checkout of an older commit works too).
    assert Path(conformance.__file__).parent == ROOT / "conformance"
    config_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = config_cache.mkdir("grimp") if config_cache is not None else None
    return grimp.build_graph(
        "conformance",
        include_external_packages=True,
        exclude_type_checking_imports=True,
        cache_dir=str(cache) if cache is not None else None,
    )


def _with(graph: Any, importer: str, imported: str) -> Any:
    probed = copy.deepcopy(graph)
    if imported not in probed.find_modules_directly_imported_by(importer):
        probed.add_import(importer=importer, imported=imported, line_number=1, line_contents="probe")
    return probed


def test_the_kit_keeps_every_contract(contracts: Contracts, graph: Any) -> None:
    assert contracts.broken(graph) == []


@pytest.mark.parametrize("probe", PROBES, ids=str)
def test_a_rule_breaking_import_breaks_a_contract(contracts: Contracts, graph: Any, probe: Probe) -> None:
    # Both ends exist, and the kit does not import this already (else the clean graph would break too).
    assert {probe.importer, probe.imported} <= graph.modules
    assert probe.imported not in graph.find_modules_directly_imported_by(probe.importer)
    assert contracts.broken(_with(graph, probe.importer, probe.imported)) != [], f"not caught: {probe.rule}"


def test_a_new_module_must_be_placed_in_a_layer(contracts: Contracts, graph: Any) -> None:
    # A module nobody listed is not allowed everywhere (the old contracts' hole, red team 18b F5 (a)).
    probed = copy.deepcopy(graph)
    probed.add_module("conformance.newcomer")
    probed.add_import(
        importer="conformance.run.runner", imported="conformance.newcomer", line_number=1, line_contents="probe"
    )
    assert "pipeline" in contracts.broken(probed)


def test_a_new_module_that_imports_pytest_or_a_vendor_sdk_is_caught(contracts: Contracts, graph: Any) -> None:
    for external, contract in (("pytest", "pytest"), ("botocore", "vendor-sdks")):
        assert contract in contracts.broken(_with(graph, "conformance.checks.gender._common", external))


def _pipeline_layers(contracts: Contracts) -> list[list[str]]:
    """The pipeline contract's layers, highest first, each as its module names (optional ones unwrapped)."""
    return [
        [name.strip().strip("()") for name in re.split(r"[|:]", layer)]
        for layer in contracts.by_id("pipeline")["layers"]
    ]


def test_the_check_ids_import_nothing_but_leaves(contracts: Contracts, graph: Any) -> None:
    # The one import the pipeline lets climb (policy -> checks.check_ids) is safe only while check_ids is a leaf.
    leaves = {f"conformance.{name}" for name in _pipeline_layers(contracts)[-1]}
    kit = {m for m in graph.find_upstream_modules("conformance.checks.check_ids") if m.startswith("conformance")}
    assert kit <= leaves


# The values a report is made of: what reporting and comparing read (besides the check ids and the leaves).
REPORT_VALUES = {"report", "results", "details"}


def test_reports_contract_names_every_module_between_the_run_and_the_statistics(
    contracts: Contracts, graph: Any
) -> None:
    # A module added to one of these layers is forbidden to reporting unless it is one of the report's values.
    layers = _pipeline_layers(contracts)
    first = next(i for i, layer in enumerate(layers) if "options" in layer) + 1
    last = next(i for i, layer in enumerate(layers) if "pairstats" in layer)
    between = {name for layer in layers[first:last] for name in layer} - REPORT_VALUES - {"checks"}
    expected = {f"conformance.{name}" for name in between}
    expected |= {m for m in graph.find_children("conformance.checks") if m != "conformance.checks.check_ids"}
    forbidden = set(contracts.by_id("reports")["forbidden_modules"])
    assert sorted(expected - forbidden) == [], "add them to the reports contract's forbidden_modules"


def _package_copy(tmp_path: Path) -> Path:
    """The kit's modules (Python files only) and pyproject.toml, copied to ``tmp_path``."""

    def not_python(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(folder) / n).is_dir())}

    shutil.copytree(ROOT / "conformance", tmp_path / "conformance", ignore=not_python)
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.skip("no lint-imports beside this Python")
    env = {**os.environ, "PYTHONPATH": str(folder), "NO_COLOR": "1"}
    return subprocess.run(
        [str(command), "--no-cache"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_lint_imports_itself_refuses_a_probe_in_a_copy_of_the_kit(tmp_path: Path) -> None:
    # The command, not the API: the statistics importing the planner (a cycle the old contracts let through).
    folder = _package_copy(tmp_path)
    stats = folder / "conformance" / "stats.py"
    stats.write_text(stats.read_text(encoding="utf-8") + "\nfrom .planning import sizes as _probe  # probe\n")
    done = _lint_imports(folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "conformance.stats -> conformance.planning.sizes" in done.stdout
