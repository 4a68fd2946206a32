"""Stage 5, approval: a person sees what would go in and decides.

The flow pauses with a typed run input (:class:`ApprovalInput`) that the Prefect UI shows as a
form, under a markdown summary of what will be inserted and what was quarantined. A decision
given up front (``mass-ingest run --approve``) skips the pause and is recorded as such. The
decision is stored with the ingest run at once, so a crash after approval never asks again and
never loses it.
"""

from __future__ import annotations

import fnmatch
import getpass
import hashlib

import polars as pl
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from mass_ingest.errors import ApprovalTimeout
from mass_ingest.db.runs import Decision, record_decision, stored_decision
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame


class ApprovalInput(RunInput):
    """The approval form shown at the pause."""

    approve: bool = Field(False, title="Approve", description="Insert the sessions marked 'ready' above.")
    exclude: list[str] = Field(default_factory=list, title="Sessions to leave out",
                               description="Session ids or globs, e.g. '25843/2024-03-05_10-30-58' or '26018/*'.")
    approver: str = Field("", title="Approved by", description="Your name, stored with the ingest run.")
    note: str = Field("", title="Note", description="Why, or anything the next person should know.")


def shown_digest(frame: pl.DataFrame) -> str:
    """Digest of the candidates that would be inserted: what the approver was shown."""
    ready = sorted(frame.filter(pl.col("status") == "ready")["candidate_id"].to_list())
    return hashlib.sha256("\n".join(ready).encode()).hexdigest()[:16]


def _table(rows: pl.DataFrame, columns: list[str], limit: int = 200) -> str:
    if rows.is_empty():
        return "_none_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows.head(limit).iter_rows(named=True):
        cells = [str(row[c]).replace("|", "\\|").replace("\n", " ") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if rows.height > limit:
        lines.append(f"\n... and {rows.height - limit} more")
    return "\n".join(lines) + "\n"


def approval_markdown(frame: pl.DataFrame, profile: Profile, ingest_id: str) -> str:
    """The readable summary shown above the approval form."""
    counts = frame.group_by("status").len().sort("status")
    by = {r["status"]: r["len"] for r in counts.iter_rows(named=True)}
    ready = frame.filter(pl.col("status") == "ready").with_columns(
        pl.col("probes").list.len().alias("probes_n"),
        pl.col("projects").list.join(", ").alias("projects_"))
    quarantined = frame.filter(pl.col("status") == "quarantined").with_columns(
        pl.col("quality_reasons").list.join("; ").alias("reasons"))
    skipped = frame.filter(pl.col("status").is_in(["duplicate", "copy", "excluded"]))
    pending = frame.filter(pl.col("status") == "pending").with_columns(
        pl.col("pending_reasons").list.join("; ").alias("reasons"))
    # Known sessions that moved or gained data: shown so a person knows, not inserted by this run.
    known = frame.filter(pl.col("status").is_in(["moved", "update"])).with_columns(
        pl.when(pl.col("status") == "update").then(pl.col("new_parts").list.join(", "))
        .otherwise(pl.col("dedup_reason")).alias("what"))
    per_share = ready.group_by("share").len().sort("share")
    return (
        f"# Approve ingest of profile `{profile.name}`\n\n"
        f"Ingest `{ingest_id}`, profile hash `{profile.content_hash()}`.\n\n"
        f"**{by.get('ready', 0)} ready to insert**, {by.get('quarantined', 0)} quarantined, "
        f"{by.get('duplicate', 0)} already in the pipeline, {by.get('copy', 0)} copies within this batch, "
        f"{by.get('excluded', 0)} excluded by the profile.\n\n"
        f"Ready per share: " + (", ".join(f"{r['share']}: {r['len']}" for r in per_share.iter_rows(named=True))
                               or "none") + "\n\n"
        "## Ready to insert\n" + _table(ready, ["session_id", "share", "rel_path", "probes_n", "projects_"])
        + "\n## Quarantined (not inserted)\n" + _table(quarantined, ["session_id", "share", "rel_path", "reasons"])
        + "\n## Pending (still arriving; looked at again by the next run)\n"
        + _table(pending, ["session_id", "share", "rel_path", "reasons"])
        + "\n## Known sessions that moved or gained data (reported, not inserted by this run)\n"
        + _table(known, ["session_id", "share", "rel_path", "status", "what"])
        + "\n## Skipped\n" + _table(skipped, ["session_id", "share", "rel_path", "status", "dedup_reason"])
        + "\nApprove below, optionally leaving sessions out by id or glob.\n"
    )


def apply_decision(frame: pl.DataFrame, decision: Decision) -> pl.DataFrame:
    """Mark ready candidates ``approved``, ``left_out`` (excluded by the approver) or ``rejected``."""
    def left_out(session_id: str) -> bool:
        return any(fnmatch.fnmatchcase(session_id, pattern) for pattern in decision.excluded)

    ready = pl.col("status") == "ready"
    out = pl.col("session_id").map_elements(left_out, return_dtype=pl.Boolean)
    return frame.with_columns(
        pl.when(ready & pl.lit(not decision.approved)).then(pl.lit("rejected"))
        .when(ready & out).then(pl.lit("left_out"))
        .when(ready).then(pl.lit("approved"))
        .otherwise(pl.col("status")).alias("status"))


def command_line_decision(excluded: list[str] | None = None, note: str = "") -> Decision:
    """Approval given on the command line, recorded with the user's name."""
    return Decision(approved=True, approver=getpass.getuser(), source="cli", excluded=excluded or [],
                    note=note or "approved on the command line")


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
        return decision
    markdown = approval_markdown(frame, profile, ingest_id)
    create_markdown_artifact(markdown=markdown, key="approval-summary",
                             description=f"What ingest {ingest_id} would insert")
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
    decision = Decision(approved=answer.approve, approver=answer.approver or "unknown", source="ui",
                        excluded=answer.exclude, note=answer.note, shown_digest=digest)
    record_decision(ingest_id, decision)
    return decision
