"""Neurologger (wireless head-mounted logger) sessions: a header file with Raw/, Processed/ and Optitrack/."""

from __future__ import annotations

from mass_ingest.candidates import Recording
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Neurologger(RecordingSystem):
    """``neurologger_header.mat`` in the session folder or one level down, with its parts beside it.

    The Optitrack CSVs beside the header are tracking: :class:`~mass_ingest.systems.tracking.Tracking`
    reports them, so that a session read by both systems lists that folder once. Here they are
    only checked to be there, because a logger session without its tracking cannot be analysed.
    """

    name = "neurologger"
    display_name = "Neurologger"
    modality = "ephys"
    associated_suffixes = ("neurologger_header.mat",)
    header = "neurologger_header.mat"
    raw = "raw"                  # the logger's data files; without them there is nothing to ingest
    processed = "processed"      # derived from Raw/, so its absence is not a problem
    optitrack = "optitrack"      # the tracking of the same session; checked here, reported by Tracking
    max_depth = 1                # header directly in the session folder or one folder down

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        headers = [f for f in session.files.with_suffix(cls.header)
                   if f.name.lower() == cls.header and f.rel.count("/") <= cls.max_depth]
        for header in headers:
            result.recordings.append(cls._recording(session, header.rel, result))
        return result

    @classmethod
    def _recording(cls, session: SessionFiles, header_rel: str, result: Recognised) -> Recording:
        folder = header_rel.rpartition("/")[0]
        prefix = f"{folder}/" if folder else ""
        raw_files: list[str] = []
        n_raw = 0
        has_tracking = False
        for entry in session.files:
            if not entry.rel.startswith(prefix):
                continue
            part, _, rest = entry.rel[len(prefix):].partition("/")
            # Folder names are matched in any case: the lab's shares are Windows shares.
            if part.lower() == cls.raw and rest:
                n_raw += 1
                if not raw_files:  # the first raw file identifies the recording; the rest are counted
                    raw_files.append(entry.rel)
            elif part.lower() == cls.optitrack and "/" not in rest and rest.lower().endswith(".csv"):
                has_tracking = True
        where = folder or "the session folder"
        if n_raw == 0:
            result.findings.append(session.finding(
                "NEUROLOGGER.INCOMPLETE", folder,
                f"{cls.header} in {where} has no Raw/ folder with files beside it; copy the logger's raw data"))
        if not has_tracking:
            result.findings.append(session.finding(
                "NEUROLOGGER.INCOMPLETE", folder,
                f"{cls.header} in {where} has no Optitrack/*.csv beside it; copy the session's tracking"))
        return Recording(system=cls.name, name="neurologger", folder=folder, files=[header_rel, *raw_files],
                         n_files=n_raw)
