"""Spike sorting beside the raw data: Kilosort folders per probe, and curated copies of them.

These are outputs, not recordings: each becomes an :class:`Output` that the clustering stage
may take, with ``complete`` saying whether the files it needs are there.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mass_ingest.candidates import Output
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Kilosort(RecordingSystem):
    """``ks25/``, ``kilosort4/`` ... in or beside a probe folder, and ``curations/<id>/probe_N/``."""

    name = "kilosort"
    display_name = "Kilosort spike sorting"
    modality = "ephys"
    associated_suffixes = (".npy", ".tsv", "params.py")
    # Folder names the lab gives Kilosort runs (ks25, KS2.5, kilosort4, kilosort2.5), any case.
    folder_pattern = re.compile(r"^(ks|kilosort)", re.IGNORECASE)
    # Curated copies live apart from the sorting: curations/<curation id>/<probe folder>/.
    curation_pattern = re.compile(r"^curations/[^/]+/[^/]+$", re.IGNORECASE)
    # Files phy and the ephys pipeline read; other files (temp_wh.dat, rez.mat) are not listed.
    key_files = ("params.py", "spike_times.npy", "spike_clusters.npy", "spike_templates.npy", "templates.npy",
                 "amplitudes.npy", "channel_map.npy", "channel_positions.npy", "whitening_mat_inv.npy",
                 "pc_features.npy", "pc_feature_ind.npy", "cluster_group.tsv", "cluster_KSLabel.tsv")
    # Without spike times and a cluster (or template) per spike there are no units to load.
    required = ("spike_times.npy",)
    required_any = ("spike_clusters.npy", "spike_templates.npy")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        # Only folders that are sortings: bounded by probes, not files.
        names_in = {folder: set(names) for folder, names in session.files.folder_items() if cls._kind(folder)}
        probe_folders = {entry.rel.rpartition("/")[0]
                         for entry in session.files.with_suffix(".ap.meta", ".ap.bin", exact_case=True)}
        for folder in sorted(names_in):
            kind = cls._kind(folder)
            recording = folder.rpartition("/")[2] if kind == "curation" else _probe_of(folder, probe_folders)
            result.outputs.append(cls._output(session, kind, folder, recording, names_in[folder], result))
        return result

    @classmethod
    @lru_cache(maxsize=4096)  # the same few folder paths (probe_1/ks25, ...) recur in every session
    def _kind(cls, folder: str) -> str | None:
        if cls.curation_pattern.match(folder):
            return "curation"
        # A ks folder inside a curation is part of that curation, not a second sorting.
        if folder.lower().startswith("curations/"):
            return None
        return "kilosort" if cls.folder_pattern.match(folder.rpartition("/")[2]) else None

    @classmethod
    def _output(cls, session: SessionFiles, kind: str, folder: str, recording: str, names: set[str],
                result: Recognised) -> Output:
        missing = [n for n in cls.required if n not in names]
        if not any(n in names for n in cls.required_any):
            missing.append(" or ".join(cls.required_any))
        if missing:
            result.findings.append(session.finding(
                "KILOSORT.INCOMPLETE", folder,
                f"this {kind} folder lacks {', '.join(missing)}; copy them from the sorting computer "
                "or sort the probe again", expected="spike_times.npy and spike_clusters.npy (or spike_templates.npy)"))
        return Output(kind=kind, path=folder, recording=recording, files=sorted(names.intersection(cls.key_files)),
                      complete=not missing)


def _probe_of(folder: str, probe_folders: set[str]) -> str:
    """The probe folder a sorting belongs to: one it sits in, the only one beside it, else its parent."""
    parent = folder.rpartition("/")[0]
    ancestor = parent
    while ancestor:
        if ancestor in probe_folders:
            return ancestor
        ancestor = ancestor.rpartition("/")[0]
    # ks folder next to probe_1/ (not inside it): only unambiguous when it is the one probe there.
    beside = [p for p in probe_folders if p.rpartition("/")[0] == parent and p != parent]
    if len(beside) == 1:
        return beside[0]
    return parent
