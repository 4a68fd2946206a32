"""Held sessions: folders a person kept out (left out at approval, in a rejected ingest, or undone).

Each hold is a row of its own (who, when, why, which ingest), released by a row of its own: nothing
is updated or deleted, so the record of who kept what out, and who let it back, stays.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from mass_ingest.candidates import OFFERED, Status, change_status, has_status
from mass_ingest.db import schema
from mass_ingest.session_patterns import PatternError, match_patterns, refusal_message, unmatched_patterns

# Why a session is held: the words shown in its group, per reason.
REASONS = {"left_out": "left out", "rejected": "rejected", "undone": "undone"}

HELD_SCHEMA = {"candidate_id": pl.String, "ingest_id": pl.String, "session_id": pl.String, "share": pl.String,
               "rel_path": pl.String, "location": pl.String, "reason": pl.String, "held_by": pl.String,
               "held_at": pl.Datetime("us"), "note": pl.String}


def hold_sessions(rows: list[dict], ingest_id: str, reason: str, held_by: str, note: str = "",
                  held_at: datetime | None = None) -> int:
    """Hold ``rows`` (dicts with candidate_id, session_id, share, rel_path, location); idempotent per ingest."""
    if not rows:
        return 0
    schema.activate()
    when = held_at or datetime.now().replace(microsecond=0)
    schema.HeldSession.insert([{"candidate_id": r["candidate_id"], "ingest_id": ingest_id,
                                "session_id": r["session_id"][:128], "share": r["share"], "rel_path": r["rel_path"],
                                "location": r["location"], "reason": reason, "held_by": held_by[:128],
                                "held_at": when, "note": note[:2000]} for r in rows], skip_duplicates=True)
    return len(rows)


def held_frame() -> pl.DataFrame:
    """Every session held now (not released), one row per folder: its latest hold (:data:`HELD_SCHEMA`)."""
    schema.activate()
    released = {(r["candidate_id"], r["ingest_id"]) for r in schema.HeldSession.Release.proj().to_dicts()}
    rows = [r for r in schema.HeldSession.to_dicts() if (r["candidate_id"], r["ingest_id"]) not in released]
    frame = pl.DataFrame(rows, schema=HELD_SCHEMA) if rows else pl.DataFrame(schema=HELD_SCHEMA)
    return frame.sort("held_at", descending=True).unique("candidate_id", keep="first", maintain_order=True)


def held_label(frame: pl.DataFrame) -> pl.Expr:
    """"left out by Ada on 2026-11-30: 'note'" for each row of a frame with the held columns."""
    why = pl.col("reason").replace_strict(REASONS, default=pl.col("reason"))
    note = pl.when(pl.col("note") != "").then(pl.format(": '{}'", pl.col("note"))).otherwise(pl.lit(""))
    return pl.format("{} by {} on {}{}", why, pl.col("held_by"), pl.col("held_at").dt.strftime("%Y-%m-%d"), note)


def release_sessions(patterns: list[str], released_by: str, note: str, shares=()) -> pl.DataFrame:
    """Release the held sessions ``patterns`` name (all holds of each folder); refuse, releasing nothing,
    when a pattern names no held session. Returns the released rows."""
    if not note.strip():
        raise PatternError("a release needs a note (--note): why these sessions may go in now")
    held = held_frame()
    unmatched = unmatched_patterns(held, patterns, shares)
    if unmatched:
        raise PatternError(refusal_message(unmatched, "held session") + "; `mass-ingest release --list` lists them")
    chosen = held.filter(match_patterns(held, patterns, shares))
    candidates = set(chosen["candidate_id"])
    released = {(r["candidate_id"], r["ingest_id"]) for r in schema.HeldSession.Release.proj().to_dicts()}
    now = datetime.now().replace(microsecond=0)
    schema.HeldSession.Release.insert(
        [{"candidate_id": r["candidate_id"], "ingest_id": r["ingest_id"], "released_by": released_by[:128],
          "released_at": now, "note": note[:2000]}
         for r in schema.HeldSession.proj().to_dicts()
         if r["candidate_id"] in candidates and (r["candidate_id"], r["ingest_id"]) not in released],
        skip_duplicates=True)
    return chosen


def mark_held(frame: pl.DataFrame, held: pl.DataFrame) -> pl.DataFrame:
    """Offered candidates a person holds back get status ``held`` and ``held_reason`` ("left out by ...")."""
    labels = held.select("candidate_id", held_label(held).alias("held_reason"))
    marked = frame.drop("held_reason", strict=False).join(labels, on="candidate_id", how="left")
    is_held = has_status(*OFFERED) & pl.col("held_reason").is_not_null()
    marked = marked.with_columns(pl.when(is_held).then(pl.col("held_reason")).alias("held_reason"))
    return change_status(marked, pl.when(is_held).then(pl.lit(Status.HELD)).otherwise(pl.col("status")))
