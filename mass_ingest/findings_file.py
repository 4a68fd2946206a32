"""Every finding of one ingest as JSON Lines: ``$MASS_INGEST_HOME/runs/<ingest id>/findings.jsonl``.

One :class:`~mass_ingest.findings.Finding` per line, as ``model_dump(mode="json")`` gives it (dandi-cli keeps
its validation results the same way, dandi/dandi-cli:dandi/validate/_io.py), from every stage: the access
check, discovery (the share's own findings and each candidate's), the quality suites and insertion. The file
is rewritten whole each time, never appended to: a resumed run of the ingest writes what the ingest found,
with no line twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from mass_ingest import settings
from mass_ingest.access import ShareAccess
from mass_ingest.chunk_outcome import ChunkOutcome
from mass_ingest.expectations.verdicts import QUALITY_ORIGIN
from mass_ingest.findings import Finding, Stage
from mass_ingest.stage_cache import StageFrame, run_dir, storage_error

FILE_NAME = "findings.jsonl"


def findings_path(ingest_id: str) -> Path:
    """Where ingest ``ingest_id`` keeps its findings (the file may not exist yet: nothing is created here)."""
    return settings.home() / "runs" / ingest_id / FILE_NAME


def candidate_findings(frame: pl.DataFrame) -> list[Finding]:
    """Every finding in a candidate frame's ``findings`` column, in row order; a failed expectation's
    names the quality suite as its origin, as the quality report's do."""
    if frame.is_empty() or "findings" not in frame.columns:
        return []
    found = frame.select(pl.col("findings").explode().drop_nulls())["findings"].to_list()
    return [Finding.model_validate({**f, "origin": QUALITY_ORIGIN} if f["stage"] == Stage.QUALITY else f)
            for f in found]


def ingest_findings(access: Iterable[ShareAccess], discovered: Iterable[StageFrame], frame: pl.DataFrame,
                    chunks: Iterable[ChunkOutcome] = ()) -> list[Finding]:
    """An ingest's findings in stage order: access, the shares' own, the candidates' (discovery and quality),
    then the sessions insertion left out."""
    return [*(a.finding for a in access if a.finding), *(f for d in discovered for f in d.findings),
            *candidate_findings(frame), *(f for c in chunks for q in c.quarantined for f in q.findings)]


def write_findings(path: Path, findings: Iterable[Finding]) -> Path:
    """``findings`` as JSON Lines at ``path``, replacing what was there in one step (a reader, or a crash,
    never sees half a file)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            for f in findings:
                out.write(f.model_dump_json() + "\n")  # JSON escapes newlines: one line per finding
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, path, "writing the findings of the ingest") from exc
    return path


def record_findings(ingest_id: str, findings: Iterable[Finding]) -> Path:
    """Write ingest ``ingest_id``'s findings to its run folder; return the file."""
    return write_findings(run_dir(ingest_id) / FILE_NAME, findings)


def read_findings(path: Path) -> list[Finding]:
    """The findings a :func:`write_findings` file holds."""
    return [Finding.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
