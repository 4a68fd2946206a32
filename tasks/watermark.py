"""Re-scans: one at a time per share, each share's watermark, and last scan's pending folders first.

A re-scan walks the whole share, as a first ingest does, and relies on dedup to tell what is
new: a session not in the pipeline is ``ready``; a stored session whose folder gained a probe or
an output since is an ``update``. Filtering on modification times instead would miss late data:
a file written into ``<session>/probe_2/`` changes the mtime of ``probe_2/`` only, not of the
session folder, and copies (robocopy, rsync -a) keep the source's old mtimes. So the watermark
(the start of the last successful re-scan of a share) says what a re-scan covered and is
reported; it never hides a candidate. It moves only when the whole re-scan succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import polars as pl
from prefect import get_run_logger, task
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.db.watermarks import Watermark, advance_watermarks, read_watermarks
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame


def slot_name(profile_name: str, share: str) -> str:
    """The Prefect global concurrency limit that keeps re-scans of one share one at a time."""
    return f"mass-ingest-rescan-{profile_name}-{share}"


def _ensure_limit(name: str) -> None:
    from prefect import get_client
    from prefect.exceptions import ObjectAlreadyExists

    # A limit that does not exist is not enforced, so create it (limit 1) before taking a slot.
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, 1)
        except ObjectAlreadyExists:  # another re-scan created it a moment ago
            pass


@contextmanager
def share_slots(profile: Profile, wait_s: float) -> Iterator[list[str]]:
    """Hold the re-scan slot of each of the profile's shares; yield the names of the shares held.

    A share whose slot another re-scan holds for longer than ``wait_s`` is left out (and named in
    the log): that re-scan covers it, and waiting behind it would only repeat its work.
    """
    from prefect.concurrency.sync import concurrency

    logger = get_run_logger()
    held: list[str] = []
    with ExitStack() as stack:
        for share in profile.shares:
            name = slot_name(profile.name, share.name)
            _ensure_limit(name)
            try:
                stack.enter_context(concurrency(name, occupy=1, timeout_seconds=wait_s, strict=True))
            except TimeoutError:
                logger.warning(f"share {share.name}: another re-scan of profile {profile.name} holds the "
                               f"concurrency limit {name}; not scanned by this run")
                continue
            held.append(share.name)
        yield held


@task(name="read-watermarks")
def read_watermarks_task(profile: Profile) -> dict[str, Watermark]:
    return read_watermarks(profile)


@task(name="advance-watermarks")
def advance_watermarks_task(profile: Profile, decided: StageFrame, ingest_id: str,
                            skipped: list[str]) -> dict[str, Watermark]:
    return advance_watermarks(profile, decided.load(), ingest_id, skipped)


def pending_first(frame: pl.DataFrame, earlier: dict[str, list[str]]) -> pl.DataFrame:
    """The candidates, those pending at the last re-scan first (in the summary and every later stage)."""
    pairs = [f"{share}\x00{path}" for share, paths in earlier.items() for path in paths]
    was_pending = pl.concat_str(pl.col("share"), pl.lit("\x00"), pl.col("rel_path")).is_in(pairs)
    return frame.with_columns(was_pending.alias("_first")).sort("_first", descending=True,
                                                                 maintain_order=True).drop("_first")


@task(name="pending-first")
def pending_first_task(checked: StageFrame, earlier: dict[str, list[str]], ingest_id: str) -> StageFrame:
    """Put last re-scan's pending folders first and say what became of them."""
    frame = pending_first(checked.load(), earlier)
    before = {(share, path) for share, paths in earlier.items() for path in paths}
    now = {(r["share"], r["rel_path"]): r["status"] for r in frame.select("share", "rel_path", "status").to_dicts()}
    if before:
        fate: dict[str, int] = {}
        for key in before:
            status = now.get(key, "gone")
            fate[status] = fate.get(status, 0) + 1
        get_run_logger().info(f"{len(before)} folder(s) pending at the last re-scan, now: "
                              + ", ".join(f"{n} {s}" for s, n in sorted(fate.items())))
    return StageFrame.save(frame, stage="checked-ordered", ingest_id=ingest_id, findings=checked.findings)


class RescanOutcome(BaseModel):
    """What a re-scan did: the ingest's counts, shares another re-scan held, and the watermarks now."""

    model_config = ConfigDict(extra="forbid")

    counts: dict | None = Field(None, description="The ingest's counts (IngestCounts); None when no share was free.")
    busy_shares: list[str] = Field(default_factory=list)
    watermarks: dict[str, Watermark] = Field(default_factory=dict)

    def as_json(self) -> dict:
        return self.model_dump(mode="json")
