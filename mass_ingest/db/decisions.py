"""Decisions and held sessions in the database: the first decision on an ingest closes it, and what a
person kept out stays out until released.

Who wins when two processes (or machines) decide or pause at once is settled by the tables' keys
(:class:`~mass_ingest.db.schema.DecisionLog` and :class:`~mass_ingest.db.schema.ApprovalPause` are
keyed by the ingest), never in memory: the second insert fails on the key and reads what the first
stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import datajoint as dj
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mass_ingest.db import schema
from mass_ingest.errors import MassIngestError
from mass_ingest.redaction import redact


class Decision(BaseModel):
    """A person's decision at the approval pause, as stored in the decision log."""

    model_config = ConfigDict(extra="forbid")

    approved: bool
    approver: str
    source: str = Field(description="Where the decision was made: ui, cli, api, auto or timeout.")
    excluded: list[str] = Field(default_factory=list, description="Session ids, globs or folder paths left out.")
    note: str = ""
    shown_digest: str = Field("", description="Digest of the candidates the approver was shown.")
    decided_at: datetime | None = None
    timed_out: bool = False

    @field_validator("note")
    @classmethod
    def _no_credential(cls, note: str) -> str:
        # A note is free text a person types (a pasted connection string, say): it is stored, logged, shown in
        # the review page and sent to Prefect as the run's input, so a credential in it is masked here.
        return redact(note)

    @property
    def verdict(self) -> str:
        return "timed_out" if self.timed_out else ("approved" if self.approved else "rejected")

    def describe(self) -> str:
        """'approved by Ada (cli) on 2026-11-30 16:40:02: "note"'."""
        when = f" on {self.decided_at:%Y-%m-%d %H:%M:%S}" if self.decided_at else ""
        note = f": '{self.note}'" if self.note else ""
        left = f", leaving out {', '.join(self.excluded)}" if self.excluded else ""
        who = f" by {self.approver}" if self.approver else ""
        return f"{self.verdict.replace('_', ' ')}{who} ({self.source}){when}{left}{note}"


class DecisionRefused(MassIngestError):
    """A decision on an ingest that was decided already: the first decision stands."""

    def __init__(self, ingest_id: str, stored: Decision, message: str | None = None):
        self.ingest_id, self.stored = ingest_id, stored
        super().__init__(message or f"ingest {ingest_id} was decided already: {stored.describe()}. The first "
                         "decision stands; a new run of the profile starts a new ingest (held sessions need "
                         "`mass-ingest release` first)")


def refuse_on_resume(ingest_id: str, stored: Decision, given: Decision) -> None:
    """Raise :class:`DecisionRefused` when a run resuming a decided ingest was given a different decision.

    A bare --approve on an approved ingest changes nothing and goes on; another verdict, or other sessions
    left out, would change a decision that is final: refused, never ignored.
    """
    if given.source == "auto":  # a re-scan's auto-approval is no one's decision: the stored one applies
        return
    if given.approved != stored.approved:
        changed = "--approve" if given.approved else "a rejection"
    elif given.excluded and sorted(given.excluded) != sorted(stored.excluded):
        changed = f"--exclude {' '.join(given.excluded)}"
    else:
        return
    raise DecisionRefused(ingest_id, stored, f"ingest {ingest_id} resumes with the decision it has: "
                          f"{stored.describe()}. This run's {changed} would change it, and a decision is final: "
                          "nothing was changed. Run the same command without it to finish the ingest as decided")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def stored_decision(ingest_id: str) -> Decision | None:
    """The decision on ``ingest_id``: from the log, or from the ingest row of a database written before the log."""
    schema.activate()
    logged = (schema.DecisionLog & {"ingest_id": ingest_id}).to_dicts()
    if logged:
        row = logged[0]
        extra = row["excluded"] or []
        return Decision(approved=row["verdict"] == "approved", approver=row["decided_by"], source=row["source"],
                        excluded=list(extra), note=row["note"], shown_digest=row["shown_digest"],
                        decided_at=row["decided_at"], timed_out=row["verdict"] == "timed_out")
    rows = (schema.IngestRun & {"ingest_id": ingest_id}).to_dicts()
    if not rows or rows[0]["approved"] is None:
        return None
    row, extra = rows[0], rows[0]["excluded"] or {}
    return Decision(approved=bool(row["approved"]), approver=row["approver"], source=row["approval_source"],
                    excluded=extra.get("sessions", []), note=row["note"], shown_digest=extra.get("digest", ""),
                    timed_out=row["status"] == "timed_out")


