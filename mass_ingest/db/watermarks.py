"""Each share's re-scan watermark (``ScanWatermark``): read before a re-scan, moved after a successful one.

What a watermark means, and why it never hides a candidate, is said in ``tasks/watermark.py``. The schema
(and DataJoint) is imported on first use, as before: importing the re-scan's stage needs no database.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.candidates import Status, has_status
from mass_ingest.profile import Profile


class Watermark(BaseModel):
    """One share's last successful re-scan."""

    model_config = ConfigDict(extra="forbid")

    share: str
    scanned_at: datetime | None = Field(None, description="Start of the ingest the last successful re-scan "
                                        "completed (the worker's local time, as in the ingest ledger); None: never.")
    ingest_id: str = ""
    pending: list[str] = Field(default_factory=list, description="Folders still arriving at that re-scan.")


def read_watermarks(profile: Profile) -> dict[str, Watermark]:
    """Each of the profile's shares' watermark (``scanned_at`` None for a share never re-scanned)."""
    from mass_ingest.db import schema

    schema.activate()
    rows = {r["share"]: r for r in (schema.ScanWatermark & {"profile_name": profile.name}).to_dicts()}
    marks = {}
    for share in profile.shares:
        row = rows.get(share.name)
        marks[share.name] = Watermark(share=share.name) if row is None else Watermark(
            share=share.name, scanned_at=row["scanned_at"], ingest_id=row["ingest_id"],
            pending=list(row["pending"] or []))
    return marks


def advance_watermarks(profile: Profile, decided: pl.DataFrame, ingest_id: str,
                       skipped: list[str]) -> dict[str, Watermark]:
    """Move the watermark of every scanned share to the start of ``ingest_id``; keep its pending folders.

    Called only after the re-scan's ingest completed; ``skipped`` shares (unreadable) keep theirs.
    """
    from mass_ingest.db import schema

    schema.activate()
    started = (schema.IngestRun & {"ingest_id": ingest_id}).to_dicts()[0]["started_at"]
    pending = decided.filter(has_status(Status.PENDING))
    moved = {}
    for share in profile.shares:
        if share.name in skipped:
            continue
        paths = sorted(pending.filter(pl.col("share") == share.name)["rel_path"].to_list())
        key = {"profile_name": profile.name, "share": share.name}
        row = {**key, "scanned_at": started, "ingest_id": ingest_id, "pending": paths}
        # No REPLACE: DataJoint does not offer it on PostgreSQL.
        with schema.ScanWatermark.connection.transaction:
            if schema.ScanWatermark & key:
                schema.ScanWatermark.update1(row)
            else:
                schema.ScanWatermark.insert1(row)
        moved[share.name] = Watermark(share=share.name, scanned_at=started, ingest_id=ingest_id, pending=paths)
    return moved
