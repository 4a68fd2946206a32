"""No input can poison an ingest (issue 13, "done when"): one `run --approve` over a share holding every odd
folder the issue names, beside good sessions and the demo's own messy ones, completes; every good session goes
in, each bad one ends as its case says (quarantined, pending, excluded, a copy) with its reasons and finding
codes on record, no probe is stored twice, and a second run completes inserting 0.

The real command line in a child process, on real files (tests/poison_corpus.py), the embedded database
and the session's Prefect server. Set MASS_INGEST_POISON_TABLE=path.md to also write the outcome table.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from mass_ingest.db import schema
from mass_ingest.stage_cache import run_dir
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import cli, json_out
from tests.poison_corpus import OUTCOMES, Case, build
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]


def session_key(case: Case) -> tuple[str, datetime]:
    _, subject, start = case.rel_path.split("/")
    return subject, datetime.strptime(start, "%Y-%m-%d_%H-%M-%S")


class Record:
    """What one ingest left on record, per (share, folder): its quarantine and pending rows with their reasons
    and codes, the sessions stored, and the status and finding codes of the decided frame (the stage cache)."""

    def __init__(self, ingest_id: str) -> None:
        key = {"ingest_id": ingest_id}
        codes = {r["candidate_id"]: r["codes"] for r in (schema.Quarantine.Codes & key).to_dicts()}
        self.quarantine = {(r["share"], r["rel_path"]): {**r, "codes": codes.get(r["candidate_id"], [])}
                           for r in (schema.Quarantine & key).to_dicts()}
        self.pending = {(r["share"], r["rel_path"]): r for r in (schema.Pending & key).to_dicts()}
        self.stored = {(r["share"], r["rel_path"]): r for r in schema.Session.Directory.to_dicts()}
        decided = pl.read_parquet(run_dir(ingest_id) / "decided-all.parquet")
        self.frame = {(r["share"], r["rel_path"]): (r["status"], {f["code"] for f in r["findings"]})
                      for r in decided.select("share", "rel_path", "status", "findings").iter_rows(named=True)}

    def quarantined(self, case: Case) -> dict | None:
        """Its quarantine row; a rel_path longer than the list's column is stored shortened, ending in '…'."""
        for (share, rel_path), row in self.quarantine.items():
            if share == case.share and (rel_path == case.rel_path or (
                    rel_path.endswith("…") and case.rel_path.startswith(rel_path[:-1]))):
                return row
        return None


def outcome_of(case: Case, record: Record) -> tuple[str, list[str], set[str]]:
    """(what became of the case's folder, its reasons, the finding codes on record for it)."""
    place = (case.share, case.rel_path)
    status, finding_codes = record.frame[place]
    quarantined = record.quarantined(case)
    if quarantined is not None:
        return "quarantined", quarantined["reasons"], set(quarantined["codes"]) | finding_codes
    if place in record.pending:
        return "pending", record.pending[place]["reasons"], finding_codes
    if place in record.stored:
        return "inserted", [], finding_codes
    return status, [], finding_codes


def test_one_run_inserts_every_good_session_and_each_bad_one_ends_with_its_finding(tmp_path: Path) -> None:
    campaign, cases = build(tmp_path / "campaign")
    assert {c.outcome for c in cases} == set(OUTCOMES)
    import_subjects_csv(campaign.subjects_csv)

    first = cli("run", str(campaign.profile_path), "--approve", "--json", timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    counts = json_out(first.stdout)

    good = GOOD_SESSIONS | {session_key(c) for c in cases if c.outcome == "inserted"}
    assert sessions_in_db() == good
    assert counts["inserted"] == counts["inserted_by_this_run"] == len(good)
    record = Record(counts["ingest_id"])
    rows = []
    for case in cases:
        outcome, reasons, codes = outcome_of(case, record)
        assert outcome == case.outcome, (case.name, outcome, reasons)
        said = " | ".join(reasons)
        assert all(words in said for words in case.words), (case.name, said)
        assert set(case.codes) <= codes, (case.name, sorted(codes))
        if outcome == "inserted":  # each probe stored once, keyed by its real folder (no link followed)
            recordings = (schema.Session.Recording & dict(zip(("subject", "session_start"), session_key(case))))
            assert [r["recording"] for r in recordings.to_dicts()] == ["probe_1"], case.name
        rows.append(f"| {case.name} | {', '.join(case.codes) or '-'} | {outcome} |")
    # No probe stored twice anywhere: each (session, .meta) once.
    recordings = schema.Session.Recording.to_dicts()
    assert len({(r["subject"], r["session_start"], r["meta_file"]) for r in recordings}) == len(recordings)

    second = cli("run", str(campaign.profile_path), "--approve", "--json", timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    again = json_out(second.stdout)
    assert (again["inserted"], again["inserted_by_this_run"]) == (0, 0) and again["ingest_id"] != counts["ingest_id"]
    assert sessions_in_db() == good

    table = "| case | finding code | outcome |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    if os.environ.get("MASS_INGEST_POISON_TABLE"):
        Path(os.environ["MASS_INGEST_POISON_TABLE"]).write_text(table)
    print("\n" + table)
