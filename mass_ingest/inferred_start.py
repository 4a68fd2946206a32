"""The start of a session whose folder gives only its date (``20220419``): read from its files, never made up.

In order of trust:

1. the acquisition start a ScanImage header states (``epoch``, the rig's clock when the first
   frame was taken), the earliest over the session's ScanImage recordings;
2. else the earliest modification time of the session's acquisition files (the files its
   recordings list: tifs, videos, Wavesurfer .h5, ...; never processing outputs, which are
   written days later), which is when the rig last wrote the file: the end of that file, so
   a few minutes late at most for a split ScanImage part.

The time must fall on the folder's date; otherwise (files copied without their times, a rig clock
that was wrong) it is not taken and the start stays unknown, which stops the session at quality
with a finding saying what to do. A taken time is marked ``start_inferred`` and given a finding
asking a person to confirm it.

Stable across re-scans: header times are the files' content, and the modification times are those
of acquisition files, which nothing rewrites after the recording; outputs added later (suite2p,
DeepLabCut) do not move the start. Times are cut to whole seconds, as the session key stores them.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from mass_ingest.candidates import Recording
from mass_ingest.findings import Finding, Stage, finding


def infer_start(recordings: list[Recording], folder: str, folder_date: date, timezone: str, *, share: str,
                rel_path: str) -> tuple[datetime | None, str, list[Finding]]:
    """(start, what it was read from, findings) for a date-only session folder; (None, '', findings) when unknown.

    Args:
        recordings: what the recording systems found in the folder (with their ``details``).
        folder: the session folder on this worker, to stat its files.
        folder_date: the date the folder's name gives.
        timezone: the lab's time zone (modification times are converted to its naive local time).
        share, rel_path: where the folder is, for the findings.
    """
    source = _from_headers(recordings)
    if source is None:
        source = _from_mtimes(recordings, folder, timezone)
    if source is None:
        return None, "", [finding("IMAGING.START_UNKNOWN", stage=Stage.DISCOVER, share=share, path=rel_path,
                              message="the folder gives only its date and no acquisition file tells the time of "
                              "day; rename the folder with its start time, or exclude it")]
    when, what, rel = source
    where = f"{rel_path}/{rel}" if rel else rel_path
    when = when.replace(microsecond=0)
    if when.date() != folder_date:
        return None, "", [finding("IMAGING.START_UNKNOWN", stage=Stage.DISCOVER, share=share, path=where,
                              message=f"{what} says {when:%Y-%m-%d %H:%M:%S}, not on the folder's date "
                              f"{folder_date:%Y-%m-%d}, so the start is not taken from it; fix the folder's "
                              "name or the files' times, or rename the folder with its start time")]
    return when, what, [finding("DISCOVER.START_INFERRED", stage=Stage.DISCOVER, share=share, path=where,
                          message=f"the folder gives only its date; the start {when:%H:%M:%S} was read from "
                          f"{what}: confirm it (mass-ingest todo) or rename the folder with its start time")]


def _from_headers(recordings: list[Recording]) -> tuple[datetime, str, str] | None:
    best = None
    for recording in recordings:
        if recording.system != "scanimage":
            continue
        started = json.loads(recording.details or "{}").get("started")
        if not started:
            continue
        when = datetime.fromisoformat(started)
        first = recording.files[0] if recording.files else ""
        if best is None or when < best[0]:
            best = (when, f"the ScanImage header of {first.rpartition('/')[2] or recording.name}", first)
    return best


def _from_mtimes(recordings: list[Recording], folder: str, timezone: str) -> tuple[datetime, str, str] | None:
    best = None
    for recording in recordings:
        for rel in recording.files:
            try:
                stamp = os.stat(os.path.join(folder, rel)).st_mtime
            except OSError:
                continue
            if best is None or stamp < best[0]:
                best = (stamp, rel)
    if best is None:
        return None
    when = datetime.fromtimestamp(best[0], ZoneInfo(timezone)).replace(tzinfo=None)
    return when, f"the modification time of {best[1].rpartition('/')[2]} (no header states the start)", best[1]
