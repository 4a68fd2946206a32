"""What still needs a person, per session, read back from the database.

Inferred tasks to confirm (and their arenas), clustering candidates without curator or
curation time, and recordings without a probe (with why the serial and the profile's map did
not decide). Published per ingest by tasks/followup.py; printed by ``mass-ingest todo``.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import session_id
from mass_ingest.db import schema
from mass_ingest.probe_association import ProbeIndex

FOLLOWUP_SCHEMA = {"session_id": pl.String, "subject": pl.String, "session_start": pl.Datetime("us"),
                   "need": pl.String, "item": pl.String, "detail": pl.String}


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
        found = (_scope(recordings, None, subject) - schema.Session.ProbeAssociation).to_dicts()
    else:  # the sessions it inserted, and recordings it added to others
        found = [r for via in (schema.Session, schema.Session.AddedRecording)
                 for r in (_scope(recordings, ingest_id, subject, via=via) - schema.Session.ProbeAssociation)
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
