"""Neuralynx (Cheetah) recordings: the lab saves one tetrode file (``.ntt``) per session."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime

from mass_ingest.candidates import Recording
from mass_ingest.readers import read_head
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Neuralynx(RecordingSystem):
    """One recording per ``.ntt``, counting the ``.ncs`` channels and ``.nev`` events beside it.

    More than one ``.ntt`` in a session means two recordings were put in one folder (or a copy
    was left behind): each is still listed, with a finding so that a person splits or cleans it.
    """

    name = "neuralynx"
    display_name = "Neuralynx Cheetah"
    modality = "ephys"
    associated_suffixes = (".ntt", ".ncs", ".nev")
    spikes = ".ntt"
    companions = (".ncs", ".nev")
    events = ".nev"     # one small file per recording: named in files, it identifies the recording too

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        ntts = session.files.with_suffix(cls.spikes)
        if not ntts:
            return result
        # Continuous channels (.ncs, one per channel) are only counted: there may be dozens.
        beside: dict[str, list[str]] = {}
        for entry in session.files.with_suffix(*cls.companions):
            beside.setdefault(entry.rel.rpartition("/")[0], []).append(entry.rel)
        for ntt in ntts:
            folder = ntt.rel.rpartition("/")[0]
            others = beside.get(folder, [])
            events = [rel for rel in others if rel.lower().endswith(cls.events)]
            result.recordings.append(Recording(system=cls.name, name=ntt.name[: -len(cls.spikes)], folder=folder,
                                               files=sorted([ntt.rel, *events]), n_files=1 + len(others),
                                               details=json.dumps(_ntt_details(ntt.path))))
        if len(ntts) > 1:
            names = ", ".join(f.rel for f in ntts)
            result.findings.append(session.finding(
                "NEURALYNX.MULTIPLE_NTT", "",
                f"{len(ntts)} .ntt files ({names}) in one session; the lab records one per session, so move "
                "each recording to its own session folder or remove the copy",
                expected="one .ntt file per session folder"))
        return result


# Every Neuralynx file starts with a 16 KiB text header; an .ntt record is a timestamp, channel, cell
# number, 8 features and 32 samples x 4 channels of int16: 8 + 4 + 4 + 32 + 256 bytes.
_HEADER_BYTES, _NTT_RECORD = 16384, 304
_CREATED = re.compile(r"-TimeCreated\s+(\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{1,2}:\d{1,2})")
_OPENED = re.compile(r"Time Opened \(m/d/y\):\s*(\d{1,2}/\d{1,2}/\d{4})\s+\(h:m:s\.ms\)\s*(\d{1,2}:\d{1,2}:\d{1,2})")
_RATE = re.compile(r"-SamplingFrequency\s+([0-9.]+)")


def _ntt_details(path: str) -> dict:
    """When Cheetah opened the file, its sampling rate and its spike count, from the header and the size."""
    try:
        size = os.stat(path).st_size
        text = read_head(path, _HEADER_BYTES).decode("latin-1")
    except OSError:
        return {}
    if size < _HEADER_BYTES:  # not a whole header: nothing to tell
        return {}
    details: dict = {"n_spikes": (size - _HEADER_BYTES) // _NTT_RECORD}
    created, opened = _CREATED.search(text), _OPENED.search(text)
    try:
        if created:
            details["created"] = datetime.strptime(created[1], "%Y/%m/%d %H:%M:%S").isoformat()
        elif opened:
            details["created"] = datetime.strptime(f"{opened[1]} {opened[2]}", "%m/%d/%Y %H:%M:%S").isoformat()
    except ValueError:
        pass
    rate = _RATE.search(text)
    if rate:
        details["sampling_rate_hz"] = float(rate[1])
    return details
