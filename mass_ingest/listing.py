"""Session folders as listed: each file's name, size and modification time, one row per folder.

Discovery keeps this for the folders it describes, so the fingerprint shown at the approval
pause is made from what discovery listed instead of walking the folders again; the re-check
before insertion lists the approved folders anew into the same shape and compares.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pyarrow as pa

# walk: which discovery walk matched the folder (``<share>-<chunk>``); files: null for a folder it
# matched but did not describe (a bad date another layout explains): still a session folder that
# links inside other sessions must not lead into, so a new listing must know it as that walk did.
LISTING_SCHEMA = {"share": pl.String, "rel_path": pl.String, "walk": pl.String,
                  "files": pl.List(pl.Struct({"file": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64}))}
STAGE = "listing"  # discovery saves its listing as the stage frame listing-<share>-<chunk>.parquet


def listing_frame(share: str | Iterable[str], rel_paths: Iterable[str], rows: Iterable[list | None],
                  walk: str | Iterable[str | None] | None = None) -> pl.DataFrame:
    """:data:`LISTING_SCHEMA` from each folder's :func:`mass_ingest.walk.fingerprint` rows (or None).

    ``share`` and ``walk``: one value for every folder, or one per folder. The files go to arrow as three
    flat columns and each folder's offset into them: no object per file (100,000 folders hold millions).
    """
    rel_paths = list(rel_paths)
    n = len(rel_paths)
    shares = [share] * n if isinstance(share, str) else list(share)
    walks = [walk] * n if walk is None or isinstance(walk, str) else list(walk)
    names: list[str] = []
    sizes: list[int] = []
    times: list[int] = []
    offsets, missing = [0], []
    for folder in rows:
        missing.append(folder is None)  # a folder matched but not described: its list is null
        for name, size, mtime_ns in folder or ():
            names.append(name)
            sizes.append(size)
            times.append(mtime_ns)
        offsets.append(len(names))
    files = pa.StructArray.from_arrays([pa.array(names, pa.large_string()), pa.array(sizes, pa.int64()),
                                        pa.array(times, pa.int64())], names=["file", "size", "mtime_ns"])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), files, mask=pa.array(missing, pa.bool_()))
    return pl.DataFrame({"share": shares, "rel_path": rel_paths, "walk": walks, "files": pl.from_arrow(lists)},
                        schema=LISTING_SCHEMA)


def saved_listing(folder: Path, columns: list[str] | None = None) -> pl.DataFrame | None:
    """Every listing saved in an ingest's run folder (only ``columns`` when given), or None when discovery saved
    none there."""
    parts = sorted(folder.glob(f"{STAGE}-*.parquet"))
    return pl.concat([pl.read_parquet(p, columns=columns) for p in parts]) if parts else None
