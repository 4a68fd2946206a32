"""Position tracking recorded with the ephys: Motive (``motive/``) and Optitrack CSV exports (``Optitrack/``).

Its modality is ephys because in this lab tracking is part of an ephys session: a layout
without a ``systems`` list then reads it too.
"""

from __future__ import annotations

import json

from mass_ingest.candidates import Recording
from mass_ingest.readers import read_head
from mass_ingest.readers.spikeglx import parse_meta_text
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Tracking(RecordingSystem):
    """A ``motive/`` folder (matmot.meta, matmot.mtv, sync.mat) and ``Optitrack/*.csv``, at any depth.

    This module owns the Optitrack folder: Neurologger sessions hold one too, and Neurologger only
    checks it is there, so the folder is reported once whichever systems a layout runs.
    """

    name = "tracking"
    display_name = "Motive / Optitrack tracking"
    modality = "ephys"
    associated_suffixes = (".meta", ".mtv", ".mat", ".csv")
    # Folder names are matched in any case: the lab's shares are Windows shares.
    motive = "motive"
    # The take's metadata, the take itself, and the pulses that align it with the probes.
    motive_files = ("matmot.meta", "matmot.mtv", "sync.mat")
    optitrack = "optitrack"

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        # Only files directly in a motive/ or Optitrack/ folder; bounded by those folders' sizes.
        motive: dict[str, list[str]] = {}
        optitrack: dict[str, list[str]] = {}
        for folder, names in session.files.folder_items():
            kind = folder.rpartition("/")[2].lower()
            if kind == cls.motive:
                motive[folder] = names
            elif kind == cls.optitrack:
                optitrack[folder] = names
        for folder, names in sorted(motive.items()):
            result.recordings.append(cls._motive(session, folder, names, result))
        for folder, names in sorted(optitrack.items()):
            csvs = sorted(f"{folder}/{n}" for n in names if n.lower().endswith(".csv"))
            if csvs:  # an Optitrack/ folder without exports (a .tak only) is not a recording yet
                result.recordings.append(Recording(system=cls.name, name="optitrack", folder=folder, files=csvs,
                                                   n_files=len(names)))
        return result

    @classmethod
    def _motive(cls, session: SessionFiles, folder: str, names: list[str], result: Recognised) -> Recording:
        present = {n.lower(): n for n in names}
        missing = [n for n in cls.motive_files if n not in present]
        if missing:
            result.findings.append(session.finding(
                "TRACKING.INCOMPLETE", folder,
                f"the Motive folder lacks {', '.join(missing)}; copy the missing files from the tracking computer",
                expected=", ".join(cls.motive_files)))
        files = sorted(f"{folder}/{present[n]}" for n in cls.motive_files if n in present)
        details = cls._take_details(session, f"{folder}/{present['matmot.meta']}", result) \
            if "matmot.meta" in present else {}
        return Recording(system=cls.name, name="motive", folder=folder, files=files, n_files=len(names),
                         details=json.dumps(details))

    @staticmethod
    def _take_details(session: SessionFiles, rel: str, result: Recognised) -> dict:
        """Frame rate, rigid bodies and start of the take, from matmot.meta's key=value lines."""
        try:
            raw, _ = parse_meta_text(read_head(session.files.path(rel), 1_000_000).decode("utf-8", "replace"))
        except OSError as exc:
            result.findings.append(session.finding(
                "TRACKING.INCOMPLETE", rel, f"cannot be read ({exc.strerror or exc}); copy it again"))
            return {}
        details: dict = {}
        for key, name, kind in (("frameRate", "frame_rate", float), ("nRigidBodies", "n_rigid_bodies", int),
                                ("fileCreateTime", "created", str)):
            try:
                details[name] = kind(raw[key])
            except (KeyError, ValueError):
                continue
        return details
