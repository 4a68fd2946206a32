"""ScanImage (and the 2P miniscope, which writes the same files): one recording per basename.

ScanImage names its files ``<basename>_<acquisition>_<part>.tif`` with two 5-digit counters:
the first counts acquisitions (each restart of the basename), the second the files one
acquisition is split into. The lab stitches every restart of a basename into one recording, so
a recording is a (folder, basename) pair. It lists the first file of each restart and counts the
rest, so what discovery keeps grows with sessions, not with split files.

Preprocessing products (a ``_preproc`` or other suffix after the counters, or any tif below a
``preprocessed/`` folder) are not recordings: they are listed as ``preprocessed`` Outputs of
their basename, so a person sees that they exist without them being counted twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from mass_ingest.candidates import Output, Recording
from mass_ingest.readers.scanimage_tiff import TiffUnreadable, read_tiff_header
from mass_ingest.systems import dlc, femtonics, suite2p
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles

_TIF = re.compile(r"^(?P<base>.+?)_(?P<acq>\d{5})_(?P<part>\d{5})(?P<suffix>_[^.]*)?\.tiff?$", re.IGNORECASE)
PREPROCESSED = "preprocessed"
_SHOWN = 5  # missing files named in one counter-gap finding; the rest are counted


def elsewhere(rel: str) -> bool:
    """True below a folder another plug-in reads (suite2p, DeepLabCut, Femtonics MUnit) or preprocessing output."""
    return any(p == PREPROCESSED or suite2p.owns_folder(p) or dlc.owns_folder(p) or femtonics.owns_folder(p)
               for p in rel.split("/")[:-1])


@dataclass
class _Stack:
    """The files of one basename in one folder: the first file and the parts seen, per acquisition."""

    first: dict[int, str] = field(default_factory=dict)
    parts: dict[int, set[int]] = field(default_factory=dict)
    n_files: int = 0
    files: dict[int, list[str]] = field(default_factory=dict)  # every file, per acquisition, in part order

    def add(self, rel: str, acq: int, part: int) -> None:
        # The walker sorts by path and the counters are zero-padded, so the first seen is the first part.
        self.first.setdefault(acq, rel)
        self.parts.setdefault(acq, set()).add(part)
        self.files.setdefault(acq, []).append(rel)
        self.n_files += 1

    def missing(self, base: str) -> list[tuple[str, str]]:
        """(file after the gap, missing name) for each gap in either counter."""
        acqs = sorted(self.first)
        # Acquisitions may start above 1 (ScanImage lets the user set the number), parts may not.
        gaps = [(self.first[next(b for b in acqs if b > a)], f"{base}_{a:05d}_*")
                for a in range(acqs[0], acqs[-1]) if a not in self.first]
        for a in acqs:
            gaps += [(self.first[a], f"{base}_{a:05d}_{p:05d}")
                     for p in range(1, max(self.parts[a])) if p not in self.parts[a]]
        return gaps


def _read_headers(session: SessionFiles, stack: _Stack, result: Recognised) -> dict:
    """What the headers of every file of one recording tell, and a finding per file tifffile cannot read.

    Frames are counted in every file (each restart and split); the size, type, rate and version
    are the first readable file's; ``started`` is the first acquisition's start from its header,
    and each restart's own start is listed under ``acquisitions``.
    """
    details: dict = {}
    n_frames, read, acquisitions = 0, 0, []
    for acq in sorted(stack.files):
        acq_frames, acq_started = 0, None
        for rel in stack.files[acq]:
            try:
                header = read_tiff_header(session.files.path(rel))
            except TiffUnreadable as exc:
                result.findings.append(session.finding(
                    "IMAGING.UNREADABLE_TIFF", rel,
                    f"tifffile cannot read this file ({str(exc)[:120]}), so its frames are not counted; copy it "
                    "again from the rig, or confirm the acquisition was cut short"))
                continue
            read += 1
            acq_frames += header.n_frames
            acq_started = acq_started or header.started
            if "frame_width" not in details:
                details.update(frame_width=header.width, frame_height=header.height, dtype=header.dtype,
                               n_channels=header.n_channels, scanimage_header=header.scanimage)
                if header.frame_rate is not None:
                    details["frame_rate"] = header.frame_rate
                if header.version:
                    details["scanimage_version"] = header.version
        n_frames += acq_frames
        acquisitions.append({"acquisition": acq, "n_frames": acq_frames,
                             "started": acq_started.isoformat() if acq_started else None})
    if not read:
        return {"n_files_read": 0}
    started = [a["started"] for a in acquisitions if a["started"]]
    if started:
        details["started"] = started[0]
    return {"n_frames": n_frames, "n_files_read": read, **details, "acquisitions": acquisitions}


class ScanImage(RecordingSystem):
    """``<basename>_<nnnnn>_<nnnnn>.tif`` at any depth outside processing folders."""

    name = "scanimage"
    display_name = "ScanImage / 2P miniscope"
    modality = "imaging"
    associated_suffixes = (".tif", ".tiff")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        raw: dict[tuple[str, str], _Stack] = {}
        products: dict[tuple[str, str], _Stack] = {}
        for entry in session.files.with_suffix(*cls.associated_suffixes):  # every name _TIF matches too
            parents = entry.rel.split("/")[:-1]
            match = _TIF.match(entry.name)
            if PREPROCESSED in parents and entry.name.lower().endswith(cls.associated_suffixes):
                # Any tif there is a product. Those not named by ScanImage share one entry with no
                # recording (the first is listed), so a folder of 5000 frames stays one line.
                key = ("/".join(parents), match["base"] if match else "")
                products.setdefault(key, _Stack()).add(entry.rel, int(match["acq"]) if match else 0,
                                                       int(match["part"]) if match else 0)
            elif match and not elsewhere(entry.rel):
                target = products if match["suffix"] else raw
                target.setdefault(("/".join(parents), match["base"]), _Stack()).add(
                    entry.rel, int(match["acq"]), int(match["part"]))
        for (folder, base), stack in sorted(raw.items()):
            firsts = [stack.first[a] for a in sorted(stack.first)]
            details = _read_headers(session, stack, result)
            result.recordings.append(Recording(system=cls.name, name=base, folder=folder, files=firsts,
                                               n_files=stack.n_files, details=json.dumps(details)))
            cls._check(session, base, stack, firsts[0], result)
        for (folder, base), stack in sorted(products.items()):
            names = [stack.first[a].rpartition("/")[2] for a in sorted(stack.first)]
            result.outputs.append(Output(kind="preprocessed", path=folder, recording=base, files=names))
        return result

    @staticmethod
    def _check(session: SessionFiles, base: str, stack: _Stack, first: str, result: Recognised) -> None:
        if "_" in base:
            result.findings.append(session.finding(
                "IMAGING.BAD_BASENAME", first,
                f"basename '{base}' ({stack.n_files} files) contains '_', which the lab's tools split names "
                "on; rename the files with a basename without '_'", expected="<basename>_<nnnnn>_<nnnnn>.tif"))
        gaps = stack.missing(base)
        if gaps:
            shown = ", ".join(name for _, name in gaps[:_SHOWN])
            more = f" and {len(gaps) - _SHOWN} more" if len(gaps) > _SHOWN else ""
            result.findings.append(session.finding(
                "IMAGING.COUNTER_GAP", gaps[0][0],
                f"basename '{base}' skips {shown}{more}; copy the missing files "
                "or confirm that the acquisition was aborted"))
