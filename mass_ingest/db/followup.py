"""What still needs a person after insertion, read from the database, and a person's entry of it.

The list is computed from what the pipeline holds, per session (``need``: ``item``):

- ``task``: a task inferred from sessions.txt whose timing a person has not confirmed (``1. run``);
  or, for a session with no inferred task at all (imaging, no sessions.txt), ``tasks``: enter them;
- ``arena``: an inferred task's arena (``1. run``), or the session's (``arena``) when it has no task;
- ``start time``: a start inferred from the files of a date-only folder, to confirm;
- ``clustering``: a Kilosort output without curator and curation time;
- ``probe association``: a probe recording neither its serial nor the profile's map tied to a probe;
- ``subject``: a subject an ingest created (imaging), whose details a person enters.

Each item has a stable ``item_id``. :func:`complete_item` records that a person did it (who, when,
what they entered) in ``FollowUpDone`` and, where the pipeline has a place for the value, puts it
there (a task confirmed, an arena, a clustering's curator and time, a probe). Done items leave the list.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import datetime

import datajoint as dj
import polars as pl

from mass_ingest.candidates import session_id
from mass_ingest.db import schema
from mass_ingest.db.antijoin import without
from mass_ingest.db.bulk import plain_rows
from mass_ingest.errors import MassIngestError
from mass_ingest.probe_association import ProbeIndex

FOLLOWUP_SCHEMA = {"item_id": pl.String, "session_id": pl.String, "subject": pl.String,
                   "session_start": pl.Datetime("us"), "need": pl.String, "item": pl.String, "detail": pl.String}
NEEDS = ("task", "arena", "start time", "clustering", "probe association", "subject")
SESSION_TASKS, SESSION_ARENA = "tasks", "arena"  # items of a session without an inferred task
_BATCH = 20_000  # follow-up rows turned into a frame at a time
_PAGE = 20_000  # rows of a large table read at a time
_PAGE_SUBJECTS = 500  # subjects a page names at most: each is a term of its query's restriction


class FollowupError(MassIngestError):
    """A follow-up item cannot be completed as asked: unknown or ambiguous id, or a value it cannot take."""


def item_id(subject: str, session_start: datetime | None, need: str, item: str) -> str:
    """Stable id of an item: a short hash of its session (or subject), need and item."""
    when = session_start.isoformat() if session_start else ""
    return hashlib.sha1("\0".join((subject, when, need, item)).encode()).hexdigest()[:16]


def _scope(table, ingest_id: str | None, subject: str | None, *, via=None):
    """``table`` restricted to one subject, or to what one ingest inserted (directly, or through ``via``,
    a table that carries the ingest id). Dicts only, and only on attributes the table has."""
    if subject is not None:
        table = table & {"subject": subject}
    if ingest_id is not None:
        table = table & (via & {"ingest_id": ingest_id}).proj() if via is not None else table & {"ingest_id": ingest_id}
    return table


def _row(subject: str, start: datetime | None, need: str, item: str, detail: str) -> dict:
    return {"subject": subject, "session_start": start, "need": need, "item": item, "detail": detail}


def _in_pages(table, *attributes: str) -> Iterator[dict]:
    """The rows of ``table`` (its key and ``attributes``) one at a time in key order, fetched for a few subjects at a
    time, about :data:`_PAGE` rows: a 100,000-session ingest has some 300,000 tasks, and one fetch held them all at
    once, as the driver's rows and as DataJoint's dicts (~300 MB; the items' order is :func:`followup_frame`'s).

    Pages are whole subjects, not offsets: an item completed (or added) while the pages are read moves no other row
    from one page to the next, so none is skipped or listed twice."""
    table = table.proj(*attributes)
    per_subject = dj.U("subject").aggr(table, rows="count(*)").to_dicts(order_by="subject")
    page: list[dict] = []
    rows = 0
    for subject in per_subject:
        if page and (rows + subject["rows"] > _PAGE or len(page) >= _PAGE_SUBJECTS):
            yield from plain_rows(table & page)
            page, rows = [], 0
        page.append({"subject": subject["subject"]})
        rows += subject["rows"]
    if page:
        yield from plain_rows(table & page)


def _task_rows(ingest_id: str | None, subject: str | None) -> Iterator[dict]:
    tasks = _scope(schema.Session.Task, ingest_id, subject) & [{"confirmed": False}, {"arena": ""}]
    for t in _in_pages(tasks, "task", "task_type", "start_s", "stop_s", "arena", "confirmed"):
        stop = "?" if t["stop_s"] is None else f"{t['stop_s']:g}"
        what = f"{t['task_type'] or 'task'} {t['start_s']:g}-{stop} s, inferred from sessions.txt"
        item = f"{t['task_order']}. {t['task']}"
        if not t["confirmed"]:
            yield _row(t["subject"], t["session_start"], "task", item, f"{what}: confirm its timing")
        if not t["arena"]:
            yield _row(t["subject"], t["session_start"], "arena", item, f"{what}: enter its arena")


def _untasked_rows(ingest_id: str | None, subject: str | None) -> list[dict]:
    """Sessions with no inferred task (no sessions.txt; imaging): their tasks and arena, naming the recordings."""
    # Only the scope's sessions without a task, and only their recordings, are read (NOT EXISTS and a
    # semi-join): reading every task and recording of the pipeline grew with the pipeline.
    untasked = without(_scope(schema.Session, ingest_id, subject), schema.Session.Task)
    sessions = untasked.proj("modality").to_dicts()
    if not sessions:
        return []
    restriction = untasked.proj()
    recordings: dict[tuple, list[str]] = {}
    for r in (schema.Session.SystemRecording & restriction).proj().to_dicts(order_by=["system", "recording"]):
        recordings.setdefault((r["subject"], r["session_start"]), []).append(f"{r['recording']} ({r['system']})")
    for r in (schema.Session.Recording & restriction).proj().to_dicts(order_by=["recording"]):
        recordings.setdefault((r["subject"], r["session_start"]), []).append(f"{r['recording']} (neuropixels)")
    rows = []
    for s in sessions:
        key = (s["subject"], s["session_start"])
        named = recordings.get(key, [])
        of = f"recordings {', '.join(named)}" if named else "no recordings stored"
        rows.append(_row(*key, "task", SESSION_TASKS,
                         f"{s['modality']} session, no task inferred (no sessions.txt; {of}): enter its tasks "
                         "and their timings"))
        rows.append(_row(*key, "arena", SESSION_ARENA, f"{s['modality']} session: enter its arena(s)"))
    return rows


def _start_rows(ingest_id: str | None, subject: str | None) -> list[dict]:
    inferred = _scope(schema.Session.InferredStart, ingest_id, subject, via=schema.Session)
    return [_row(r["subject"], r["session_start"], "start time", "session start",
                 f"start {r['session_start']:%Y-%m-%d %H:%M:%S} inferred"
                 + (f" from {r['inferred_from']}" if r["inferred_from"] else " from its files")
                 + " (the folder names only the date): confirm it")
            for r in inferred.to_dicts(order_by=["subject", "session_start"])]


def _clustering_rows(ingest_id: str | None, subject: str | None) -> Iterator[dict]:
    clusterings = _scope(schema.Session.Clustering, ingest_id, subject, via=schema.Session.Output)
    open_ = clusterings & [{"curator": None}, {"curation_time": None}]
    return (_row(c["subject"], c["session_start"], "clustering", c["output_path"],
                 f"spike sorting of {c['recording'] or 'the session'}: enter the curator and the curation time")
            for c in _in_pages(open_, "recording"))


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
    return [_row(r["subject"], r["session_start"], "probe association", r["recording"],
                 index.associate(r["subject"], r["recording"], r["serial"], mapping).reason)
            for r in found]


def _subject_rows(ingest_id: str | None, subject: str | None) -> list[dict]:
    created = _scope(schema.CreatedSubject, ingest_id, subject)
    return [_row(r["subject"], None, "subject", r["subject"],
                 f"created by ingest {r['ingest_id']} for its imaging sessions: enter its details (sex, birth date, "
                 "genotype, ...) in the pipeline")
            for r in created.to_dicts(order_by=["subject"])]


def _done_ids() -> set[str]:
    # People enter these one by one: a small table, read whole.
    return {r["item_id"] for r in schema.FollowUpDone.proj().to_dicts()}


def followup_frame(*, ingest_id: str | None = None, subject: str | None = None,
                   probe_association: dict[str, dict[str, str]] | None = None) -> pl.DataFrame:
    """What still needs manual entry (:data:`FOLLOWUP_SCHEMA`), for one ingest's sessions, one subject, or all.

    ``probe_association``: the profile's map, to say why it did not decide a probe (when known).
    Items a person completed (``FollowUpDone``) are left out.
    """
    schema.activate()
    rows = itertools.chain(_task_rows(ingest_id, subject), _untasked_rows(ingest_id, subject),
                           _start_rows(ingest_id, subject), _clustering_rows(ingest_id, subject),
                           _probe_rows(ingest_id, subject, probe_association or {}), _subject_rows(ingest_id, subject))
    done = _done_ids()
    frames, kept = [], []
    for row in rows:
        row["item_id"] = item_id(row["subject"], row["session_start"], row["need"], row["item"])
        if row["item_id"] in done:
            continue
        row["session_id"] = session_id(row["subject"], row["session_start"]) if row["session_start"] else row["subject"]
        kept.append(row)
        if len(kept) >= _BATCH:  # to columns as they come: a dict per item of a large ingest is most of its memory
            frames.append(pl.DataFrame(kept, schema=FOLLOWUP_SCHEMA, orient="row"))
            kept = []
    frames.append(pl.DataFrame(kept, schema=FOLLOWUP_SCHEMA, orient="row") if kept
                  else pl.DataFrame(schema=FOLLOWUP_SCHEMA))
    return _sorted(frames)


def _sorted(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """``frames`` (emptied) as one frame sorted by subject, session start, need and item, ties in their order.

    Gathered a column at a time, each column let go once gathered: sorting the whole frame held two copies of
    the items (650,000 at 100,000 sessions, ~110 MB each), the highest memory of the follow-up stage.
    """
    items = pl.concat(frames, rechunk=False)  # the frames' own memory, no copy
    frames.clear()
    order = items.select(pl.arg_sort_by("subject", "session_start", "need", "item", maintain_order=True,
                                        nulls_last=False)).to_series()
    columns = []
    for name in items.columns:
        columns.append(items.get_column(name).gather(order))
        items = items.drop(name)
    return pl.DataFrame(columns, schema=FOLLOWUP_SCHEMA)


def followup_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Per need (task, clustering, probe, ...): how many items (``len``) in how many sessions."""
    return frame.group_by("need").agg(pl.len(), pl.col("session_id").n_unique().alias("sessions")).sort("need")


