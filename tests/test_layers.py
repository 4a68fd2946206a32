"""The package boundary, read from the source: each module imports only from its own layer or below.

Layers, lowest first: ``mass_ingest`` (the library: models, readers, database, CLI), ``tasks``
(the stages), ``flows`` (their composition). The CLI runs flows through
mass_ingest/cli/checkout.py, which imports them from the checkout at run time, never at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("mass_ingest", "tasks", "flows")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names imported from it, line) of every absolute import in the file, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _sources(layer: str) -> list[Path]:
    return sorted((REPO / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_from_a_layer_above_it(layer):
    above = LAYERS[LAYERS.index(layer) + 1:]
    wrong = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in _sources(layer) for module, _, line in _imports(path)
             if module.split(".")[0] in above]
    assert wrong == []


@pytest.mark.parametrize("layer", ("tasks", "flows"))
def test_stages_and_flows_import_no_private_names(layer):
    wrong = [f"{path.relative_to(REPO)}:{line} imports {name} from {module}"
             for path in _sources(layer) for module, names, line in _imports(path)
             if module.split(".")[0] in LAYERS for name in names if name.startswith("_")]
    assert wrong == []


def test_the_stages_do_not_import_each_other_but_where_one_needs_another():
    # A stage is a plain function over frames; what two stages share lives in mass_ingest/.
    allowed: set[tuple[str, str]] = set()
    found = {(path.stem, module.split(".")[1]) for path in _sources("tasks")
             for module, _, _ in _imports(path) if module.startswith("tasks.")}
    assert found - allowed == set()


def test_the_checks_would_see_a_wrong_import(tmp_path):
    # The parser finds nested and from-imports alike, so the checks above can fail.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from flows.mass_ingest import mass_ingest\nimport tasks.dedup as d\n")
    assert sorted((m, line) for m, _, line in _imports(module)) == [("flows.mass_ingest", 2), ("tasks.dedup", 3)]
