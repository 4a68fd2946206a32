"""Folders that are one place under their share's case rule (``b26A`` and ``b26a`` on an SMB share).

Their canonical locations, and so their candidate ids and the pipeline's unique location key,
are equal: at most one could ever be stored, and which one would be chance. Both are stopped
with a finding that names the other, so a person decides (rename one, or exclude one).
"""

from __future__ import annotations

import hashlib

import polars as pl

from mass_ingest.findings import Stage, finding


def mark_location_collisions(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (candidates of every share) with a DISCOVER.CASE_COLLISION finding on each candidate whose
    location (and recording group) another candidate's folder shares under a different spelling."""
    if frame.is_empty():
        return frame
    spellings = frame.group_by("location", "group").agg(pl.col("rel_path").unique().alias("_others"))
    spellings = spellings.filter(pl.col("_others").list.len() > 1)
    if spellings.is_empty():  # the usual case: nothing to rewrite
        return frame
    flagged = frame.with_row_index("_row").join(spellings, on=["location", "group"], how="inner")
    dtype = frame.schema["findings"]
    fields = {f.name for f in dtype.inner.fields}
    rows, values = [], []
    for row, share, rel, others, existing in flagged.select("_row", "share", "rel_path", "_others",
                                                              "findings").iter_rows():
        names = ", ".join(f"'{o}'" for o in sorted(others) if o != rel)
        extra = finding("DISCOVER.CASE_COLLISION", stage=Stage.DISCOVER, share=share, path=rel,
                        message=f"is the same place as {names} on this share, which ignores case; at most one "
                        "could be stored: rename one of them (or set case_sensitive: true if the share really "
                        "tells them apart)").model_dump(mode="json")
        rows.append(row)
        values.append([*(existing or []), {k: v for k, v in extra.items() if k in fields}])  # all its findings
    # Their candidate ids hash the shared location: each gets one of its own folder, so both are listed
    # (the Quarantine table is keyed by it). Neither is ever stored under it.
    ids = [hashlib.sha256(f"{share}\0{rel}".encode()).hexdigest()[:16]
           for share, rel in flagged.select("share", "rel_path").iter_rows()]
    extra = pl.DataFrame({"_row": pl.Series(rows, dtype=pl.UInt32), "_extra": pl.Series(values, dtype=dtype),
                          "_id": pl.Series(ids, dtype=pl.String)})
    return (frame.with_row_index("_row").join(extra, on="_row", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_extra", "findings").alias("findings"),
                          pl.coalesce("_id", "candidate_id").alias("candidate_id"))
            .drop("_row", "_extra", "_id"))
