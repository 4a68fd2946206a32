"""The ingest ledger: one row per ingest, reused while it is unfinished so that a re-run resumes it."""

from __future__ import annotations

import getpass
import uuid
from datetime import datetime

from mass_ingest.db import limits, schema
from mass_ingest.db.decisions import Decision
from mass_ingest.expectations.suites import quality_code
from mass_ingest.findings import CATALOGUE
from mass_ingest.profile import Profile
from mass_ingest.redaction import redact

# An ingest in one of these states is resumed by the next run of the same profile.
UNFINISHED = ("open", "approved")
# An approved folder changed between the pause and insertion: refused, nothing (more) inserted.
SHARE_CHANGED = "share_changed"
# A stage raised before the ingest was decided: closed, so the next run discovers afresh (close_failed_ingest).
FAILED = "failed"


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


def _fitted(table, row: dict, reasons: list[str]) -> None:
    """Shorten ``row``'s texts too long for ``table``'s columns, ending in '…', each with a reason saying so.

    A 200-character subject makes a session id longer than the column's 128: the list is saved whatever
    the candidates hold, as it is what a person reads to fix them.
    """
    columns = limits.limits(table)
    for name in ("share", "rel_path", "session_id"):
        cap = columns[name].max_chars
        if cap is not None and len(row[name]) > cap:
            reasons.append(f"QUARANTINE: {name} has {len(row[name])} characters, more than the {cap} "
                           f"this list stores; shown shortened, it begins {row[name][:300]!r}")
            row[name] = row[name][:cap - 1] + "…"


def reason_codes(failures: list[str] | None, reasons: list[str]) -> list[str]:
    """The finding code of each reason, in order: ``QUALITY.<NAME>`` of the failed expectation it explains
    (``failures`` is aligned with the quality stage's reasons), else the 'CODE: ' a reason begins with
    (insertion's), else ''."""
    failures = list(failures or [])
    codes = []
    for i, reason in enumerate(reasons):
        if i < len(failures):
            codes.append(quality_code(failures[i]))
        else:
            code = reason.split(":", 1)[0]
            codes.append(code if ":" in reason and code in CATALOGUE else "")
    return codes


def record_quarantine(ingest_id: str, rows: list[dict]) -> None:
    """Store quarantined candidates with every reason and its finding code (idempotent on re-run).

    Rows carry ``quality_reasons`` and, from the quality stage, ``quality_failures`` aligned with them.
    """
    schema.activate()
    stored, codes = [], []
    for r in rows:
        row = {"ingest_id": ingest_id, "candidate_id": r["candidate_id"], "share": r["share"],
               "rel_path": r["rel_path"], "session_id": r["session_id"] or "", "reasons": list(r["quality_reasons"])}
        row_codes = reason_codes(r.get("quality_failures"), row["reasons"])
        _fitted(schema.Quarantine, row, row["reasons"])
        stored.append(row)
        codes.append({"ingest_id": ingest_id, "candidate_id": r["candidate_id"],
                      "codes": row_codes + [""] * (len(row["reasons"]) - len(row_codes))})
    with schema.Quarantine.connection.transaction:
        schema.Quarantine.insert(stored, skip_duplicates=True)
        schema.Quarantine.Codes.insert(codes, skip_duplicates=True)


def record_pending(ingest_id: str, rows: list[dict]) -> None:
    """Store the candidates left for a later run because their data may still be arriving, with
    ``pending_reasons`` (idempotent on re-run)."""
    schema.activate()
    stored = []
    for r in rows:
        row = {"ingest_id": ingest_id, "candidate_id": r["candidate_id"], "share": r["share"],
               "rel_path": r["rel_path"], "session_id": r["session_id"] or "", "reasons": list(r["pending_reasons"])}
        _fitted(schema.Pending, row, row["reasons"])
        stored.append(row)
    schema.Pending.insert(stored, skip_duplicates=True)


def quarantined_rows(ingest_id: str) -> list[dict]:
    """The sessions ``ingest_id`` quarantined, with their reasons (share, rel_path, reasons, ...), by session id."""
    schema.activate()
    return (schema.Quarantine & {"ingest_id": ingest_id}).to_dicts(order_by="session_id")


def finish_ingest(ingest_id: str, counts: dict[str, int], status: str = "completed") -> None:
    schema.activate()
    schema.IngestRun.update1({"ingest_id": ingest_id, "status": status, "counts": counts,
                              "finished_at": datetime.now().replace(microsecond=0)})


def close_failed_ingest(ingest_id: str, error: str) -> bool:
    """Close ``ingest_id`` as failed, with ``error``, if it is still undecided; return whether it was.

    Its stages are cached on the ingest id: resumed, a run would meet the same cached folder or value and
    fail the same way even after the cause was fixed on the share. Undecided, nothing was approved or
    inserted, so nothing is lost by leaving that cache behind: the next run opens a new ingest and
    discovers afresh. A decided ingest is resumed as it is (its frames are what a person approved).
    """
    schema.activate()
    key = {"ingest_id": ingest_id}
    with schema.IngestRun.connection.transaction:
        if not (schema.IngestRun & key & {"status": "open"}) or (schema.DecisionLog & key):
            return False
        schema.IngestRun.update1({**key, "status": FAILED, "counts": {"error": redact(error)[:2000]},
                                  "finished_at": datetime.now().replace(microsecond=0)})
    return True


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
