"""Rows of the session parts added for the lab's whole share (issue 11) and for what the lab wrote (issue 17),
built from a candidate row.

Pure functions: a candidate row (a dict of :data:`mass_ingest.candidates.CANDIDATE_SCHEMA`) and the
session's key in, rows of ``Session.SystemRecording``, ``Session.ProbeFiles``, ``Session.InferredStart``
and ``Session.Experimenter`` out, and the ``Project`` rows of a chunk; insertion (mass_ingest/db/insertion.py) puts
them in its chunk's transaction. :func:`new_subject_rows` is read inside that transaction, as it asks
which subjects exist. Fields discovery may not set (``details``, ``bin_file``, ``start_inferred``,
``start_source``, ``experimenter``) are read with ``get``, so frames written before they existed still insert.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mass_ingest.db import schema
from mass_ingest.db.bulk import matching


def _details(text: Any) -> Any:
    """A recording's ``details`` (JSON text from discovery) as the JSON value to store; None when absent."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:  # discovery writes JSON; keep anything else readable rather than lose it
        return {"text": text}


def system_recording_rows(recordings: list[dict], key: dict, ingest_id: str) -> list[dict]:
    """One ``Session.SystemRecording`` row per recording of a system other than SpikeGLX probes.

    Two recordings of one system with the same name in different folders (two ``motive/`` folders)
    are told apart by their folder: the second is named ``<folder>/<name>``, the first keeps its name.
    """
    # Only a session with several recordings can have two of one name (most have none or one).
    seen = Counter((r["system"], r["name"]) for r in recordings) if len(recordings) > 1 else None
    rows, used = [], set()
    for r in recordings:
        name = r["name"]
        if seen and seen[(r["system"], name)] > 1 and (r["system"], name) in used and r["folder"]:
            name = f"{r['folder']}/{name}"
        used.add((r["system"], name))
        rows.append({**key, "system": r["system"], "recording": name, "folder": r["folder"] or "",
                     "files": list(r["files"] or []), "n_files": r["n_files"] or len(r["files"] or []),
                     "details": _details(r.get("details")), "ingest_id": ingest_id})
    return rows


def probe_files(probe: dict) -> list[str]:
    """A probe recording's files: its .ap.meta and the .ap.bin paired with it (when there is one)."""
    bin_file = probe.get("bin_file")
    if bin_file is None and probe.get("bin_size") is not None:
        bin_file = probe["meta_file"][: -len(".meta")] + ".bin"  # found beside the .meta under its name
    return [probe["meta_file"]] + ([bin_file] if bin_file else [])


def probe_file_rows(recording_key: dict, probe: dict) -> list[dict]:
    """The ``Session.ProbeFiles`` row of one probe recording (``recording_key`` has its recording name)."""
    return [{**recording_key, "files": probe_files(probe)}]


def inferred_start_rows(row: dict, key: dict) -> list[dict]:
    """A ``Session.InferredStart`` row when discovery inferred the start (a date-only folder)."""
    if not row.get("start_inferred"):
        return []
    return [{**key, "inferred_from": (row.get("start_source") or "")[:1000]}]


def new_subject_rows(subjects: set[str], ingest_id: str) -> tuple[list[dict], list[dict]]:
    """``Subject`` and ``CreatedSubject`` rows for those of ``subjects`` the pipeline does not know.

    Called inside the insertion transaction. Only approved sessions reach insertion, and the
    expectations let an unknown subject through only where the lab allows it (imaging, not ephys),
    after the approval summary said "new subject ... will be created".
    """
    if not subjects:
        return [], []
    known = {s for (s,) in matching("Subject", ["subject"], [(s,) for s in subjects])}  # one join, see db/bulk.py
    new = sorted(subjects - known)
    return ([{"subject": s, "source": "mass-ingest"} for s in new],
            [{"subject": s, "ingest_id": ingest_id} for s in new])


def experimenter_rows(row: dict, key: dict) -> list[dict]:
    """The ``Session.Experimenter`` row of a session an input file names the experimenter of; none otherwise."""
    experimenter = row.get("experimenter")
    return [{**key, "experimenter": experimenter}] if experimenter else []


def project_rows(projects: list[str], descriptions: dict[str, str]) -> list[dict]:
    """The ``Project`` rows of a chunk's projects, each with its description from the profile ('' when none).

    Written with skip_duplicates: a stored project keeps its description (see :func:`describe_projects`).
    """
    return [{"project": p, "description": descriptions.get(p, "")} for p in projects]


def describe_projects(projects: list[str], descriptions: dict[str, str]) -> int:
    """Give the profile's description to each of ``projects`` stored without one (by an earlier version, or
    before the profile described it); never replace one a person may have written. Inside the chunk's
    transaction; returns how many were filled in."""
    described = [(p,) for p in projects if descriptions.get(p)]
    blank = sorted(p for p, text in matching("Project", ["project"], described, ["project", "description"])
                   if not text)
    for project in blank:  # rare: once per project at most
        schema.Project.update1({"project": project, "description": descriptions[project]})
    return len(blank)
