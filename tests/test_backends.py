"""Schema, insertion, dedup and the ingest ledger on whichever database this test session runs on.

By default that is the embedded PostgreSQL; `make test` with MASS_INGEST_TEST_BACKENDS=postgresql,mysql
runs these (and every test marked `backends`) again on the lab-style servers (tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from mass_ingest.candidates import Output, ProbeRecording, SessionCandidate, candidates_to_frame
from mass_ingest.profile import Profile
from mass_ingest.db.sessions import fetch_existing_sessions
from mass_ingest.dedup import deduplicate

pytestmark = pytest.mark.backends

T1 = datetime(2024, 3, 5, 10, 30, 58)
T2 = datetime(2024, 3, 12, 14, 2, 11)
PROFILE = Profile(name="backends", timezone="Europe/Oslo",
                  shares=[{"name": "N", "root": "/mnt/N", "aliases": ["N:/"],
                           "layouts": [{"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}]}])


def session(subject: str, start: datetime, serials: dict[str, str] | None = None, projects=()) -> SessionCandidate:
    rel = f"recordings/{subject}/{start:%Y-%m-%d_%H-%M-%S}"
    return SessionCandidate(
        share="N", rel_path=rel, location=f"/mnt/n/{rel}".lower(), subject=subject, session_start=start,
        projects=list(projects), outputs=[Output(kind="kilosort", path="probe_1/ks25")],
        probes=[ProbeRecording(folder=f, meta_file=f"{f}/npx.imec.ap.meta", serial=sn, n_saved_chans=385,
                               sample_rate=30000.0, file_size_bytes=2**33, file_time_secs=3600.5,
                               file_create_time=start) for f, sn in (serials or {}).items()])


@pytest.fixture
def ingest(clean_database):
    from mass_ingest.db import runs, schema

    for subject in ("25843", "102_1", "no"):
        schema.Subject.insert1({"subject": subject, "source": "test"})
    return runs.open_ingest(PROFILE, "0b9f3c5e-1b7e-4c39-9a52-3f0c6d1f2a11")


class TestSchema:
    def test_every_table_is_declared_under_the_session_prefix(self, database: str) -> None:
        from mass_ingest.db import schema

        assert {s.database for s in (schema.reference, schema.ingest, schema.acquisition)} == \
            {f"{database}_reference", f"{database}_ingest", f"{database}_acquisition"}
        assert "location_hash" in schema.Session.Directory.heading.secondary_attributes

    def test_text_ids_stay_text_and_datetimes_round_trip(self, ingest: str) -> None:
        from mass_ingest.db import schema

        assert sorted(r["subject"] for r in schema.Subject.to_dicts()) == ["102_1", "25843", "no"]
        run = (schema.IngestRun & {"ingest_id": ingest}).to_dicts()[0]
        assert (run["profile_name"], run["status"], run["approved"], run["finished_at"]) == \
            ("backends", "open", None, None)
        assert isinstance(run["started_at"], datetime)


class TestInsertion:
    def test_sessions_go_in_with_all_their_parts(self, ingest: str) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.sessions import sessions_inserted_by
        from mass_ingest.db.insertion import insert_sessions

        frame = candidates_to_frame([session("25843", T1, {"probe_1": "18408403232", "probe_2": "18408403541"},
                                             projects=["grid-cells", "pilot"]),
                                     session("102_1", T2, {"probe_1": "18194823662"})])
        assert insert_sessions(frame, timezone="Europe/Oslo", ingest_id=ingest) == 2
        assert sessions_inserted_by(ingest) == 2
        recording = (schema.Session.Recording & {"subject": "25843", "recording": "probe_2"}).to_dicts()[0]
        assert (recording["session_start"], recording["serial"], recording["n_saved_chans"],
                recording["sample_rate"], recording["file_size_bytes"], recording["file_create_time"]) == \
            (T1, "18408403541", 385, 30000.0, 2**33, T1)
        assert {r["project"] for r in schema.Session.Membership.to_dicts()} == {"grid-cells", "pilot"}
        directory = (schema.Session.Directory & {"subject": "102_1"}).to_dicts()[0]
        assert (directory["share"], directory["location"]) == ("N", "/mnt/n/recordings/102_1/2024-03-12_14-02-11")

    def test_inserting_again_adds_nothing(self, ingest: str) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.insertion import insert_sessions

        frame = candidates_to_frame([session("25843", T1, {"probe_1": "18408403232"})])
        assert insert_sessions(frame, timezone="Europe/Oslo", ingest_id=ingest) == 1
        assert insert_sessions(frame, timezone="Europe/Oslo", ingest_id=ingest) == 0
        assert (len(schema.Session()), len(schema.Session.Recording())) == (1, 1)

    def test_a_failing_chunk_leaves_nothing_behind(self, ingest: str) -> None:
        from mass_ingest.db import schema
        from mass_ingest.db.insertion import insert_sessions

        # An unknown subject fails the foreign key in the middle of the transaction.
        frame = candidates_to_frame([session("25843", T1, {"probe_1": "18408403232"}), session("m9", T2)])
        with pytest.raises(Exception):
            insert_sessions(frame, timezone="Europe/Oslo", ingest_id=ingest)
        assert (len(schema.Session()), len(schema.Session.Directory()), len(schema.Session.Recording())) == (0, 0, 0)


class TestDedupAgainstTheDatabase:
    def test_what_is_stored_is_a_duplicate_by_key_and_by_place(self, ingest: str) -> None:
        from mass_ingest.db.insertion import insert_sessions

        insert_sessions(candidates_to_frame([session("25843", T1, {"probe_1": "18408403232"})]),
                        timezone="Europe/Oslo", ingest_id=ingest)
        stored = fetch_existing_sessions()
        assert stored.select("subject", "session_start", "location").rows() == [
            ("25843", T1, "/mnt/n/recordings/25843/2024-03-05_10-30-58")]
        moved = session("25843", T1, {"probe_1": "18408403232"}).model_copy(
            update={"rel_path": "old/25843/2024-03-05_10-30-58", "location": "/mnt/n/old/25843/2024-03-05_10-30-58"})
        for found, status in ((session("25843", T1, {"probe_1": "18408403232"}), "duplicate"), (moved, "moved"),
                              (session("102_1", T2), "new")):
            assert deduplicate(candidates_to_frame([found]), stored, PROFILE.shares)["status"].to_list() == [status]


class TestLedger:
    def test_a_decision_is_stored_and_read_back(self, ingest: str) -> None:
        from mass_ingest.db import decisions, runs, schema

        decision = decisions.Decision(approved=True, approver="anna", source="cli", excluded=["25843/2024-03-*"],
                                 note="ok " * 700, shown_digest="abc")
        decisions.record_decision(ingest, decision)
        back = decisions.stored_decision(ingest)
        assert (back.approved, back.approver, back.excluded, back.shown_digest, len(back.note)) == \
            (True, "anna", ["25843/2024-03-*"], "abc", 2000)
        runs.record_quarantine(ingest, [{"candidate_id": "0" * 16, "share": "N", "rel_path": "x", "session_id": "s",
                                         "quality_reasons": ["no .ap.meta", "subject 'm9' is not known"]}] * 2)
        assert (schema.Quarantine & {"ingest_id": ingest}).to_dicts()[0]["reasons"] == \
            ["no .ap.meta", "subject 'm9' is not known"]
        runs.finish_ingest(ingest, {"inserted": 3})
        run = (schema.IngestRun & {"ingest_id": ingest}).to_dicts()[0]
        assert (run["status"], run["counts"], run["approved"]) == ("completed", {"inserted": 3}, True)

    def test_an_unfinished_ingest_is_resumed_and_a_finished_one_is_not(self, ingest: str) -> None:
        from mass_ingest.db import runs

        assert runs.open_ingest(PROFILE, None) == ingest
        runs.finish_ingest(ingest, {})
        assert runs.open_ingest(PROFILE, None) != ingest
