"""No package of the kit is on an import cycle through a module outside it (issue 18, item 4).

``run/context.py`` imported ``conformance.sharing``, which imported ``run/cache.py`` back: the run
package was on a cycle through a module outside it. ``sharing`` is now ``run/sharing.py``, and its old
name an alias of it. Imports under ``TYPE_CHECKING`` do not count, as for the import-linter contracts.
"""

from __future__ import annotations

import pytest


def test_no_package_of_the_kit_is_on_an_import_cycle_through_modules_outside_it() -> None:
    grimp = pytest.importorskip("grimp")  # import-linter's graph library: pip install -e ".[lint]"

    graph = grimp.build_graph("conformance", exclude_type_checking_imports=True)
    packages = sorted(m for m in graph.modules if m.count(".") == 1 and graph.find_children(m))
    assert "conformance.run" in packages
    cycles = {}
    for package in packages:
        inside = {m for m in graph.modules if m == package or m.startswith(package + ".")}
        through = [
            module
            for module in sorted(set(graph.modules) - inside)
            if any(graph.chain_exists(m, module) for m in inside) and any(graph.chain_exists(module, m) for m in inside)
        ]
        if through:
            cycles[package] = through
    assert cycles == {}


def test_the_old_name_of_the_run_share_is_the_same_module() -> None:
    import conformance.run.sharing as moved
    from conformance import sharing

    # Not a copy: a worker's activated share and the private names the hostile-input tests use are the same.
    assert sharing is moved
    assert sharing.Share is moved.Share
    assert sharing._read is moved._read
