"""The flows the command runs, imported from the repository checkout.

``flows/`` and ``tasks/`` are top-level folders of the checkout, not installed packages: a package
named ``tasks`` in site-packages would collide with any other project's. Prefect's workers load
the flows by path from the checkout (prefect.yaml's entrypoints); the command finds the same
checkout here, beside the installed ``mass_ingest`` (``pip install -e``) or in the current folder,
and puts it first on the import path of this process and of the processes it starts (a process
pool or a Dask cluster running discovery imports the stages too).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

import mass_ingest
from mass_ingest.errors import MassIngestError


def _is_checkout(folder: Path) -> bool:
    return (folder / "flows" / "ingest.py").is_file() and (folder / "tasks").is_dir()


def checkout_root() -> Path:
    """The repository checkout holding ``flows/`` and ``tasks/``."""
    places = [Path(mass_ingest.__file__).resolve().parent.parent, Path.cwd()]
    for place in places:
        if _is_checkout(place):
            return place
    raise MassIngestError(f"the flows are not found beside mass_ingest or in the current folder "
                          f"({', '.join(map(str, places))}); run mass-ingest from the repository checkout "
                          "(the folder with flows/ and tasks/)")


def flows_module(name: str) -> ModuleType:
    """``flows/<name>.py`` of the checkout, imported as ``flows.<name>``."""
    root = str(checkout_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, paths)])
    return importlib.import_module(f"flows.{name}")
