"""Persisted stage results, so an interrupted ingest resumes where it stopped.

Stage tasks key on their inputs and source (``tasks.STAGE_CACHE``) and persist a small JSON
result. The frame itself is written as parquet beside it: readable by any tool, unlike a
pickle. A completed ingest gets a new ingest id next time, so a re-scan discovers afresh.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest import settings
from mass_ingest.errors import StorageError
from mass_ingest.findings import Finding


def storage_error(exc: OSError, path: Path, doing: str) -> StorageError:
    """What happened, where, and what to do, for a failed write of this tool's own files."""
    where = f"{path} (MASS_INGEST_HOME is {settings.home()})"
    if exc.errno == errno.ENOSPC:
        what = f"no space left on the device holding {where}"
        fix = "free space there (or point MASS_INGEST_HOME at a larger disk) and run the same profile again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"cannot write {where} ({exc.strerror})"
        fix = "give this user write access there (or set MASS_INGEST_HOME) and run the same profile again"
    else:
        what = f"cannot write {where} ({exc.strerror or exc})"
        fix = "check that folder's disk and run the same profile again"
    return StorageError(f"{what} while {doing}; {fix}: the stages already finished are kept and not redone")


def run_dir(ingest_id: str) -> Path:
    """Where one ingest keeps its stage frames and reports."""
    path = settings.home() / "runs" / ingest_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_docs_dir(ingest_id: str) -> Path:
    """Where the quality stage writes an ingest's Great Expectations Data Docs (``index.html`` in it)."""
    return run_dir(ingest_id) / "data-docs"


ROW_GROUP = 2000  # rows per parquet row group: the default insert chunk (MASS_INGEST_CHUNK_SIZE)

class StageFrame(BaseModel):
    """A stage's output: where its parquet frame is, how many rows, and findings not tied to a row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    rows: int
    findings: list[Finding] = Field(default_factory=list)

    @classmethod
    def save(cls, frame: pl.DataFrame, *, stage: str, ingest_id: str, part: str = "all",
             findings: list[Finding] | None = None) -> "StageFrame":
        target = run_dir(ingest_id) / f"{stage}-{part}.parquet"
        # A temporary name of this writer's own: two runs of one ingest (or two threads) may save the
        # same stage at once, and each must rename its own complete file.
        tmp = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            # Row groups of ROW_GROUP rows: a chunk's load(offset, length) decodes only its own groups
            # (one group of the whole frame made each of 50 insert chunks decode all 100,000 rows).
            frame.write_parquet(tmp, row_group_size=ROW_GROUP)
            os.replace(tmp, target)  # atomic: a crash never leaves half a frame under the real name
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise storage_error(exc, target, f"saving the {stage} stage of ingest {ingest_id}") from exc
        return cls(path=str(target), rows=frame.height, findings=findings or [])

    def load(self, offset: int = 0, length: int | None = None, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame, or only rows ``offset`` to ``offset + length`` (a chunk reads just its own rows); only
        ``columns`` when given (a stage that needs four columns of 100,000 candidates holds those, not ~70 MB)."""
        if offset == 0 and length is None:
            return pl.read_parquet(self.path, columns=columns)
        frame = pl.scan_parquet(self.path)
        return (frame if columns is None else frame.select(columns)).slice(offset, length).collect()
