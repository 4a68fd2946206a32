"""Neuropixels probes recorded with SpikeGLX: one probe per ``*.ap.meta`` below the session folder."""

from __future__ import annotations

import os

from mass_ingest.candidates import ProbeRecording
from mass_ingest.readers.spikeglx import read_meta
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles
from mass_ingest.walk import FileEntry


class Neuropixels(RecordingSystem):
    """``<run>.imecN.ap.meta`` + ``.ap.bin`` per probe, at any depth (``probe_1/``, ``run_g0_imec0/``)."""

    name = "spikeglx"
    display_name = "Neuropixels (SpikeGLX)"
    modality = "ephys"
    associated_suffixes = (".ap.meta", ".ap.bin", ".lf.meta", ".lf.bin")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        by_rel = {f.rel: f for f in session.files.with_suffix(*cls.associated_suffixes, exact_case=True)}
        for entry in by_rel.values():
            meta_rel = entry.rel[: -len(".bin")] + ".meta"
            # A .meta that is a FIFO or device is already a DISCOVER.SPECIAL_FILE finding: it is there, not missing.
            if entry.name.endswith(".ap.bin") and meta_rel not in by_rel and meta_rel not in session.files.special:
                result.bins_without_meta.append(entry.rel)
                result.findings.append(session.finding(
                    "EPHYS.BIN_WITHOUT_META", entry.rel,
                    "this .ap.bin has no .ap.meta beside it; copy the .meta from the acquisition computer"))
        for entry in by_rel.values():
            if entry.name.endswith(".ap.meta"):
                result.probes.append(cls._probe(session, entry, by_rel, result))
        return result

    @staticmethod
    def _probe(session: SessionFiles, entry: FileEntry, by_rel: dict[str, FileEntry],
               result: Recognised) -> ProbeRecording:
        meta, findings = read_meta(entry.path, share=session.share, rel_path=f"{session.session_rel}/{entry.rel}")
        result.findings.extend(findings)
        stem = entry.rel[: -len(".ap.meta")]
        bin_entry = by_rel.get(stem + ".ap.bin")
        if bin_entry is None:
            result.findings.append(session.finding(
                "EPHYS.META_WITHOUT_BIN", entry.rel,
                "the .ap.bin this .meta describes is missing; copy it or remove the .meta"))
        fields = {} if meta is None else {
            "serial": meta.serial, "probe_type": meta.probe_type, "part_number": meta.part_number,
            "n_saved_chans": meta.n_saved_chans, "sample_rate": meta.sample_rate,
            "file_size_bytes": meta.file_size_bytes, "file_time_secs": meta.file_time_secs,
            "file_create_time": meta.file_create_time}
        bin_size, bin_mtime = _size_and_mtime(bin_entry)
        return ProbeRecording(folder=entry.rel.rpartition("/")[0], meta_file=entry.rel, bin_size=bin_size,
                              bin_mtime=bin_mtime, has_lf=stem + ".lf.meta" in by_rel, **fields)


def _size_and_mtime(entry: FileEntry | None) -> tuple[int | None, float | None]:
    """Size and modification time (epoch seconds) of a .bin, from one stat; (None, None) when it is missing.

    Only the .bin files are stat'ed: the walker's scandir gave types, not sizes. Quality reads
    both to tell a finished recording from one still being copied.
    """
    if entry is None:
        return None, None
    try:
        stat = os.stat(entry.path)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime
