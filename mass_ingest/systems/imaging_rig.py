"""The other recorders of the imaging rig: Wavesurfer, the running wheel, 2D tracking and video.

They sit beside the ScanImage tifs and are named after the same basename when the rig was set up
as documented, which is how they are tied to a ScanImage recording (equal ``name``). Files below
processing folders (suite2p, DeepLabCut, preprocessed, Femtonics MUnit) are left to those
plug-ins, and DeepLabCut result files are never taken for tracking or video wherever they lie.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from mass_ingest.candidates import Recording
from mass_ingest.readers.video import VideoUnreadable, read_video_header
from mass_ingest.systems import dlc
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles
from mass_ingest.systems.scanimage import elsewhere
from mass_ingest.file_list import FileEntry

_WHEEL = "_wheel.csv"  # the lab writes _WHEEL.csv; compared case-insensitively


def _raw(session: SessionFiles, suffixes: tuple[str, ...]) -> Iterator[tuple[FileEntry, str]]:
    """(file, folder) of the rig's own files with one of ``suffixes``."""
    for entry in session.files.with_suffix(*suffixes):
        if not elsewhere(entry.rel) and not dlc.is_result_file(entry.name):
            yield entry, entry.rel.rpartition("/")[0]


def _single(system: str, name: str, entry: FileEntry, folder: str) -> Recording:
    return Recording(system=system, name=name, folder=folder, files=[entry.rel], n_files=1)


class Wavesurfer(RecordingSystem):
    """``<basename>_<nnnn>.h5`` (or ``_<nnnn>-<nnnn>.h5`` for several sweeps): one recording per basename."""

    name = "wavesurfer"
    display_name = "Wavesurfer"
    modality = "imaging"
    associated_suffixes = (".h5",)
    _FILE = re.compile(r"^(?P<base>.+)_\d{4}(?:-\d{4})?\.h5$", re.IGNORECASE)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        runs: dict[tuple[str, str], list[str]] = {}
        for entry, folder in _raw(session, cls.associated_suffixes):
            match = cls._FILE.match(entry.name)
            if match:
                runs.setdefault((folder, match["base"]), []).append(entry.rel)
        # Each file is one run (one ScanImage restart), so all are identifying files.
        return Recognised(recordings=[Recording(system=cls.name, name=base, folder=folder, files=files,
                                                n_files=len(files)) for (folder, base), files in sorted(runs.items())])


class Wheel(RecordingSystem):
    """``<basename>_WHEEL.csv``: the running wheel, one recording per file."""

    name = "wheel"
    display_name = "Running wheel"
    modality = "imaging"
    associated_suffixes = (_WHEEL,)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        return Recognised(recordings=[_single(cls.name, e.name[: -len(_WHEEL)], e, folder)
                                      for e, folder in _raw(session, cls.associated_suffixes)])


class Tracking2D(RecordingSystem):
    """Any other ``.csv`` of the rig: 2D tracking, one recording per file named by its stem."""

    name = "tracking2d"
    display_name = "2D tracking"
    modality = "imaging"
    associated_suffixes = (".csv",)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        return Recognised(recordings=[_single(cls.name, e.name[: -len(".csv")], e, folder)
                                      for e, folder in _raw(session, cls.associated_suffixes)
                                      if not e.name.lower().endswith(_WHEEL)])


class Video(RecordingSystem):
    """``.avi`` / ``.mp4`` of the rig's cameras, one recording per file named by its stem."""

    name = "video"
    display_name = "Video"
    modality = "imaging"
    associated_suffixes = (".avi", ".mp4")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        for entry, folder in _raw(session, cls.associated_suffixes):
            recording = _single(cls.name, entry.name.rpartition(".")[0], entry, folder)
            try:
                header = read_video_header(entry.path)
            except VideoUnreadable as exc:
                result.findings.append(session.finding(
                    "VIDEO.UNREADABLE", entry.rel, f"no readable video header ({str(exc)[:120]}), so its duration "
                    "is unknown; copy the video again from the rig, or confirm the recording failed"))
            else:
                details = {"duration_s": header.duration_s, "n_frames": header.n_frames,
                           "frame_rate": header.frame_rate, "width": header.width, "height": header.height,
                           "codec": header.codec}
                recording.details = json.dumps({k: v for k, v in details.items() if v is not None})
            result.recordings.append(recording)
        return result
