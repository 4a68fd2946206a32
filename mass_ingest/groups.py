"""The imaging ``combined: false`` switch: one session per recording instead of one per folder.

A folder of a date-only layout (``{subject}/{session_date:%Y%m%d}``) then holds several
sessions, one per ScanImage basename or Femtonics unit. The folder gives only the date, so
each recording's start is read from its own files as :mod:`mass_ingest.inferred_start` reads a
whole folder's (its ScanImage header, else when its first file was written), when that falls on
the folder's date; the session is marked ``start_inferred`` with a finding a person confirms.
When it cannot be told, the start is unknown (never the folder's midnight), which stops that
session at quality with the reason.
"""

from __future__ import annotations

from mass_ingest.candidates import SessionCandidate
from mass_ingest.inferred_start import infer_start

# Systems whose recordings are sessions of their own when a folder is not combined.
PRIMARY_SYSTEMS = ("scanimage", "femtonics")


def _belongs(name: str, group: str) -> bool:
    return name == group or name.startswith(group + "_") or name.startswith(group + "-")


def split_by_recording(candidate: SessionCandidate, folder: str, timezone: str) -> list[SessionCandidate]:
    """One candidate per primary recording of ``candidate`` (itself when it has fewer than two).

    Args:
        candidate: the whole folder, as discovery described it.
        folder: the session folder on this worker, to read first-file times.
        timezone: the lab's time zone (folder times are naive local times).
    """
    primaries = [r for r in candidate.recordings if r.system in PRIMARY_SYSTEMS]
    if len(primaries) < 2:
        return [candidate]
    groups = [r.name for r in primaries]
    out = []
    for index, primary in enumerate(primaries):
        group = primary.name
        # Secondary recordings and outputs go with the recording they are named after; what
        # names none of them stays with the first, so nothing found is dropped.
        def mine(name: str) -> bool:
            owner = next((g for g in groups if _belongs(name, g)), groups[0])
            return owner == group

        start, findings, source = candidate.session_start, list(candidate.findings), ""
        if start is not None:
            start, source, why = infer_start([primary], folder, start.date(), timezone, share=candidate.share,
                                     rel_path=candidate.rel_path)
            findings += why
        out.append(candidate.model_copy(update={
            "group": group, "session_start": start, "start_inferred": start is not None,
            "start_source": source, "findings": findings,
            "recordings": [r for r in candidate.recordings if (r is primary) or
                           (r.system not in PRIMARY_SYSTEMS and mine(r.name))],
            "outputs": [o for o in candidate.outputs if mine(o.recording or groups[0])],
            "task_hints": candidate.task_hints if index == 0 else [],
        }, deep=True))
    return out
