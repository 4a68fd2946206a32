"""One session's data never stops the others (issue 13, item 1), on the embedded database.

Values the schema cannot hold are found before the transaction (with the value and the limit);
what the database still refuses is bisected down to the one session responsible. Frames go
through dedup and the approver's decision first, as in a run.
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import pytest

from mass_ingest.candidates import ProbeRecording, SessionCandidate, candidates_to_frame
from mass_ingest.db import limits, schema
from mass_ingest.db.runs import Decision, record_quarantine
from mass_ingest.profile import Share
from tasks.approve import apply_decision
from mass_ingest.dedup import deduplicate, fetch_existing_sessions
from mass_ingest.chunk_outcome import ChunkOutcome
from mass_ingest.findings_file import ingest_findings, read_findings, write_findings
from mass_ingest.db.insertion import insert_isolated, table_for
from mass_ingest.session_rows import select_for_insertion

pytestmark = pytest.mark.usefixtures("clean_database")

N = Share(name="N", root="/mnt/N", aliases=["N:/"], layouts=[{"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}])
SUBJECT = "25843"


def candidate(day: int, folder: str = "probe_1", serial: str = "18408403232", rel: str | None = None,
              **probe: object) -> SessionCandidate:
    start = datetime(2024, 3, day, 10, 30, 58)
    rel = rel or f"recordings/{SUBJECT}/{start:%Y-%m-%d_%H-%M-%S}"
    return SessionCandidate(
        share="N", rel_path=rel, location=f"/mnt/n/{rel}".lower(), subject=SUBJECT, session_start=start,
        probes=[ProbeRecording(folder=folder, meta_file=f"{folder}/npx.imec.ap.meta", serial=serial,
                               **probe)])


def approved(candidates: list[SessionCandidate]) -> pl.DataFrame:
    frame = deduplicate(candidates_to_frame(candidates), fetch_existing_sessions(), [N])
    frame = frame.with_columns(pl.when(pl.col("status") == "new").then(pl.lit("ready"))
                               .otherwise(pl.col("status")).alias("status"))
    return select_for_insertion(apply_decision(frame, Decision(approved=True, approver="Ada", source="cli")))


@pytest.fixture(autouse=True)
def subject_and_run(clean_database):
    schema.Subject.insert1({"subject": SUBJECT})
    schema.IngestRun.insert1({"ingest_id": "run-1", "profile_name": "test", "profile_hash": "0" * 16,
                              "status": "approved", "started_at": datetime(2024, 6, 1)})


def stored_days() -> list[int]:
    return sorted(r["session_start"].day for r in schema.Session.proj().to_dicts())


class TestSchemaLimits:
    def test_the_limits_are_read_from_the_tables_headings(self) -> None:
        directory = limits.limits(schema.Session.Directory)
        recording = limits.limits(schema.Session.Recording)
        assert (directory["rel_path"].max_chars, directory["session_group"].has_default) == (1000, True)
        assert (recording["recording"].max_chars, recording["n_saved_chans"].int_range) == \
            (255, (-2 ** 31, 2 ** 31 - 1))
        assert not directory["location"].nullable and recording["serial"].nullable

    def test_a_session_with_a_value_too_long_is_left_out_with_the_value_and_the_limit(self) -> None:
        long_folder = "p" * 300  # a probe folder name longer than Recording.recording's varchar(255)
        frame = approved([candidate(1), candidate(2, folder=long_folder), candidate(3)])
        outcome = insert_isolated(frame, timezone="Europe/Oslo", ingest_id="run-1")
        assert (outcome.inserted, stored_days()) == (2, [1, 3])
        [left_out] = outcome.quarantined
        assert left_out.rel_path == "recordings/25843/2024-03-02_10-30-58"
        # Every row that would carry it is named (Recording, and the tables keyed by it, such as ProbeFiles).
        assert left_out.reasons[0].startswith("INSERT.SCHEMA_LIMIT: Recording: recording 'pppp")
        assert all("has 300 characters; varchar(255) holds at most 255" in r for r in left_out.reasons)
        # Each reason is a finding of the insert stage on that session, as the other stages' are.
        assert {(f.code, f.stage, f.share, f.path, f.severity.name) for f in left_out.findings} == \
            {("INSERT.SCHEMA_LIMIT", "insert", "N", "recordings/25843/2024-03-02_10-30-58", "ERROR")}
        assert left_out.reasons == [f"{f.code}: {f.message}" for f in left_out.findings]

    @pytest.mark.parametrize(("probe", "says"), [
        ({"n_saved_chans": 2 ** 40}, "n_saved_chans 1099511627776 is outside int32's range"),
        ({"sample_rate": float("nan")}, "sample_rate is nan, not a finite number"),
        ({"serial": "1" * 40}, "serial '1111111111111111111111111111111111111111' has 40 characters; "
                               "varchar(32) holds at most 32"),
        ({"serial": "18408\x0003232"}, "contains a NUL character"),
    ])
    def test_each_kind_of_limit(self, probe: dict, says: str) -> None:
        fields = {"serial": probe.pop("serial")} if "serial" in probe else {}
        outcome = insert_isolated(approved([candidate(1, **fields, **probe), candidate(2)]),
                                  timezone="Europe/Oslo", ingest_id="run-1")
        assert (outcome.inserted, stored_days()) == (1, [2])
        assert says in outcome.quarantined[0].reasons[0]


    def test_a_null_or_a_missing_value_where_the_column_requires_one(self) -> None:
        key = {"subject": SUBJECT, "recording": "probe_1"}
        rows = {"Recording": [{**key, "session_start": datetime(2024, 3, 1), "meta_file": None},
                              {**key, "session_start": datetime(2024, 3, 2)}]}
        found = limits.violations(rows, table_for, lambda r: r["session_start"].day)
        assert found == {1: ["Recording: meta_file is empty (NULL), but varchar(1000) requires a value"],
                         2: ["Recording: meta_file is missing, but varchar(1000) requires a value"]}


class TestBisection:
    def test_what_the_database_still_refuses_is_bisected_to_the_session_responsible(self) -> None:
        # A rule only the database knows (a CHECK constraint added here, as a lab's DBA might): every value
        # fits its column, so only the database refuses that session, and only that session is left out.
        sessions = [candidate(day) for day in range(1, 8)]
        table = schema.Session.Directory.full_table_name
        schema.Session.connection.query(f"ALTER TABLE {table} ADD CONSTRAINT no_day_4 "
                                        "CHECK (strpos(rel_path, '2024-03-04') = 0)")
        try:
            outcome = insert_isolated(approved(sessions), timezone="Europe/Oslo", ingest_id="run-1")
        finally:
            schema.Session.connection.query(f"ALTER TABLE {table} DROP CONSTRAINT no_day_4")
        assert (outcome.inserted, stored_days()) == (6, [1, 2, 3, 5, 6, 7])
        [left_out] = outcome.quarantined
        assert left_out.rel_path == "recordings/25843/2024-03-04_10-30-58"
        assert left_out.reasons[0].startswith("INSERT.REFUSED: the database refused this session's rows (")
        assert "no_day_4" in left_out.reasons[0]
        [refused] = left_out.findings
        assert (refused.code, refused.stage, refused.path) == ("INSERT.REFUSED", "insert", left_out.rel_path)
        assert "no_day_4" in refused.message and "run the profile again" in refused.message

    def test_the_outcome_is_json_for_the_stage_cache(self) -> None:
        outcome = insert_isolated(approved([candidate(1, folder="p" * 300)]), timezone="Europe/Oslo",
                                  ingest_id="run-1")
        assert outcome.quarantined[0].findings  # the findings go through the cache too
        assert ChunkOutcome.model_validate_json(outcome.model_dump_json()) == outcome

    def test_sessions_left_out_at_insertion_are_lines_of_the_findings_file(self, tmp_path) -> None:
        outcome = insert_isolated(approved([candidate(1, folder="p" * 300), candidate(2)]),
                                  timezone="Europe/Oslo", ingest_id="run-1")
        findings = ingest_findings([], [], pl.DataFrame(), [outcome])
        path = write_findings(tmp_path / "findings.jsonl", findings)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines and {(d["code"], d["stage"], d["severity"], d["path"]) for d in lines} == \
            {("INSERT.SCHEMA_LIMIT", "insert", "ERROR", "recordings/25843/2024-03-01_10-30-58")}
        assert lines == [f.model_dump(mode="json") for f in outcome.quarantined[0].findings]
        assert read_findings(path) == outcome.quarantined[0].findings


class TestQuarantineList:
    def test_values_too_long_for_the_list_are_shortened_and_said_so(self) -> None:
        subject = "s" * 200  # a 200-character subject folder: its session id overflows varchar(128)
        record_quarantine("run-1", [{"candidate_id": "0" * 16, "share": "N", "rel_path": f"recordings/{subject}/x",
                                     "session_id": f"{subject}/2024-03-01_10-30-58",
                                     "quality_reasons": ["subject not known"]}])
        [row] = schema.Quarantine.to_dicts()
        assert len(row["session_id"]) == 128 and row["session_id"].endswith("…")
        assert row["reasons"][0] == "subject not known"
        assert row["reasons"][1].startswith("QUARANTINE: session_id has 220 characters, more than the 128")