def _find(item: str, subject: str | None) -> dict:
    frame = followup_frame(subject=subject)
    found = frame.filter(pl.col("item_id").str.starts_with(item.strip().lower()))
    if found.is_empty():
        raise FollowupError(f"no open follow-up item {item!r}; `mass-ingest todo` lists the open ones with their id "
                            "(a done item leaves the list)")
    if found.height > 1:
        raise FollowupError(f"{item!r} starts {found.height} item ids ({', '.join(found['item_id'].head(5))}); give "
                            "more of the id")
    return found.row(0, named=True)


def _parse_clustering(value: str) -> tuple[str, datetime]:
    curator, _, when = (v.strip() for v in value.partition(","))
    try:
        time = datetime.fromisoformat(when)
    except ValueError:
        time = None
    if not curator or time is None:
        raise FollowupError(f"a clustering takes 'CURATOR, CURATION TIME', e.g. 'Ada, 2024-06-02 14:00'; got {value!r}")
    return curator, time


def _apply(row: dict, value: str) -> None:
    """Put ``value`` where the pipeline keeps it (inside the caller's transaction)."""
    key = {"subject": row["subject"], "session_start": row["session_start"]}
    need, item = row["need"], row["item"]
    if need in ("task", "arena") and item not in (SESSION_TASKS, SESSION_ARENA):
        task = {**key, "task_order": int(item.split(".", 1)[0])}
        if need == "task":
            if value:
                raise FollowupError(f"a task's timing is confirmed, not entered (item {row['item_id']}); mark it done "
                                    "without a value")
            schema.Session.Task.update1({**task, "confirmed": True})
        else:
            if not value:
                raise FollowupError(f"an arena needs its name: --value ARENA (item {row['item_id']})")
            if len(value) > 64:
                raise FollowupError(f"an arena name has at most 64 characters; {value!r} has {len(value)}")
            schema.Session.Task.update1({**task, "arena": value})
    elif need == "clustering":
        curator, time = _parse_clustering(value)
        for c in (schema.Session.Clustering & {**key, "output_path": item}).proj().to_dicts():
            schema.Session.Clustering.update1({**c, "curator": curator[:128], "curation_time": time})
    elif need == "probe association":
        if not value:
            raise FollowupError(f"a probe association needs the probe's name: --value PROBE (item {row['item_id']})")
        if not schema.Probe & {"probe": value}:
            raise FollowupError(f"no probe {value!r} in the pipeline; import it with `mass-ingest subjects import` "
                                "or check its name")
        session = (schema.Session & key).fetch1("ingest_id")
        schema.Session.ProbeAssociation.insert1({**key, "recording": item, "probe": value, "decided_by": "person",
                                                 "ingest_id": session})
    elif need == "arena":  # a session without tasks: its arena is kept with the done item (FollowUpDone.value)
        if not value:
            raise FollowupError(f"an arena needs its name: --value ARENA (item {row['item_id']})")
    elif need == "start time" and value:
        raise FollowupError("an inferred start is confirmed, not changed here (it is part of the session's key); "
                            "if it is wrong, undo the ingest and name the time in the folder")