def record_decision(ingest_id: str, decision: Decision, flow_run_id: str = "") -> Decision:
    """Append the decision on ``ingest_id`` and return it as stored; raise :class:`DecisionRefused` (after
    logging the attempt) when one was recorded first, by this or any other process."""
    schema.activate()
    decided = decision.model_copy(update={"decided_at": _now()})
    status = decided.verdict
    try:
        with schema.IngestRun.connection.transaction:
            schema.DecisionLog.insert1({
                "ingest_id": ingest_id, "verdict": status, "decided_by": decided.approver[:128],
                "decided_at": decided.decided_at, "source": decided.source, "flow_run_id": flow_run_id,
                "excluded": decided.excluded, "note": decided.note[:2000], "shown_digest": decided.shown_digest})
            # The ledger row's columns mirror the decision for readers written before the log.
            schema.IngestRun.update1({
                "ingest_id": ingest_id, "status": status, "approved": decided.approved,
                "approver": decided.approver[:128], "approval_source": decided.source, "note": decided.note[:2000],
                "excluded": {"sessions": decided.excluded, "digest": decided.shown_digest},
                "finished_at": decided.decided_at if status != "approved" else None})
    except dj.errors.DuplicateError:
        stored = stored_decision(ingest_id)
        schema.DecisionLog.Refused.insert1({
            "ingest_id": ingest_id, "attempt": uuid.uuid4().hex, "verdict": status,
            "attempted_by": decided.approver[:128], "attempted_at": decided.decided_at, "source": decided.source,
            "note": decided.note[:2000]})
        raise DecisionRefused(ingest_id, stored) from None
    return decided


def refused_attempts(ingest_id: str) -> list[dict]:
    schema.activate()
    return (schema.DecisionLog.Refused & {"ingest_id": ingest_id}).to_dicts(order_by="attempted_at")


def decision_log(ingest_ids: list[str] | None = None) -> list[dict]:
    """The decision log (oldest first), with each refused later attempt as a row of its own."""
    schema.activate()
    keys = [{"ingest_id": i} for i in ingest_ids] if ingest_ids is not None else {}
    rows = [{"ingest_id": r["ingest_id"], "when": r["decided_at"], "who": r["decided_by"], "where": r["source"],
             "what": r["verdict"], "excluded": r["excluded"] or [], "note": r["note"], "flow_run_id": r["flow_run_id"]}
            for r in (schema.DecisionLog & keys).to_dicts()]
    rows += [{"ingest_id": r["ingest_id"], "when": r["attempted_at"], "who": r["attempted_by"], "where": r["source"],
              "what": f"{r['verdict']} (refused)", "excluded": [], "note": r["note"], "flow_run_id": ""}
             for r in (schema.DecisionLog.Refused & keys).to_dicts()]
    return sorted(rows, key=lambda r: (r["when"], r["what"].endswith("(refused)")))


# --- the one pause per ingest ---------------------------------------------------------------------------

class PauseClaim(BaseModel):
    """The flow run that waits for the decision on an ingest."""

    model_config = ConfigDict(extra="forbid")

    ingest_id: str
    flow_run_id: str
    flow_run_name: str = ""
    paused_at: datetime
    timeout_at: datetime | None = None
    alive_at: datetime | None = None


def pause_claim(ingest_id: str) -> PauseClaim | None:
    schema.activate()
    rows = (schema.ApprovalPause & {"ingest_id": ingest_id}).to_dicts()
    return PauseClaim(**rows[0]) if rows else None


def claim_pause(ingest_id: str, flow_run_id: str, flow_run_name: str, timeout_at: datetime | None) -> PauseClaim | None:
    """Make ``flow_run_id`` the run that asks for the decision; None when it is, else the run that is."""
    schema.activate()
    try:
        schema.ApprovalPause.insert1({"ingest_id": ingest_id, "flow_run_id": flow_run_id,
                                      "flow_run_name": flow_run_name[:128], "paused_at": _now(),
                                      "timeout_at": timeout_at, "alive_at": _now()})
        return None
    except dj.errors.DuplicateError:
        claim = pause_claim(ingest_id)
        return None if claim is not None and claim.flow_run_id == flow_run_id else claim


def beat(claim_ingest_id: str, flow_run_id: str) -> None:
    """The waiting process is alive (called every few seconds while it waits)."""
    key = {"ingest_id": claim_ingest_id, "flow_run_id": flow_run_id}
    if schema.ApprovalPause & key:
        schema.ApprovalPause.update1({"ingest_id": claim_ingest_id, "alive_at": _now()})


def drop_stale_claim(claim: PauseClaim) -> None:
    """Forget the claim of a run that ended without a decision (only that run's: a newer claim stays)."""
    (schema.ApprovalPause & {"ingest_id": claim.ingest_id, "flow_run_id": claim.flow_run_id}).delete_quick()


def waiting_ingests() -> dict[str, PauseClaim]:
    """Ingests whose question is open: a run paused for them and no decision yet (ingest id -> claim)."""
    schema.activate()
    decided = {r["ingest_id"] for r in schema.DecisionLog.proj().to_dicts()}
    unfinished = {r["ingest_id"] for r in (schema.IngestRun & {"status": "open"}).proj().to_dicts()}
    return {r["ingest_id"]: PauseClaim(**r) for r in schema.ApprovalPause.to_dicts()
            if r["ingest_id"] in unfinished and r["ingest_id"] not in decided}
