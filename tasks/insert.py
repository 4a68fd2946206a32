"""Stage 6, insertion: the approved sessions, and the chunks they go into the pipeline in.

The rows are built by :mod:`mass_ingest.session_rows` and written, one transaction per chunk, by
:mod:`mass_ingest.db.insertion`; these tasks cache each chunk on its inputs, so a re-run after a crash
skips the chunks already committed.
"""

from __future__ import annotations

import datajoint as dj
from prefect import task
from prefect.runtime import flow_run

from mass_ingest import progress, settings
from mass_ingest.chunk_outcome import ChunkOutcome
from mass_ingest.db.connection import is_connection_error, outage_reported
from mass_ingest.db.insertion import insert_isolated
from mass_ingest.db.runs import record_quarantine
from mass_ingest.session_rows import InsertOptions, select_for_insertion
from mass_ingest.stage_cache import StageFrame
from tasks import STAGE_CACHE


@task(name="approved-sessions")
def approved_sessions_task(decided: StageFrame, ingest_id: str) -> StageFrame:
    """The sessions the decision lets in (:func:`mass_ingest.session_rows.select_for_insertion`), saved once."""
    frame = select_for_insertion(decided.load())
    return StageFrame.save(frame, stage="approved", ingest_id=ingest_id)


def chunk_bounds(rows: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    chunk_size = chunk_size or settings.insert_chunk_size()
    return [(start, min(chunk_size, rows - start)) for start in range(0, rows, chunk_size)]


def _retry_when_redoing_helps(task, task_run, state) -> bool:
    """A lost connection, or a session another run inserted meanwhile: the retry re-checks and goes on."""
    exc = state.result(raise_on_failure=False)
    return is_connection_error(exc) or isinstance(exc, dj.errors.DuplicateError)


@task(name="insert-chunk", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json",
      task_run_name="insert rows {offset}+{length}", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=_retry_when_redoing_helps)
def insert_chunk_task(approved: StageFrame, offset: int, length: int, timezone: str, ingest_id: str,
                      options: InsertOptions | None = None) -> ChunkOutcome:
    """One committed chunk; cached, so a re-run after a crash skips chunks already committed.

    Sessions left out are stored in the Quarantine table before the task returns, so the list is
    kept whatever happens to the rest of the run.
    """
    with outage_reported(f"inserting rows {offset}+{length} of ingest {ingest_id}"):
        outcome = insert_isolated(approved.load(offset, length), timezone=timezone, ingest_id=ingest_id,
                                  options=options)
        record_quarantine(ingest_id, [{**q.model_dump(exclude={"reasons", "findings"}), "quality_reasons": q.reasons}
                                      for q in outcome.quarantined])
    progress.report("insert", offset + length, approved.rows, "insertion", unit="approved sessions")
    outcome.flow_run_id = str(flow_run.get_id() or "")
    return outcome
