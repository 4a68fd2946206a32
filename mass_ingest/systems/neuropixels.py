"""Neuropixels probes recorded with SpikeGLX: one probe per ``*.ap.meta`` below the session folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mass_ingest.candidates import ProbeRecording
from mass_ingest.findings import Finding, finding
from mass_ingest.readers.spikeglx import read_meta
from mass_ingest.walk import FileEntry


@dataclass
class NeuropixelsResult:
    probes: list[ProbeRecording] = field(default_factory=list)
    bins_without_meta: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class NeuropixelsSystem:
    """What a SpikeGLX session folder holds: ``<run>.imecN.ap.meta`` + ``.ap.bin`` per probe, at any depth."""

    display_name = "Neuropixels (SpikeGLX)"
    modality = "ephys"
    associated_suffixes = (".ap.meta", ".ap.bin", ".lf.meta", ".lf.bin")

    @staticmethod
    def recognise(files: list[FileEntry], *, share: str, session_rel: str) -> NeuropixelsResult:
        result = NeuropixelsResult()
        by_rel = {f.rel: f for f in files}
        for entry in files:
            if entry.name.endswith(".ap.bin") and entry.rel[: -len(".bin")] + ".meta" not in by_rel:
                result.bins_without_meta.append(entry.rel)
        for entry in files:
            if not entry.name.endswith(".ap.meta"):
                continue
            meta, findings = read_meta(entry.path, share=share, rel_path=f"{session_rel}/{entry.rel}")
            result.findings.extend(findings)
            stem = entry.rel[: -len(".ap.meta")]
            bin_entry = by_rel.get(stem + ".ap.bin")
            bin_size = _size(bin_entry)
            if bin_entry is None:
                result.findings.append(finding("EPHYS.META_WITHOUT_BIN", stage="discover", share=share,
                                               path=f"{session_rel}/{entry.rel}",
                                               message="the .ap.bin this .meta describes is missing; copy it "
                                               "or remove the .meta"))
            folder = entry.rel.rpartition("/")[0]
            result.probes.append(ProbeRecording(
                folder=folder, meta_file=entry.rel, bin_size=bin_size, has_lf=stem + ".lf.meta" in by_rel,
                **({} if meta is None else {
                    "serial": meta.serial, "probe_type": meta.probe_type, "part_number": meta.part_number,
                    "n_saved_chans": meta.n_saved_chans, "sample_rate": meta.sample_rate,
                    "file_size_bytes": meta.file_size_bytes, "file_time_secs": meta.file_time_secs,
                    "file_create_time": meta.file_create_time}),
            ))
        return result


def _size(entry: FileEntry | None) -> int | None:
    if entry is None:
        return None
    try:
        return os.stat(entry.path).st_size
    except OSError:
        return None
