"""Femtonics (MESc): ``.mesc`` files and the ``MUnit_<n>/`` folders exported from them.

A ``.mesc`` file is one recording. MESc exports each measurement unit as raw tifs in
``MUnit_<n>/``, where the lab also runs suite2p; each MUnit is one recording named after its
folder, so that the suite2p Output found in it (``recording='MUnit_<n>'``, see suite2p.py) ties
to it by name. Like ScanImage stacks, an MUnit lists its first tif and counts the others.
"""

from __future__ import annotations

import re

from mass_ingest.candidates import Recording
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles

_MUNIT = re.compile(r"^MUnit_\d+$")
_TIF = (".tif", ".tiff")
_SUITE2P = "suite2p"  # suite2p.py reads what is below it


def owns_folder(name: str) -> bool:
    """True for an MUnit folder: its tifs are Femtonics exports, not ScanImage files."""
    return bool(_MUNIT.match(name))


class Femtonics(RecordingSystem):
    """One recording per ``.mesc`` file and one per ``MUnit_<n>/`` folder."""

    name = "femtonics"
    display_name = "Femtonics (MESc)"
    modality = "imaging"
    associated_suffixes = (".mesc", *_TIF)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        for entry in session.files.with_suffix(".mesc"):
            folder = entry.rel.rpartition("/")[0]
            if _SUITE2P not in folder.split("/"):
                result.recordings.append(Recording(system=cls.name, name=entry.name[: -len(".mesc")],
                                                   folder=folder, files=[entry.rel], n_files=1))
        munits: dict[str, list] = {}  # MUnit folder rel -> [first tif or None, tif count]
        for folder, names in session.files.folder_items():
            parents = folder.split("/")
            at = next((i for i, p in enumerate(parents) if owns_folder(p)), None)
            if at is None:
                continue
            mesc_taken = _SUITE2P not in parents  # a .mesc there is a recording of its own (above)
            # suite2p's own products inside the MUnit (reg_tif/...) are not raw frames.
            raw = _SUITE2P not in parents[at + 1:]
            for name in names:
                lower = name.lower()
                if mesc_taken and lower.endswith(".mesc"):
                    continue
                unit = munits.setdefault("/".join(parents[: at + 1]), [None, 0])
                if raw and lower.endswith(_TIF):
                    rel = f"{folder}/{name}"
                    unit[0] = rel if unit[0] is None or rel < unit[0] else unit[0]  # the first in path order
                    unit[1] += 1
        # An MUnit with only suite2p left in it is still listed, with no raw files, so its output has a home.
        for folder, (first, count) in munits.items():
            result.recordings.append(Recording(system=cls.name, name=folder.rpartition("/")[2], folder=folder,
                                               files=[first] if first else [], n_files=count))
        result.recordings.sort(key=lambda r: (r.folder, r.name))
        return result