def complete_item(item: str, done_by: str, value: str = "", *, subject: str | None = None) -> dict:
    """Record that ``done_by`` did the open follow-up item whose id starts with ``item``, entering ``value``.

    Returns the item (a row of :func:`followup_frame`). Raises :class:`FollowupError` for an unknown or
    ambiguous id, or a value the item cannot take; then nothing is written.
    """
    if not done_by.strip():
        raise FollowupError("say who did it (--by NAME)")
    if len(value) > 2000:
        raise FollowupError(f"a value has at most 2000 characters; this one has {len(value)}")
    row = _find(item, subject)
    with schema.FollowUpDone.connection.transaction:
        _apply(row, value.strip())
        schema.FollowUpDone.insert1({"subject": row["subject"], "item_id": row["item_id"],
                                     "session_start": row["session_start"], "need": row["need"],
                                     "item": row["item"][:255], "value": value.strip(), "done_by": done_by.strip()[:128],
                                     "done_at": datetime.now().replace(microsecond=0)})
    return row


def done_items(subject: str | None = None) -> pl.DataFrame:
    """Completed items: who did what, when, with the value entered."""
    schema.activate()
    table = schema.FollowUpDone & ({"subject": subject} if subject is not None else {})
    return table.to_polars() if len(table) else pl.DataFrame(
        schema={"subject": pl.String, "item_id": pl.String, "session_start": pl.Datetime("us"), "need": pl.String,
                "item": pl.String, "value": pl.String, "done_by": pl.String, "done_at": pl.Datetime("us")})
