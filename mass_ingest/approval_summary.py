"""The markdown a person reads at the approval pause: counts, the candidates and their findings, links.

Readable for thousands of candidates: counts come first (per status, per share, per subject,
per project), and every table is cut after :data:`ROWS` rows with "and N more".
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from mass_ingest.candidates import OFFERED, Status, has_status, status_counts

ROWS = 50  # rows per table; the rest is counted, and listed by `mass-ingest validate`
_FINDINGS_SHOWN = 3  # findings per candidate in a table cell
_CELL = 160  # characters of one finding's message in a cell

# What the counts' columns mean, in the order shown: column -> statuses it counts.
CATEGORIES: dict[str, tuple[Status, ...]] = {
    "ready": (Status.READY,),
    "quarantined": (Status.QUARANTINED,),
    "pending": (Status.PENDING,),
    "in pipeline": (Status.DUPLICATE,),
    "copy": (Status.COPY,),
    "moved or new data": (Status.MOVED, Status.UPDATE),
    "excluded": (Status.EXCLUDED,),
    "held": (Status.HELD,),
}


def offered(frame: pl.DataFrame) -> pl.DataFrame:
    """The candidates the approval offers for insertion (:data:`mass_ingest.candidates.OFFERED`)."""
    return frame.filter(has_status(*OFFERED))


def shown_digest(frame: pl.DataFrame) -> str:
    """Digest of the candidates that would be inserted: what the approver was shown."""
    ready = sorted(offered(frame)["candidate_id"].to_list())
    return hashlib.sha256("\n".join(ready).encode()).hexdigest()[:16]


def markdown_table(rows: pl.DataFrame, columns: list[str], what: str = "rows", limit: int = ROWS) -> str:
    """A markdown table of ``columns``, cut after ``limit`` rows with "... and N more <what>"."""
    if rows.is_empty():
        return "_none_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows.head(limit).select(columns).iter_rows():
        cells = ["" if v is None else str(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    if rows.height > limit:
        lines.append(f"\n... and {rows.height - limit} more {what}")
    return "\n".join(lines) + "\n"


def counts_by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Candidates per value of ``key`` (a list column counts each of its values) and :data:`CATEGORIES`.

    Sorted by most ready first, then by the key; a candidate without a value counts under "(none)".
    """
    keyed = frame.select(key, "status")
    if isinstance(frame.schema[key], pl.List):
        keyed = keyed.with_columns(pl.when(pl.col(key).list.len() > 0).then(key)).explode(key)
    keyed = keyed.with_columns(pl.col(key).cast(pl.String).fill_null("(none)"))
    return (keyed.group_by(key)
            .agg(*[has_status(*s).sum().alias(c) for c, s in CATEGORIES.items()])
            .sort(["ready", key], descending=[True, False]))


def _findings_cell() -> pl.Expr:
    """A candidate's discovery findings above INFO, as "CODE at path: message", a few per cell."""
    shown = (pl.col("findings").list.filter(pl.element().struct.field("severity") != "INFO")
             .list.eval(pl.format("{} at {}: {}", pl.element().struct.field("code"),
                                  pl.element().struct.field("path"),
                                  pl.element().struct.field("message").str.slice(0, _CELL))))
    extra = shown.list.len().cast(pl.Int64) - _FINDINGS_SHOWN
    return (pl.when(extra > 0).then(pl.format("{}; and {} more", shown.list.head(_FINDINGS_SHOWN).list.join("; "),
                                              extra))
            .otherwise(shown.list.join("; ")))


