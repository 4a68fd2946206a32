"""Candidate frames as JSON straight from polars: what ``discover --json`` and ``validate --json`` print.

Turning a frame of a million-file share back into pydantic models and encoding them with
``json.dumps`` cost more than the walk itself; polars writes each row as one JSON object in
native code. The values are those ``SessionCandidate.model_dump(mode="json")`` gives (times as
ISO 8601 text, findings' severity by name), in the model's field order after ``session_id``.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import sys
from collections.abc import Iterable
from typing import IO

import polars as pl

from mass_ingest.candidates import SessionCandidate
from mass_ingest.findings import Finding


def _iso(column: pl.Expr) -> pl.Expr:
    """A datetime as pydantic writes it: seconds, and microseconds only when there are any."""
    return (pl.when(column.dt.microsecond() == 0).then(column.dt.strftime("%Y-%m-%dT%H:%M:%S"))
            .otherwise(column.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")))


def _findings(column: pl.Expr, stored: pl.Struct) -> pl.Expr:
    """Each finding with every field of :class:`Finding`, in its order; those the frame does not keep
    (``record_version``, ``origin``) at their defaults, as the model fills them in."""
    kept = {f.name for f in stored.fields}
    fields = [pl.element().struct.field(name) if name in kept else pl.lit(info.default).alias(name)
              for name, info in Finding.model_fields.items()]
    return column.list.eval(pl.struct(fields))


def candidate_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's columns as ``discover --json`` shows a candidate: ``session_id``, then the model's fields."""
    columns = ["session_id", *SessionCandidate.model_fields]
    return frame.select(columns).with_columns(
        _iso(pl.col("session_start")),
        pl.col("probes").list.eval(pl.element().struct.with_fields(_iso(pl.field("file_create_time")))),
        _findings(pl.col("findings"), frame.schema["findings"].inner))


def write_document(out: IO[str], head: dict, key: str, parts: Iterable[pl.DataFrame]) -> None:
    """``{**head, key: [rows of every frame in parts]}`` written to ``out`` without building it in memory.

    ``head`` is encoded by ``json``; the rows, JSON-ready frames (see :func:`candidate_rows`), by
    polars, a frame at a time, one object per line.
    """
    opening = json.dumps(head, default=str)
    out.write(opening[:-1] + (", " if head else "") + json.dumps(key) + ": [\n")
    raw = _utf8_buffer(out)
    if raw is not None:
        out.flush()
    first = True
    for frame in parts:
        if frame.is_empty():
            continue
        # One object per line; a newline inside a value is escaped, so every newline ends a row.
        if raw is None:
            text = frame.write_ndjson().rstrip("\n").replace("\n", ",\n")
            out.write(text if first else ",\n" + text)
        else:  # polars' UTF-8 bytes as they are: not decoded to text and encoded back (25 MB: ~0.06 s)
            buffer = io.BytesIO()
            frame.write_ndjson(buffer)
            rows = buffer.getvalue().rstrip(b"\n").replace(b"\n", b",\n")
            raw.write(rows if first else b",\n" + rows)
        first = False
    if raw is not None:
        raw.flush()
    out.write("\n]}\n")


def _utf8_buffer(out: IO[str]) -> IO[bytes] | None:
    """The byte stream below ``out`` when it is this process's standard output and text written to it would
    reach it unchanged (UTF-8, newlines not translated), else None."""
    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if out is not sys.stdout or buffer is None or not encoding or os.linesep != "\n":
        return None
    try:
        return buffer if codecs.lookup(encoding).name == "utf-8" else None
    except LookupError:
        return None
