"""Recording systems: each module says what it recognises in a session folder's files.

``SYSTEMS`` maps the names a profile may list under ``layouts[].systems`` to their classes.
A layout without ``systems`` uses every system of its modality, plus task hints.
"""

from __future__ import annotations

from functools import lru_cache

from mass_ingest.systems.axona import Axona
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles
from mass_ingest.systems.dlc import DeepLabCut
from mass_ingest.systems.femtonics import Femtonics
from mass_ingest.systems.imaging_rig import Tracking2D, Video, Wavesurfer, Wheel
from mass_ingest.systems.kilosort import Kilosort
from mass_ingest.systems.neuralynx import Neuralynx
from mass_ingest.systems.neurologger import Neurologger
from mass_ingest.systems.neuropixels import Neuropixels
from mass_ingest.systems.scanimage import ScanImage
from mass_ingest.systems.suite2p import Suite2p
from mass_ingest.systems.sessions_txt import SessionsTxt
from mass_ingest.systems.tracking import Tracking

# One tuple per family, so that modules can be added without touching each other's lines.
_EPHYS: tuple[type[RecordingSystem], ...] = (Neuropixels, Kilosort, Axona, Neuralynx, Neurologger, Tracking)
_IMAGING: tuple[type[RecordingSystem], ...] = (ScanImage, Wavesurfer, Wheel, Tracking2D, Video, Femtonics,
                                              Suite2p, DeepLabCut)
_BEHAVIOUR: tuple[type[RecordingSystem], ...] = (SessionsTxt,)

SYSTEMS: dict[str, type[RecordingSystem]] = {cls.name: cls for cls in (*_EPHYS, *_IMAGING, *_BEHAVIOUR)}


def systems_for(modality: str, names: list[str] | None) -> tuple[type[RecordingSystem], ...]:
    """The systems a layout asks for: by name, or all of its modality plus task hints."""
    return _systems_for(modality, tuple(names) if names else None)


@lru_cache(maxsize=None)  # asked once per session folder; the answer depends on the layout only
def _systems_for(modality: str, names: tuple[str, ...] | None) -> tuple[type[RecordingSystem], ...]:
    if names:
        return tuple(SYSTEMS[n] for n in names)
    return tuple(cls for cls in SYSTEMS.values() if cls.modality in (modality, "behaviour"))


__all__ = ["SYSTEMS", "Recognised", "RecordingSystem", "SessionFiles", "systems_for"]
