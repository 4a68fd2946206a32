"""What the pipeline holds per session, read back whole: `mass-ingest sessions [--subject S] [--json]`.

One query per table (restricted to a subject when asked), grouped here by session key, so the
cost grows with the rows read, never with sessions times rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mass_ingest.candidates import session_id
from mass_ingest.db import schema

PROBE_SYSTEM = "neuropixels"  # the system name of a Session.Recording (a SpikeGLX probe)


def _rows(table, restriction: dict, order_by: list[str]) -> dict[tuple, list[dict]]:
    """Rows of ``table`` per (subject, session_start)."""
    grouped: dict[tuple, list[dict]] = {}
    for row in (table & restriction).to_dicts(order_by=order_by):
        grouped.setdefault((row["subject"], row["session_start"]), []).append(row)
    return grouped


def _json(value: Any) -> Any:
    # JSON columns come back parsed on PostgreSQL and as text on some MySQL drivers.
    return json.loads(value) if isinstance(value, str | bytes) else value


def session_records(subject: str | None = None) -> list[dict]:
    """One dict per session (ordered by subject and start): what :func:`sessions` prints with --json.

    Keys: ``session_id``, ``subject``, ``session_start`` (ISO text, local time), ``timezone``,
    ``start_inferred`` (and ``inferred_from``), ``modality``, ``share``, ``rel_path``, ``recordings``
    (each ``system``, ``name``, ``folder``, ``files``; probes also ``serial``, ``probe_type`` and
    ``probe``; others ``n_files`` and ``details``), ``outputs`` (each ``kind``, ``path``, ``name``,
    ``recording``, ``preferred``, ``files``), ``tasks``, ``projects``, ``experimenter`` (an input file's;
    None when none was given), ``ingest_id``, and ``entered``: the follow-up items a person completed
    (``mass-ingest todo done``), each ``need``, ``item``, ``value``, ``done_by`` and ``done_at``; for a
    session without tasks (imaging) this is where its arena and tasks, as entered, are kept.
    """
    schema.activate()
    where = {"subject": subject} if subject is not None else {}
    s = schema.Session
    directories = _rows(s.Directory, where, ["subject", "session_start"])
    probes = _rows(s.Recording, where, ["subject", "session_start", "recording"])
    probe_files = {(r["subject"], r["session_start"], r["recording"]): _json(r["files"])
                   for r in (s.ProbeFiles & where).to_dicts()}
    associated = {(r["subject"], r["session_start"], r["recording"]): r["probe"]
                  for r in (s.ProbeAssociation & where).to_dicts()}
    systems = _rows(s.SystemRecording, where, ["subject", "session_start", "system", "recording"])
    outputs = _rows(s.Output, where, ["subject", "session_start", "output_path", "output_name"])
    tasks = _rows(s.Task, where, ["subject", "session_start", "task_order"])
    memberships = _rows(s.Membership, where, ["subject", "session_start", "project"])
    inferred = {(r["subject"], r["session_start"]): r["inferred_from"] for r in (s.InferredStart & where).to_dicts()}
    entered = _rows(schema.FollowUpDone, where, ["subject", "session_start", "done_at", "item_id"])
    experimenters = {(r["subject"], r["session_start"]): r["experimenter"] for r in (s.Experimenter & where).to_dicts()}
    records = []
    for session in (s & where).to_dicts(order_by=["subject", "session_start"]):
        key = (session["subject"], session["session_start"])
        start: datetime = session["session_start"]
        directory = (directories.get(key) or [{}])[0]
        # A probe recording is named after the folder of its .meta ('.' for the session folder).
        recordings = [{"system": PROBE_SYSTEM, "name": r["recording"],
                       "folder": "" if r["recording"] == "." else r["recording"],
                       "files": probe_files.get((*key, r["recording"]), [r["meta_file"]]),
                       "serial": r["serial"], "probe_type": r["probe_type"],
                       "probe": associated.get((*key, r["recording"]))} for r in probes.get(key, [])]
        recordings += [{"system": r["system"], "name": r["recording"], "folder": r["folder"],
                        "files": _json(r["files"]), "n_files": r["n_files"], "details": _json(r["details"])}
                       for r in systems.get(key, [])]
        records.append({
            "session_id": session_id(session["subject"], start, directory.get("session_group", "")),
            "subject": session["subject"], "session_start": start.isoformat(), "timezone": session["timezone"],
            "start_inferred": key in inferred, "inferred_from": inferred.get(key),
            "modality": session["modality"], "share": directory.get("share"), "rel_path": directory.get("rel_path"),
            "recordings": recordings,
            "outputs": [{"kind": o["kind"], "path": o["output_path"], "name": o["output_name"],
                         "recording": o["recording"], "preferred": bool(o["preferred"]), "files": _json(o["files"])}
                        for o in outputs.get(key, [])],
            "tasks": [{"order": t["task_order"], "task": t["task"], "type": t["task_type"], "start_s": t["start_s"],
                       "stop_s": t["stop_s"], "arena": t["arena"], "confirmed": bool(t["confirmed"])}
                      for t in tasks.get(key, [])],
            "projects": [m["project"] for m in memberships.get(key, [])],
            "experimenter": experimenters.get(key),
            "ingest_id": session["ingest_id"],
            "entered": [{"need": d["need"], "item": d["item"], "value": d["value"], "done_by": d["done_by"],
                         "done_at": d["done_at"].isoformat()} for d in entered.get(key, [])],
        })
    return records
