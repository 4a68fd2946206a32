"""Stage 2, discovery, as a Prefect task: one share (or one chunk of it) walked, saved as parquet.

The walk itself is :mod:`mass_ingest.discovery` (no Prefect, so `mass-ingest discover` does not
import it); its names are re-exported here for the code that imports them from the stage.
"""

from __future__ import annotations

import os
import time

import polars as pl
from prefect import get_run_logger, task

from mass_ingest import progress
from mass_ingest.discovery import discover_share, ordered_map, session_folders, unmatched_folders_finding
from mass_ingest.listing import STAGE as LISTING_STAGE
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame
from tasks import STAGE_CACHE

__all__ = ["discover_share", "discover_share_task", "ordered_map", "session_folders", "unmatched_folders_finding"]


@task(name="discover-share", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json",
      task_run_name="discover {share_name} {chunk_index}/{chunks}")
def discover_share_task(profile: Profile, share_name: str, ingest_id: str, chunk_index: int = 0,
                        chunks: int = 1) -> StageFrame:
    """Discovery of one share, persisted as parquet and cached for the rest of this ingest."""
    logger = get_run_logger()
    started = last = time.monotonic()
    part = f" part {chunk_index + 1}/{chunks}" if chunks > 1 else ""

    def report(done: int, total: int | None) -> None:
        nonlocal last
        # The run page's progress bar (and the terminal's, or a plain line now and then) ...
        progress.report(f"discover-{share_name}-{chunk_index}", done, total, f"discovery of share {share_name}{part}",
                        unit="folders listed" if total is None else "session folders read")
        if total is not None and time.monotonic() - last >= 10:  # ... and the run's log, every 10 s
            last = time.monotonic()
            logger.info(f"share {share_name}{part}: {done} of {total} session folders read in {last - started:.0f} s")

    listings: list = []
    # Where the share's listings do not wait, the machine's cores describe its folders (shared among the chunks).
    processes = max(1, min(4, os.cpu_count() or 1) // chunks)
    frame, findings = discover_share(profile, share_name, progress=report, chunk=(chunk_index, chunks),
                                     listings=listings, on_listed=lambda listed: report(listed, None),
                                     processes=processes)
    logger.info(f"share {share_name}: {frame.height} session folders, {len(findings)} findings on the share, "
                f"{time.monotonic() - started:.1f} s")
    # For the fingerprint shown at approval (tasks/recheck.py): what this walk listed, not walked again.
    StageFrame.save(listings[0].with_columns(walk=pl.lit(f"{share_name}-{chunk_index}")),
                    stage=LISTING_STAGE, ingest_id=ingest_id, part=f"{share_name}-{chunk_index}")
    return StageFrame.save(frame, stage="discover", ingest_id=ingest_id, part=f"{share_name}-{chunk_index}",
                           findings=findings)