def approval_markdown(frame: pl.DataFrame, profile_name: str, profile_hash: str, ingest_id: str,
                      data_docs: Path | None = None) -> str:
    """The summary shown above the approval form.

    Args:
        frame: the quality stage's classified candidates (``status``: ready, quarantined, ...).
        data_docs: the Great Expectations Data Docs index of this ingest, when built.
    """
    by = status_counts(frame)
    ready = frame.filter(has_status(Status.READY)).with_columns(
        pl.col("probes").list.len().alias("probes"), pl.col("projects").list.join(", "),
        _findings_cell().alias("findings"))
    quarantined = frame.filter(has_status(Status.QUARANTINED)).with_columns(
        pl.col("quality_reasons").list.join("; ").alias("why"))
    pending = frame.filter(has_status(Status.PENDING)).with_columns(
        pl.col("pending_reasons").list.join("; ").alias("why"))
    # Known sessions that moved or gained data: approved, their new parts (or new place) go in.
    known = frame.filter(has_status(Status.MOVED, Status.UPDATE)).with_columns(
        pl.when(pl.col("status") == Status.UPDATE).then(pl.col("new_parts").list.join(", "))
        .otherwise(pl.col("dedup_reason")).alias("why"))
    held = frame.filter(has_status(Status.HELD)).with_columns(
        pl.col("held_reason").alias("held") if "held_reason" in frame.columns else pl.lit("").alias("held"))
    skipped = frame.filter(has_status(Status.DUPLICATE, Status.COPY, Status.EXCLUDED)).rename({"dedup_reason": "why"})
    per = {key: counts_by(frame, key) for key in ("share", "subject", "projects")}
    per["projects"] = per["projects"].rename({"projects": "project"})
    docs = (f"Quality: every expectation and every failing row in the [Great Expectations Data Docs]"
            f"({data_docs.as_uri()}) (`{data_docs}`; also this run's `quality-data-docs` artifact).\n\n"
            if data_docs is not None else "")
    columns = list(CATEGORIES)
    sessions = ["session_id", "share", "rel_path"]
    return (
        f"# Approve ingest of profile `{profile_name}`\n\n"
        f"Ingest `{ingest_id}`, profile hash `{profile_hash}`.\n\n"
        f"**{by[Status.READY]} ready to insert**, {by[Status.QUARANTINED]} quarantined, "
        f"{by[Status.PENDING]} pending (still arriving), {by[Status.DUPLICATE]} already in the pipeline, "
        f"{by[Status.COPY]} copies within this batch, {by[Status.MOVED]} moved, "
        f"{by[Status.UPDATE]} with new data, {by[Status.EXCLUDED]} excluded by the profile, "
        f"{by[Status.HELD]} held by a person.\n\n"
        + docs
        + "## Per share\n" + markdown_table(per["share"], ["share", *columns], "shares")
        + "\n## Per subject\n" + markdown_table(per["subject"], ["subject", *columns], "subjects")
        + "\n## Per project\n" + markdown_table(per["projects"], ["project", *columns], "projects")
        + "\n## Ready to insert\n"
        + markdown_table(ready, [*sessions, "probes", "projects", "findings"], "ready sessions")
        + "\n## Quarantined (not inserted)\n" + markdown_table(quarantined, [*sessions, "why"], "quarantined sessions")
        + "\n## Pending (still arriving; looked at again by the next run)\n"
        + markdown_table(pending, [*sessions, "why"], "pending sessions")
        + "\n## Known sessions that moved or gained data (when approved: new parts added; a new place "
        "recorded if the profile's dedup.record_moved_location says so)\n"
        + markdown_table(known, [*sessions, "status", "why"], "sessions")
        + "\n## Held (kept out by a person: not inserted, nor offered, until `mass-ingest release PATTERN --note`)\n"
        + markdown_table(held, [*sessions, "held"], "held sessions")
        + "\n## Skipped\n" + markdown_table(skipped, [*sessions, "status", "why"], "skipped folders")
        + "\nEvery candidate with its decision and reasons: `mass-ingest validate PROFILE --json`.\n"
        "Only what is shown here can be inserted: if an approved session's folder changes before insertion "
        "(a file added, removed or modified), the run inserts nothing and asks for a new run.\n"
        "Approve below, optionally leaving sessions out by id or glob.\n"
    )
