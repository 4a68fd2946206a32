"""After insertion: what still needs a person, per session, read back from the database.

Inferred tasks to confirm (and their arenas), clustering candidates without curator or
curation time, and recordings without a probe (with why the serial and the profile's map did
not decide). The flow publishes it for its ingest as a Prefect table and markdown artifact and as
``followup.csv`` in the run's folder; ``mass-ingest todo`` prints it for a subject or everything.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from mass_ingest.approval_summary import markdown_table
from mass_ingest.candidates import session_id
from mass_ingest.db import schema
from mass_ingest.db.antijoin import without
from mass_ingest.probe_association import ProbeIndex
from mass_ingest.stage_cache import run_dir

FOLLOWUP_SCHEMA = {"session_id": pl.String, "subject": pl.String, "session_start": pl.Datetime("us"),
                   "need": pl.String, "item": pl.String, "detail": pl.String}
ARTIFACT_ROWS = 1000  # the CSV holds every row; the Prefect table the first ones


def _scope(table, ingest_id: str | None, subject: str | None, *, via=None):
    """``table`` restricted to one subject, or to what one ingest inserted (directly, or through ``via``,
    a table that carries the ingest id). Dicts only, and only on attributes the table has."""
    if subject is not None:
        table = table & {"subject": subject}
    if ingest_id is not None:
        table = table & (via & {"ingest_id": ingest_id}).proj() if via is not None else table & {"ingest_id": ingest_id}
    return table


def _task_rows(ingest_id: str | None, subject: str | None) -> list[dict]:
    rows = []
    tasks = _scope(schema.Session.Task, ingest_id, subject)
    for t in (tasks & [{"confirmed": False}, {"arena": ""}]).to_dicts(order_by=["subject", "session_start",
                                                                                "task_order"]):
        stop = "?" if t["stop_s"] is None else f"{t['stop_s']:g}"
        asks = (["confirm it"] if not t["confirmed"] else []) + (["enter its arena"] if not t["arena"] else [])
        rows.append({"subject": t["subject"], "session_start": t["session_start"], "need": "task",
                     "item": f"{t['task_order']}. {t['task']}",
                     "detail": f"{t['task_type'] or 'task'} {t['start_s']:g}-{stop} s, inferred from sessions.txt: "
                     + " and ".join(asks)})
    return rows


def _clustering_rows(ingest_id: str | None, subject: str | None) -> list[dict]:
    clusterings = _scope(schema.Session.Clustering, ingest_id, subject, via=schema.Session.Output)
    open_ = clusterings & [{"curator": None}, {"curation_time": None}]
    return [{"subject": c["subject"], "session_start": c["session_start"], "need": "clustering",
             "item": c["output_path"], "detail": f"spike sorting of {c['recording'] or 'the session'}: enter the "
             "curator and the curation time"}
            for c in open_.to_dicts(order_by=["subject", "session_start", "output_path"])]


def _probe_rows(ingest_id: str | None, subject: str | None, mapping: dict[str, dict[str, str]]) -> list[dict]:
    recordings = schema.Session.Recording
    if ingest_id is None:
        found = without(_scope(recordings, None, subject), schema.Session.ProbeAssociation).to_dicts()
    else:  # the sessions it inserted, and recordings it added to others
        found = [r for via in (schema.Session, schema.Session.AddedRecording)
                 for r in without(_scope(recordings, ingest_id, subject, via=via), schema.Session.ProbeAssociation)
                 .to_dicts()]
    if not found:
        return []
    index = ProbeIndex.fetch({r["subject"] for r in found})
    return [{"subject": r["subject"], "session_start": r["session_start"], "need": "probe association",
             "item": r["recording"], "detail": index.associate(r["subject"], r["recording"], r["serial"], mapping).reason}
            for r in found]


def followup_frame(*, ingest_id: str | None = None, subject: str | None = None,
                   probe_association: dict[str, dict[str, str]] | None = None) -> pl.DataFrame:
    """What needs manual entry (:data:`FOLLOWUP_SCHEMA`), for one ingest's sessions, one subject, or all.

    ``probe_association``: the profile's map, to say why it did not decide a probe (when known).
    """
    schema.activate()
    rows = (_task_rows(ingest_id, subject) + _clustering_rows(ingest_id, subject)
            + _probe_rows(ingest_id, subject, probe_association or {}))
    for row in rows:
        row["session_id"] = session_id(row["subject"], row["session_start"])
    frame = pl.DataFrame(rows, schema=FOLLOWUP_SCHEMA, orient="row") if rows else pl.DataFrame(schema=FOLLOWUP_SCHEMA)
    return frame.sort("subject", "session_start", "need", "item", maintain_order=True)


def followup_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Per need (task, clustering, probe, ...): how many items (``len``) in how many sessions."""
    return frame.group_by("need").agg(pl.len(), pl.col("session_id").n_unique().alias("sessions")).sort("need")


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
