"""The imaging ``combined: false`` switch: one session per recording instead of one per folder.

A folder of a date-only layout (``{subject}/{session_date:%Y%m%d}``) then holds several
sessions, one per ScanImage basename or Femtonics unit. The folder gives only the date, so
each recording's start is the local time its first file was last written, when that falls
on the folder's date (ScanImage writes while it records); that inference is a finding a
person can confirm. When it cannot be told, the start stays the folder's date, and two
recordings claiming one session key are stopped by the quality suite, never half-inserted.
"""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from mass_ingest.candidates import SessionCandidate
from mass_ingest.findings import finding

# Systems whose recordings are sessions of their own when a folder is not combined.
PRIMARY_SYSTEMS = ("scanimage", "femtonics")


def _first_write(folder: str, files: list[str], timezone: str) -> datetime | None:
    times = []
    for rel in files:
        try:
            times.append(os.stat(os.path.join(folder, rel)).st_mtime)
        except OSError:
            continue
    if not times:
        return None
    return datetime.fromtimestamp(min(times), ZoneInfo(timezone)).replace(tzinfo=None)


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

        start, findings = candidate.session_start, list(candidate.findings)
        written = _first_write(folder, primary.files, timezone)
        where = f"{candidate.rel_path}/{primary.files[0]}" if primary.files else candidate.rel_path
        if start is not None and written is not None and written.date() == start.date():
            start = written
            findings.append(finding("IMAGING.START_FROM_MTIME", stage="discover", share=candidate.share, path=where,
                                    message=f"recording {group} starts at {written:%H:%M:%S}, the time its first "
                                    "file was written; confirm it when you confirm the session"))
        else:
            findings.append(finding("IMAGING.START_UNKNOWN", stage="discover", share=candidate.share, path=where,
                                    message=f"recording {group}'s first file was not written on the folder's date, "
                                    "so its start time is unknown; set combined: true for this layout, or fix "
                                    "the files' times"))
        out.append(candidate.model_copy(update={
            "group": group, "session_start": start, "findings": findings,
            "recordings": [r for r in candidate.recordings if (r is primary) or
                           (r.system not in PRIMARY_SYSTEMS and mine(r.name))],
            "outputs": [o for o in candidate.outputs if mine(o.recording or groups[0])],
            "task_hints": candidate.task_hints if index == 0 else [],
        }, deep=True))
    return out
