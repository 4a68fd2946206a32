"""The README's "What is where" table matches the tree: every module it names exists, every module is named.

A newcomer reads the table to find the room a job lives in; a module missing from it, or a name it gives
that is gone, sends them to the wrong room.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("mass_ingest", "tasks", "flows", "benchmarks")
# Folders of many modules of one kind: the table names the folder, not each vendor reader, system or suite.
NAMED_AS_FOLDERS = ("mass_ingest/readers", "mass_ingest/systems", "mass_ingest/expectations")


def _table_names() -> set[str]:
    """Every name in back quotes in the table's rows."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What is where", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row)}


def _modules() -> list[Path]:
    return sorted(p.relative_to(REPO) for package in PACKAGES for p in (REPO / package).rglob("*.py")
                  if p.stem not in ("__init__", "__main__"))


def test_every_module_is_in_the_table() -> None:
    names = _table_names()
    missing = [str(m) for m in _modules()
               if not {str(m), m.name, m.stem} & names and not str(m.parent).startswith(NAMED_AS_FOLDERS)]
    assert missing == []


def test_every_path_the_table_names_exists() -> None:
    files = {p.relative_to(REPO) for p in REPO.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts}
    gone = [name for name in sorted(_table_names()) if name.endswith((".py", ".yaml", "/"))
            and not any(str(f) == name.rstrip("/") or f.name == name.rstrip("/")
                        or str(f).endswith("/" + name.rstrip("/")) for f in files)]
    assert gone == []
