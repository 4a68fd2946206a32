"""Stage 3, deduplication: what is already in the pipeline, and the same session found twice.

All joins in polars against a snapshot of the pipeline's sessions (fetched once with
``to_polars()``); insertion re-checks the keys inside its transaction, so a session
inserted between this snapshot and the insert is still not inserted twice.
"""

from __future__ import annotations

import polars as pl
from prefect import task

from mass_ingest.profile import Profile
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame

EXISTING_SCHEMA = {"subject": pl.String, "session_start": pl.Datetime("us"), "location": pl.String,
                   "group": pl.String}


def fetch_existing_sessions() -> pl.DataFrame:
    """(subject, session_start, location) of every session in the pipeline."""
    from mass_ingest.db import schema

    schema.activate()
    joined = (schema.Session * schema.Session.Directory).proj("location", "session_group")
    frame = joined.to_polars()
    if frame.is_empty():
        return pl.DataFrame(schema=EXISTING_SCHEMA)
    return frame.select(pl.col("subject").cast(pl.String), pl.col("session_start").cast(pl.Datetime("us")),
                        pl.col("location").cast(pl.String), pl.col("session_group").cast(pl.String).alias("group"))


def deduplicate(candidates: pl.DataFrame, existing: pl.DataFrame, share_order: list[str]) -> pl.DataFrame:
    """Add ``status`` (new / duplicate / copy / excluded), ``duplicate_of`` and ``dedup_reason``.

    Args:
        candidates: discovery frames of all shares, concatenated.
        existing: sessions already in the pipeline (:data:`EXISTING_SCHEMA`).
        share_order: the profile's share order; within the batch the first copy found wins.
    """
    frame = candidates.with_columns(
        pl.col("share").replace_strict(share_order, list(range(len(share_order))), default=len(share_order),
                                       return_dtype=pl.Int64).alias("_share_rank"))
    by_key = existing.select("subject", "session_start", pl.col("location").alias("_db_by_key")).unique(
        ["subject", "session_start"], keep="first")
    # One folder may hold several sessions (imaging, combined: false): a location is a place + group.
    by_location = existing.select("location", "group", pl.lit(True).alias("_db_by_location")).unique(
        ["location", "group"])
    frame = (frame.join(by_key, on=["subject", "session_start"], how="left", nulls_equal=False)
             .join(by_location, on=["location", "group"], how="left"))
    # Within the batch: the first (by share order, then path) of each (subject, start) is kept,
    # chosen among folders that can be kept at all (not excluded, start known).
    eligible = pl.col("session_start").is_not_null() & pl.col("excluded_by").is_null()
    keepers = (frame.filter(eligible).sort("_share_rank", "rel_path")
               .group_by("subject", "session_start", maintain_order=True)
               .agg(pl.col("location").first().alias("_batch_first")))
    frame = frame.join(keepers, on=["subject", "session_start"], how="left", nulls_equal=False)
    frame = frame.with_columns(pl.when(eligible).then(pl.col("_batch_first")).alias("_batch_first"))
    excluded = pl.col("excluded_by").is_not_null()
    in_db = pl.col("_db_by_key").is_not_null() | pl.col("_db_by_location").fill_null(False)
    copy = pl.col("_batch_first").is_not_null() & (pl.col("_batch_first") != pl.col("location"))
    frame = frame.with_columns(
        pl.when(excluded).then(pl.lit("excluded"))
        .when(in_db).then(pl.lit("duplicate"))
        .when(copy).then(pl.lit("copy"))
        .otherwise(pl.lit("new")).alias("status"),
        pl.when(excluded).then(None)
        .when(in_db).then(pl.coalesce("_db_by_key", "location"))
        .when(copy).then(pl.col("_batch_first")).alias("duplicate_of"),
    ).with_columns(
        pl.when(pl.col("status") == "duplicate")
        .then(pl.format("already in the pipeline as {} (at {})", pl.col("session_id"), pl.col("duplicate_of")))
        .when(pl.col("status") == "copy")
        .then(pl.format("same session as {} (subject and start time match)", pl.col("duplicate_of")))
        .when(pl.col("status") == "excluded").then(pl.col("excluded_by"))
        .alias("dedup_reason"))
    return frame.drop("_share_rank", "_db_by_key", "_db_by_location", "_batch_first").sort("share", "rel_path")


@task(name="deduplicate", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def deduplicate_task(profile: Profile, discovered: list[StageFrame], ingest_id: str) -> StageFrame:
    frames = [d.load() for d in discovered]
    candidates = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    if candidates.is_empty():
        from mass_ingest.candidates import CANDIDATE_SCHEMA

        candidates = pl.DataFrame(schema=CANDIDATE_SCHEMA)
    frame = deduplicate(candidates, fetch_existing_sessions(), [s.name for s in profile.shares])
    return StageFrame.save(frame, stage="dedup", ingest_id=ingest_id)
