"""Final counts of an ingest, and the ledger entries that close it."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel, ConfigDict

from mass_ingest.db.runs import Decision, finish_ingest, record_quarantine
from mass_ingest.stage_cache import StageFrame
from tasks.insert import sessions_inserted_by


class IngestCounts(BaseModel):
    """What an ingest did, in the words of the summary table."""

    model_config = ConfigDict(extra="forbid")

    ingest_id: str
    discovered: int
    duplicates: int
    quarantined: int
    pending: int
    moved: int
    updates: int
    excluded: int
    left_out: int
    inserted: int
    decision: str
    unreadable_shares: list[str] = []

    def as_json(self) -> dict:
        return self.model_dump()


def count(frame: pl.DataFrame, *statuses: str) -> int:
    return frame.filter(pl.col("status").is_in(list(statuses))).height


@task(name="record-outcome")
def record_outcome_task(decided: StageFrame, decision: Decision, ingest_id: str,
                        unreadable_shares: list[str]) -> IngestCounts:
    """Store quarantine reasons and counts with the ingest run; publish the summary."""
    frame = decided.load()
    record_quarantine(ingest_id, frame.filter(pl.col("status") == "quarantined").to_dicts())
    label = ("timed out" if decision.source == "timeout" else
             f"{'approved' if decision.approved else 'rejected'} by {decision.approver} ({decision.source})")
    counts = IngestCounts(
        ingest_id=ingest_id,
        discovered=frame.height - count(frame, "excluded"),
        duplicates=count(frame, "duplicate", "copy"),
        quarantined=count(frame, "quarantined"),
        pending=count(frame, "pending"),
        moved=count(frame, "moved"),
        updates=count(frame, "update"),
        excluded=count(frame, "excluded"),
        left_out=count(frame, "left_out"),
        inserted=sessions_inserted_by(ingest_id),
        decision=label,
        unreadable_shares=unreadable_shares,
    )
    status = "completed" if decision.approved else ("timed_out" if decision.source == "timeout" else "rejected")
    finish_ingest(ingest_id, counts.model_dump(exclude={"ingest_id", "unreadable_shares", "decision"}), status)
    create_table_artifact(key="ingest-counts", table=[counts.model_dump(exclude={"unreadable_shares"})],
                          description=f"Outcome of ingest {ingest_id}")
    quarantined = frame.filter(pl.col("status") == "quarantined")
    if quarantined.height:
        lines = [f"- `{r['session_id']}` ({r['share']}:{r['rel_path']}): " + "; ".join(r["quality_reasons"])
                 for r in quarantined.iter_rows(named=True)]
        create_markdown_artifact(key="quarantine", markdown="# Quarantined\n\n" + "\n".join(lines))
    pending = frame.filter(pl.col("status") == "pending")
    if pending.height:
        lines = [f"- `{r['session_id']}` ({r['share']}:{r['rel_path']}): " + "; ".join(r["pending_reasons"])
                 for r in pending.iter_rows(named=True)]
        create_markdown_artifact(key="pending", markdown="# Pending: still arriving, looked at again next run\n\n"
                                 + "\n".join(lines))
    return counts
