"""The ingest ledger: one row per ingest, reused while it is unfinished so that a re-run resumes it."""

from __future__ import annotations

import getpass
import uuid
from datetime import datetime

from mass_ingest.db import schema
from mass_ingest.db.decisions import Decision
from mass_ingest.profile import Profile

# An ingest in one of these states is resumed by the next run of the same profile.
UNFINISHED = ("open", "approved")
# An approved folder changed between the pause and insertion: refused, nothing (more) inserted.
SHARE_CHANGED = "share_changed"


def command_line_decision(excluded: list[str] | None = None, note: str = "") -> Decision:
    """Approval given on the command line, recorded with the user's name."""
    return Decision(approved=True, approver=getpass.getuser(), source="cli", excluded=excluded or [],
                    note=note or "approved on the command line")


def open_ingest(profile: Profile, flow_run_id: str | None) -> str:
    """The id of this profile's unfinished ingest (to resume), or of a new one."""
    schema.activate()
    key = {"profile_name": profile.name, "profile_hash": profile.content_hash()}
    unfinished = [r for r in (schema.IngestRun & key).to_dicts(order_by="started_at DESC")
                  if r["status"] in UNFINISHED]
    now = datetime.now().replace(microsecond=0)
    if unfinished:
        ingest_id = unfinished[0]["ingest_id"]
    else:
        ingest_id = str(uuid.uuid4())
        schema.IngestRun.insert1({**key, "ingest_id": ingest_id, "status": "open", "started_at": now})
    if flow_run_id:
        schema.IngestRun.FlowRun.insert1({"ingest_id": ingest_id, "flow_run_id": flow_run_id, "started_at": now},
                                         skip_duplicates=True)
    return ingest_id


def record_quarantine(ingest_id: str, rows: list[dict]) -> None:
    """Store quarantined candidates with every reason (idempotent on re-run)."""
    schema.activate()
    schema.Quarantine.insert([{"ingest_id": ingest_id, "candidate_id": r["candidate_id"], "share": r["share"],
                               "rel_path": r["rel_path"], "session_id": r["session_id"],
                               "reasons": list(r["quality_reasons"])} for r in rows], skip_duplicates=True)


def quarantined_rows(ingest_id: str) -> list[dict]:
    """The sessions ``ingest_id`` quarantined, with their reasons (share, rel_path, reasons, ...), by session id."""
    schema.activate()
    return (schema.Quarantine & {"ingest_id": ingest_id}).to_dicts(order_by="session_id")


def finish_ingest(ingest_id: str, counts: dict[str, int], status: str = "completed") -> None:
    schema.activate()
    schema.IngestRun.update1({"ingest_id": ingest_id, "status": status, "counts": counts,
                              "finished_at": datetime.now().replace(microsecond=0)})


def list_runs(limit: int = 50) -> list[dict]:
    """The latest ingest runs, newest first, with how many sessions each inserted (one query per table)."""
    schema.activate()
    runs = schema.IngestRun.proj("profile_name", "status", "started_at", "finished_at", "approver") \
        .to_dicts(order_by="started_at DESC", limit=limit)
    inserted: dict[str, int] = {}
    for row in (schema.Session & [{"ingest_id": r["ingest_id"]} for r in runs]).proj("ingest_id").to_dicts():
        inserted[row["ingest_id"]] = inserted.get(row["ingest_id"], 0) + 1
    return [{**r, "sessions": inserted.get(r["ingest_id"], 0)} for r in runs]


def record_share_changed(ingest_id: str, *, approved: int, sessions: int, changes: int) -> int:
    """Close an ingest refused because approved folders changed after the pause (status ``share_changed``).

    It is finished, not resumed: the next run of the profile starts a new ingest and discovers afresh.
    Returns how many sessions an earlier, interrupted attempt of this ingest had committed (they stay).
    """
    schema.activate()
    inserted = len(schema.Session & {"ingest_id": ingest_id})
    finish_ingest(ingest_id, {"approved": approved, "changed_sessions": sessions, "changes": changes,
                              "inserted": inserted}, status=SHARE_CHANGED)
    return inserted
