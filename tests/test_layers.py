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
    # A stage is a plain function over frames; what two stages share lives in mass_ingest/. tasks/review.py
    # is no stage but the review page's publishing, which the two stages that show the page call.
    allowed = {("approve", "review"), ("report", "review")}
    found = {(path.stem, module.split(".")[1]) for path in _sources("tasks")
             for module, _, _ in _imports(path) if module.startswith("tasks.")}
    assert found - allowed == set()


def test_the_checks_would_see_a_wrong_import(tmp_path):
    # The parser finds nested and from-imports alike, so the checks above can fail.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from flows.ingest import mass_ingest\nimport tasks.dedup as d\n")
    assert sorted((m, line) for m, _, line in _imports(module)) == [("flows.ingest", 2), ("tasks.dedup", 3)]


def _entrypoints() -> list[str]:
    import yaml

    return [d["entrypoint"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]]


@pytest.mark.parametrize("entrypoint", _entrypoints())
def test_a_worker_loads_each_flow_with_this_checkouts_modules(entrypoint, tmp_path):
    """Prefect's worker loads an entrypoint script under its file's name: a flow file named like a package
    (flows/mass_ingest.py) took the package's place, and its imports fell through to whatever install of
    the package the interpreter had (another checkout's, or none)."""
    import os
    import subprocess
    import sys

    script, _ = entrypoint.split(":")
    assert Path(script).stem not in LAYERS, f"{script} is named like the package {Path(script).stem}"
    probe = ("import sys; from prefect.utilities.importtools import load_script_as_module; "
             f"load_script_as_module({script!r}); "
             "print(sorted({m.__file__.split('/mass_ingest/')[0] for n, m in list(sys.modules.items()) "
             "if n.startswith('mass_ingest.') and getattr(m, '__file__', None)}))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == repr([str(REPO)])


_WRITES = {"insert", "insert1", "delete", "delete_quick", "update1", "drop", "drop_quick"}


def _schema_writes(path: Path) -> list[int]:
    """Lines that call a write method on something reached from ``schema`` (``schema.Session.insert(...)``,
    ``(schema.Session & key).delete()``)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _WRITES:
            names = {n.id for n in ast.walk(node.func.value) if isinstance(n, ast.Name)}
            if "schema" in names:
                lines.append(node.lineno)
    return lines


def test_every_write_of_the_database_lives_beside_the_schema():
    outside = [path for layer in LAYERS for path in _sources(layer) if "mass_ingest/db/" not in path.as_posix()]
    wrong = [f"{path.relative_to(REPO)}:{line}" for path in outside for line in _schema_writes(path)]
    assert wrong == []


def test_the_write_check_sees_a_write(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("schema.Subject.insert([])\n(schema.Session & k).delete()\nsys.path.insert(0, 'x')\n")
    assert _schema_writes(module) == [1, 2]
