"""Stage 5, approval: a person sees what would go in and decides.

The flow pauses with a typed run input (:class:`ApprovalInput`) that the Prefect UI shows as a
form, under a markdown summary of what will be inserted and what was quarantined. A decision
given up front (``mass-ingest run --approve``) skips the pause and is recorded as such. The
decision is stored with the ingest run at once, so a crash after approval never asks again and
never loses it.
"""

from __future__ import annotations

import fnmatch
import hashlib
from typing import Literal

import polars as pl
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from mass_ingest.approval_summary import offered
from mass_ingest.candidates import Status, change_status, has_status
from mass_ingest.errors import ApprovalTimeout
from mass_ingest.db.runs import Decision, record_decision, stored_decision
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame
from tasks.review import publish_quality_report, publish_review


class ApprovalInput(RunInput):
    """The approval form shown at the pause."""

    approve: bool = Field(False, title="Approve", description="Insert the sessions marked 'ready' above.")
    exclude: list[str] = Field(default_factory=list, title="Sessions to leave out",
                               description="Session ids or globs, e.g. '25843/2024-03-05_10-30-58' or '26018/*'.")
    approver: str = Field("", title="Approved by", description="Your name, stored with the ingest run.")
    note: str = Field("", title="Note", description="Why, or anything the next person should know.")
    via: Literal["ui", "cli", "api"] = Field(
        "ui", title="Decided in", description="Where the decision was made, stored with it; leave 'ui' here "
        "(`mass-ingest approve` and `reject` send 'cli').")


def shown_digest(frame: pl.DataFrame) -> str:
    """Digest of the candidates that would be inserted: what the approver was shown."""
    ready = sorted(offered(frame)["candidate_id"].to_list())
    return hashlib.sha256("\n".join(ready).encode()).hexdigest()[:16]


def apply_decision(frame: pl.DataFrame, decision: Decision) -> pl.DataFrame:
    """Mark ready candidates ``approved``, ``left_out`` (excluded by the approver) or ``rejected``.

    Known sessions that moved or gained data keep their status; ``change_approved`` says whether
    the approver let the change in (approved, not excluded).
    """
    def left_out(session_id: str) -> bool:
        return any(fnmatch.fnmatchcase(session_id, pattern) for pattern in decision.excluded)

    ready = pl.col("status") == Status.READY
    out = pl.col("session_id").map_elements(left_out, return_dtype=pl.Boolean)
    frame = frame.with_columns(
        (has_status(Status.UPDATE, Status.MOVED) & pl.lit(decision.approved) & ~out.fill_null(False))
        .alias("change_approved"))
    return change_status(
        frame,
        pl.when(ready & pl.lit(not decision.approved)).then(pl.lit(Status.REJECTED))
        .when(ready & out).then(pl.lit(Status.LEFT_OUT))
        .when(ready).then(pl.lit(Status.APPROVED))
        .otherwise(pl.col("status")))


def auto_decision(profile: Profile) -> Decision:
    """The decision of a re-scan whose profile allows auto-approval: the clean (ready) sessions go in."""
    return Decision(approved=True, approver="auto-approval", source="auto",
                    note=f"profile {profile.name} sets approval.auto_approve_clean: sessions that passed every "
                    "expectation were inserted without a person; quarantined and pending ones were held back")


def request_approval(profile: Profile, checked: StageFrame, ingest_id: str,
                     preapproved: Decision | None = None, timeout_s: int | None = None) -> Decision:
    """The decision for this ingest: stored (resume), given up front, or asked for at a pause.

    ``timeout_s`` replaces the profile's approval.timeout_s for this run (the deployment's parameter).
    """
    timeout_s = timeout_s or profile.approval.timeout_s
    frame = checked.load()
    digest = shown_digest(frame)
    decision = stored_decision(ingest_id)
    if decision is not None:
        publish_quality_report(frame, ingest_id)  # a resumed run shows its quality report too
        return decision
    markdown = publish_review(frame, profile, ingest_id)
    if preapproved is not None:
        decision = preapproved.model_copy(update={"shown_digest": digest})
        record_decision(ingest_id, decision)
        return decision
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(description=markdown, approve=False),
            timeout=timeout_s, poll_interval=profile.approval.poll_s, key=f"approval-{ingest_id}")
    except FlowPauseTimeout:
        # Prefect refuses any further state but Failed for a run whose pause expired, so the
        # run ends here: the ledger says why, and nothing was inserted.
        note = f"no decision within {timeout_s} s at the approval pause; nothing was inserted"
        record_decision(ingest_id, Decision(approved=False, approver="", source="timeout", shown_digest=digest,
                                            note=note), timed_out=True)
        raise ApprovalTimeout(f"ingest {ingest_id} of profile {profile.name}: {note}. Run it again to be asked "
                              "again, or raise approval.timeout_s in the profile") from None
    decision = Decision(approved=answer.approve, approver=answer.approver or "unknown", source=answer.via,
                        excluded=answer.exclude, note=answer.note, shown_digest=digest)
    record_decision(ingest_id, decision)
    return decision
