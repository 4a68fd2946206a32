"""Making subjects and their probe implants known, from the lab's CSV.

The lab's rule: an ephys session can only be ingested once its subject and implanted
probes exist (imaging subjects need not be imported: they are created on insertion). Header:
``subject,probe_name,serial,probe_type,insertion_time``, one row per implanted probe; a row with
all four probe columns empty makes a subject known without probes (labs that pre-register every
animal). The whole file is checked before anything is written; re-importing the same file
changes nothing.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mass_ingest.db import schema
from mass_ingest.errors import SubjectImportError

HEADER = ["subject", "probe_name", "serial", "probe_type", "insertion_time"]


class SubjectImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int
    subjects_added: int
    probes_added: int
    insertions_added: int


def _parse_rows(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SubjectImportError(f"{path}: cannot be read ({exc.strerror})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != HEADER:
        raise SubjectImportError(f"{path}: line 1 must be the header '{','.join(HEADER)}', found "
                                 f"'{','.join(header or [])}'")
    rows, problems = [], []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(HEADER):
            problems.append(f"{path}:{line_no}: expected {len(HEADER)} columns, found {len(cells)}")
            continue
        row = dict(zip(HEADER, (c.strip() for c in cells)))
        row["has_probe"] = any(row[c] for c in HEADER[1:])
        if not row["subject"]:
            problems.append(f"{path}:{line_no}: subject is empty")
        for column in ("probe_name", "serial"):
            if row["has_probe"] and not row[column]:
                problems.append(f"{path}:{line_no}: {column} is empty; give the probe's {column}, or leave all "
                                "four probe columns empty for a subject without probes")
        if row["insertion_time"]:
            try:
                row["insertion_time"] = datetime.fromisoformat(row["insertion_time"])
            except ValueError:
                problems.append(f"{path}:{line_no}: insertion_time '{row['insertion_time']}' is not a date/time "
                                "like 2024-02-27 09:30:00")
        else:
            row["insertion_time"] = None
        rows.append(row)
    if problems:
        raise SubjectImportError("nothing imported; fix these rows:\n" + "\n".join(problems))
    return rows


def import_subjects_csv(path: str | Path) -> SubjectImport:
    """Insert the subjects, probes and implants of a CSV, skipping what is already known."""
    rows = _parse_rows(Path(path))
    schema.activate()
    before = (len(schema.Subject()), len(schema.Probe()), len(schema.ProbeInsertion()))
    with schema.Subject.connection.transaction:
        schema.Subject.insert([{"subject": r["subject"], "source": "subjects-csv"} for r in rows],
                              skip_duplicates=True)
        implants = [r for r in rows if r["has_probe"]]
        schema.Probe.insert([{"probe": r["probe_name"], "serial": r["serial"], "probe_type": r["probe_type"]}
                             for r in implants], skip_duplicates=True)
        schema.ProbeInsertion.insert([{"subject": r["subject"], "probe": r["probe_name"],
                                       "insertion_time": r["insertion_time"]} for r in implants],
                                     skip_duplicates=True)
    after = (len(schema.Subject()), len(schema.Probe()), len(schema.ProbeInsertion()))
    return SubjectImport(rows=len(rows), subjects_added=after[0] - before[0], probes_added=after[1] - before[1],
                         insertions_added=after[2] - before[2])


def implanted_probe_counts() -> dict[str, int]:
    """subject -> number of implanted probes, for every known subject (0 when none)."""
    schema.activate()
    counts = {r["subject"]: 0 for r in schema.Subject.to_dicts()}
    for r in schema.ProbeInsertion.to_dicts():
        counts[r["subject"]] += 1
    return counts


def implanted_serials() -> dict[str, list[str]]:
    """subject -> serials of its implanted probes, for every known subject ([] when none)."""
    schema.activate()
    serials: dict[str, list[str]] = {r["subject"]: [] for r in schema.Subject.to_dicts()}
    for r in (schema.ProbeInsertion * schema.Probe).proj("serial").to_dicts():
        serials[r["subject"]].append(r["serial"])
    return {subject: sorted(values) for subject, values in serials.items()}
