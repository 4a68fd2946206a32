"""Final counts of an ingest, the ledger entries that close it, and its findings file (findings.jsonl)."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel, ConfigDict

from mass_ingest.access import ShareAccess
from mass_ingest.candidates import Status, frame_findings, has_status
from mass_ingest.chunk_outcome import ChunkOutcome
from mass_ingest.db.decisions import Decision
from mass_ingest.db.runs import finish_ingest, open_ingest, record_pending, record_quarantine
from mass_ingest.db.sessions import sessions_changed_by, sessions_inserted_by
from mass_ingest.findings import Finding
from mass_ingest.findings_file import ingest_findings, record_findings
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame
from tasks.review import publish_review


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
    held: int = 0
    decision: str
    inserted_by_this_run: int = 0  # of ``inserted`` (every run of this ingest), what this flow run inserted itself
    updated: int = 0
    moves_recorded: int = 0
    unreadable_shares: list[str] = []
    # What an import's input file says that its folders do not (IMPORT.* findings, warnings included): shown
    # in the terminal summary, as nothing else but an artifact would show a warning.
    input_file_findings: list[Finding] = []

    def as_json(self) -> dict:
        return self.model_dump(mode="json")


def counts_rows(counts: IngestCounts) -> list[dict[str, str]]:
    """The counts as one row per measure: a single row of 16 columns runs off the right edge in the UIs,
    whose table cells never wrap (inserted, left_out and decision were out of sight). The input file's findings
    are not counts: the review lists show them with their sessions."""
    return [{"what": name, "value": ", ".join(value) if isinstance(value, list) else str(value)}
            for name, value in counts.model_dump(exclude={"input_file_findings"}).items()]


def count(frame: pl.DataFrame, *statuses: Status) -> int:
    return frame.filter(has_status(*statuses)).height


def _publish_reasons(rows: pl.DataFrame, reasons: str, key: str, title: str) -> None:
    """A markdown artifact listing each session of ``rows`` with its reasons (none when empty)."""
    if rows.is_empty():
        return
    lines = [f"- `{r['session_id']}` ({r['share']}:{r['rel_path']}): " + "; ".join(r[reasons])
             for r in rows.iter_rows(named=True)]
    create_markdown_artifact(key=key, markdown=f"# {title}\n\n" + "\n".join(lines))


def ingest_counts(frame: pl.DataFrame, ingest_id: str, decision: str, unreadable_shares: list[str],
                  inserted: int, changed: dict[str, int] | None = None) -> IngestCounts:
    """The counts of a classified (and perhaps decided) candidate frame; ``changed``: known sessions
    updated and moves recorded (see :func:`mass_ingest.db.sessions.sessions_changed_by`)."""
    return IngestCounts(
        ingest_id=ingest_id,
        discovered=frame.height - count(frame, Status.EXCLUDED),
        duplicates=count(frame, Status.DUPLICATE, Status.COPY),
        quarantined=count(frame, Status.QUARANTINED),
        pending=count(frame, Status.PENDING),
        moved=count(frame, Status.MOVED),
        updates=count(frame, Status.UPDATE),
        excluded=count(frame, Status.EXCLUDED),
        left_out=count(frame, Status.LEFT_OUT),
        held=count(frame, Status.HELD),
        inserted=inserted,
        **(changed or {}),
        decision=decision,
        unreadable_shares=unreadable_shares,
        input_file_findings=frame_findings(frame, "IMPORT."),
    )


@task(name="dry-run-outcome")
def dry_run_outcome_task(profile: Profile, checked: StageFrame, ingest_id: str,
                         unreadable_shares: list[str], input_file: str | None = None) -> IngestCounts:
    """What a dry run found: counts and the summary an approver would read (nothing inserted or stored)."""
    frame = checked.load()
    publish_review(frame, profile, ingest_id, key="dry-run-summary",
                   description=f"What an ingest would insert (dry run {ingest_id})", input_file=input_file)
    ready = count(frame, Status.READY)
    counts = ingest_counts(frame, ingest_id, f"dry run: {ready} ready, nothing inserted", unreadable_shares, 0)
    create_table_artifact(key="dry-run-counts", table=counts_rows(counts),
                          description=f"What an ingest would do (dry run {ingest_id})")
    return counts


@task(name="record-quarantine")
def record_quarantine_task(checked: StageFrame, ingest_id: str) -> int:
    """Store the quality stage's quarantine and pending lists before the approval pause, so they are kept
    (and shown by `mass-ingest status`) whatever the decision and insertion meet; the outcome stores them
    again, idempotently."""
    frame = checked.load()
    quarantined = frame.filter(has_status(Status.QUARANTINED))
    record_quarantine(ingest_id, quarantined.to_dicts())
    record_pending(ingest_id, frame.filter(has_status(Status.PENDING)).to_dicts())
    return quarantined.height


# Never cached: the file is rewritten from what this run of the ingest holds, each time.
@task(name="record-findings", cache_policy=NO_CACHE)
def record_findings_task(access: list[ShareAccess], discovered: list[StageFrame], frame: StageFrame, ingest_id: str,
                         chunks: list[ChunkOutcome] | None = None) -> str:
    """Write every finding of the ingest so far to its findings.jsonl (rewritten whole: a resumed run
    writes no line twice); return the file's path. Called before the approval pause and again at the end."""
    chunks = [c for c in chunks or [] if isinstance(c, ChunkOutcome)]  # a count alone: cached before outcomes
    path = record_findings(ingest_id, ingest_findings(access, discovered, frame.load(), chunks))
    get_run_logger().info("every finding of ingest %s, one JSON object a line: %s", ingest_id, path)
    return str(path)


