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
        munits: dict[str, list] = {}  # MUnit folder rel -> [first tif or None, tif count]
        for entry in session.files:
            parents = entry.rel.split("/")[:-1]
            if entry.name.lower().endswith(".mesc") and _SUITE2P not in parents:
                result.recordings.append(Recording(system=cls.name, name=entry.name[: -len(".mesc")],
                                                   folder="/".join(parents), files=[entry.rel], n_files=1))
                continue
            at = next((i for i, p in enumerate(parents) if owns_folder(p)), None)
            if at is None:
                continue
            unit = munits.setdefault("/".join(parents[: at + 1]), [None, 0])
            # suite2p's own products inside the MUnit (reg_tif/...) are not raw frames.
            if entry.name.lower().endswith(_TIF) and _SUITE2P not in parents[at + 1:]:
                unit[0] = unit[0] or entry.rel
                unit[1] += 1
        # An MUnit with only suite2p left in it is still listed, with no raw files, so its output has a home.
        for folder, (first, count) in munits.items():
            result.recordings.append(Recording(system=cls.name, name=folder.rpartition("/")[2], folder=folder,
                                               files=[first] if first else [], n_files=count))
        result.recordings.sort(key=lambda r: (r.folder, r.name))
        return result
