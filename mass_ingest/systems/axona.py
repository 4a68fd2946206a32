"""Axona (DacqUSB) tetrode recordings: one recording per ``.set`` file, with its same-stem files."""

from __future__ import annotations

import json
import re

from mass_ingest.candidates import Recording
from mass_ingest.readers import read_head
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Axona(RecordingSystem):
    """``<trial>.set`` with ``<trial>.bin/.pos/.1-.16/.eeg/.egf``, Tint's ``<trial>_<n>.cut`` and ``.clu.<n>``.

    The trials of one folder are the tasks of one session (open field, then sleep, ...), so they
    are listed as recordings of that session and never split into sessions of their own.
    """

    name = "axona"
    display_name = "Axona DacqUSB"
    modality = "ephys"
    associated_suffixes = (".set", ".bin", ".pos", ".eeg", ".egf", ".cut", ".clu", ".inp", ".stm")
    # Tint writes cluster cuts as <trial>_<tetrode>.cut, not <trial>.cut.
    cut_pattern = re.compile(r"^_\d+\.cut$", re.IGNORECASE)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        sets = session.files.with_suffix(".set")
        if not sets:
            return result
        # (folder, stem) of every trial; a file joins the longest stem it continues, so that
        # trial1.set never claims trial10.pos.
        stems: dict[str, list[str]] = {}
        for entry in sets:
            folder = entry.rel.rpartition("/")[0]
            stems.setdefault(folder, []).append(entry.name[: -len(".set")])
        members: dict[tuple[str, str], list[str]] = {}
        for folder, folder_stems in stems.items():
            for name in session.files.names_in(folder):
                stem = cls._stem_of(name, folder_stems)
                if stem is not None:
                    members.setdefault((folder, stem), []).append(f"{folder}/{name}" if folder else name)
        for entry in sets:
            folder = entry.rel.rpartition("/")[0]
            stem = entry.name[: -len(".set")]
            files = sorted(members.get((folder, stem), [entry.rel]))
            result.recordings.append(Recording(system=cls.name, name=stem, folder=folder, files=files,
                                               n_files=len(files), details=json.dumps(_set_details(entry.path))))
        return result

    @classmethod
    def _stem_of(cls, name: str, stems: list[str]) -> str | None:
        best = None
        for stem in stems:
            rest = name[len(stem):]
            if name.startswith(stem) and (rest.startswith(".") or cls.cut_pattern.match(rest)):
                if best is None or len(stem) > len(best):
                    best = stem
        return best


# .set lines are '<key> <value>'; these say when the trial ran and for how long.
_SET_KEYS = {"trial_date": ("trial_date", str), "trial_time": ("trial_time", str), "duration": ("duration_s", float),
             "sw_version": ("dacq_version", str)}


def _set_details(path: str) -> dict:
    """Trial date, time and duration from a .set file's header lines; {} when it cannot be read."""
    try:
        text = read_head(path, 200_000).decode("latin-1")
    except OSError:
        return {}
    details: dict = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key in _SET_KEYS:
            name, kind = _SET_KEYS[key]
            try:
                details[name] = kind(value.strip())
            except ValueError:
                continue
    return details