@task(name="record-outcome")
def record_outcome_task(decided: StageFrame, decision: Decision, ingest_id: str,
                        unreadable_shares: list[str], chunks: list[ChunkOutcome] | None = None) -> IngestCounts:
    """Store quarantine reasons and counts with the ingest run; publish the summary.

    ``chunks``: the insertion chunks' outcomes; sessions they left out count as quarantined, and those
    this flow run executed itself (not cached from an earlier run) give ``inserted_by_this_run``.
    """
    # A timed-out approval never gets here: request_approval records it and fails the run.
    frame = decided.load()
    quarantined = frame.filter(has_status(Status.QUARANTINED))
    record_quarantine(ingest_id, quarantined.to_dicts())
    record_pending(ingest_id, frame.filter(has_status(Status.PENDING)).to_dicts())
    # A chunk cached before chunks reported outcomes returned its count alone.
    chunks = [c if isinstance(c, ChunkOutcome) else ChunkOutcome(inserted=int(c)) for c in chunks or []]
    left_out_at_insert = [q for c in chunks for q in c.quarantined]
    this_run = str(flow_run.get_id() or "")
    verdict = "approved" if decision.approved else "rejected"
    label = f"{verdict} by {decision.approver} ({decision.source})"
    counts = ingest_counts(frame, ingest_id, label, unreadable_shares, sessions_inserted_by(ingest_id),
                           sessions_changed_by(ingest_id))
    counts.quarantined += len(left_out_at_insert)
    counts.inserted_by_this_run = sum(c.inserted for c in chunks if c.flow_run_id == this_run)
    finish_ingest(ingest_id, counts.model_dump(exclude={"ingest_id", "unreadable_shares", "decision",
                                                        "input_file_findings"}),
                  "completed" if decision.approved else "rejected")
    create_table_artifact(key="ingest-counts", table=counts_rows(counts),
                          description=f"Outcome of ingest {ingest_id}")
    if left_out_at_insert:
        quarantined = pl.concat([quarantined.select("session_id", "share", "rel_path", "quality_reasons"),
                                 pl.DataFrame([{"session_id": q.session_id, "share": q.share, "rel_path": q.rel_path,
                                                "quality_reasons": q.reasons} for q in left_out_at_insert],
                                              schema={"session_id": pl.String, "share": pl.String,
                                                      "rel_path": pl.String,
                                                      "quality_reasons": pl.List(pl.String)})])
    _publish_reasons(quarantined, "quality_reasons", "quarantine", "Quarantined")
    _publish_reasons(frame.filter(has_status(Status.PENDING)), "pending_reasons", "pending",
                     "Pending: still arriving, looked at again next run")
    return counts


@task(name="open-ingest")
def open_ingest_task(profile: Profile) -> str:
    return open_ingest(profile, str(flow_run.get_id() or ""))
