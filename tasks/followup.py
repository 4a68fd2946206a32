"""After insertion: publish what still needs a person (mass_ingest/db/followup.py reads it).

Tasks to confirm and arenas to enter (for every modality), inferred start times, clustering
candidates without curator or curation time, recordings without a probe, and subjects the ingest
created. The flow publishes it for its ingest as a Prefect table and markdown artifact and as
``followup.csv`` in the run's folder; ``mass-ingest todo`` prints it and records what a person did.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from mass_ingest.approval_summary import markdown_table
from mass_ingest.db.followup import followup_counts, followup_frame
from mass_ingest.stage_cache import run_dir

ARTIFACT_ROWS = 1000  # the CSV holds every row; the Prefect table the first ones


def followup_markdown(frame: pl.DataFrame, csv_path: Path, ingest_id: str) -> str:
    if frame.is_empty():
        return f"# Follow-up of ingest `{ingest_id}`\n\nNothing needs manual entry.\n"
    per_need = followup_counts(frame).rename({"len": "items"})
    return (f"# Follow-up of ingest `{ingest_id}`\n\n"
            f"{frame.height} items in {frame['session_id'].n_unique()} sessions need a person. "
            f"The whole list: `{csv_path}`; `mass-ingest todo --subject S` prints it from the database.\n\n"
            + markdown_table(per_need, ["need", "items", "sessions"], "needs"))


def publish_followup(ingest_id: str, probe_association: dict[str, dict[str, str]] | None = None) -> Path:
    """Write ``followup.csv`` in the run's folder and publish it as Prefect artifacts; return the CSV's path."""
    frame = followup_frame(ingest_id=ingest_id, probe_association=probe_association)
    path = run_dir(ingest_id) / "followup.csv"
    frame.write_csv(path)
    create_markdown_artifact(key="followup-summary", markdown=followup_markdown(frame, path, ingest_id),
                             description=f"What ingest {ingest_id} left for a person")
    if not frame.is_empty():
        table = frame.head(ARTIFACT_ROWS).with_columns(pl.col("session_start").dt.to_string("%Y-%m-%d %H:%M:%S"))
        create_table_artifact(key="followup", table=table.to_dicts(),
                              description=f"Manual entry per session (first {ARTIFACT_ROWS}; all in {path})")
    return path


@task(name="publish-followup")
def publish_followup_task(ingest_id: str, probe_association: dict[str, dict[str, str]] | None = None) -> str:
    return str(publish_followup(ingest_id, probe_association))
