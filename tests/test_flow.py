"""The whole ingest, end to end: real CLI processes, a real Prefect server, the embedded database.

Nothing here is mocked. Each test builds its own demo campaign (own share roots, so its own
profile hash and ingest) on an emptied database.
"""

from __future__ import annotations

import getpass
import json
import signal
from datetime import datetime

import polars as pl
import pytest

from mass_ingest.db import schema
from mass_ingest.findings import Finding
from mass_ingest.stage_cache import run_dir
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import (
    cli,
    demo_campaign,
    json_out,
    latest_flow_run_id,
    paused_demo_run,
    task_states,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

# The demo's sessions that pass every check (see mass_ingest/demo.py): what a full approval inserts.
GOOD_SESSIONS = {
    ("25843", datetime(2024, 3, 5, 10, 30, 58)),
    ("25843", datetime(2024, 3, 12, 14, 2, 11)),
    ("25843", datetime(2024, 4, 9, 9, 47, 33)),
    ("26018", datetime(2024, 4, 18, 13, 15, 40)),
    ("102_1", datetime(2024, 5, 14, 15, 22, 9)),
}


def sessions_in_db() -> set[tuple[str, datetime]]:
    return {(r["subject"], r["session_start"]) for r in schema.Session.proj().to_dicts()}


def ingest_run(ingest_id: str) -> dict:
    return (schema.IngestRun & {"ingest_id": ingest_id}).to_dicts()[0]


@pytest.mark.backends  # the whole flow, dedup and insertion included, also on the servers
class TestDemo:
    def test_first_demo_inserts_the_good_sessions_and_second_inserts_none(self, tmp_path):
        first = cli("demo", "--base", str(tmp_path / "demo"), "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        counts = json_out(first.stdout)
        assert {k: counts[k] for k in ("discovered", "duplicates", "quarantined", "excluded", "inserted")} == \
            {"discovered": 8, "duplicates": 1, "quarantined": 2, "excluded": 1, "inserted": 5}
        assert sessions_in_db() == GOOD_SESSIONS
        run = ingest_run(counts["ingest_id"])
        assert (run["status"], run["approved"], run["approver"], run["approval_source"]) == \
            ("completed", True, getpass.getuser(), "cli")
        assert run["counts"]["inserted"] == 5
        quarantined = {r["session_id"]: r["reasons"] for r in
                       (schema.Quarantine & {"ingest_id": counts["ingest_id"]}).to_dicts()}
        assert sorted(quarantined) == ["26018/2024-04-25_11-08-02", "m9/2024-06-03_10-12-44"]
        assert any("no .ap.meta" in reason for reason in quarantined["26018/2024-04-25_11-08-02"])
        assert any("'m9' is not known" in reason for reason in quarantined["m9/2024-06-03_10-12-44"])
        # Every part of an inserted session is there: directory, one recording per probe, projects.
        directory = (schema.Session.Directory & {"subject": "102_1"}).to_dicts()[0]
        assert (directory["share"], directory["rel_path"]) == ("N", "recordings/102_1/2024-05-14_15-22-09")
        assert len(schema.Session.Recording & {"subject": "25843"}) == 6
        assert {r["project"] for r in (schema.Session.Membership & {"subject": "26018"}).to_dicts()} == {"grid-cells"}
        # Probes found by their serial; the tasks from sessions.txt wait for a person, listed in followup.csv.
        assert len(schema.Session.ProbeAssociation & {"decided_by": "serial"}) == len(schema.Session.Recording()) == 8
        followup = pl.read_csv(run_dir(counts["ingest_id"]) / "followup.csv")
        # Each inferred task: its timing to confirm and its arena to enter.
        assert set(followup["need"]) == {"task", "arena"} and followup.height == 2 * len(schema.Session.Task()) > 0

        second = cli("demo", "--base", str(tmp_path / "demo"), "--json")
        assert second.returncode == 0, second.stderr[-3000:]
        again = json_out(second.stdout)
        assert (again["inserted"], again["duplicates"], again["discovered"]) == (0, 6, 8)
        assert sessions_in_db() == GOOD_SESSIONS

    def test_the_summary_says_why_sessions_were_held_back_and_what_is_left_to_enter(self, tmp_path):
        result = cli("demo", "--base", str(tmp_path / "demo"))
        assert result.returncode == 0, result.stderr[-3000:]
        said = " ".join(result.stdout.split())  # the console wraps long lines
        assert "quarantined N:recordings/m9/2024-06-03_10-12-44: subject 'm9' is not known" in said
        assert "quarantined N:recordings/26018/2024-04-25_11-08-02: probe_1/npx.imec.ap.bin has no .ap.meta" in said
        assert "still needs a person: arena 15 (5 sessions), task 15 (5 sessions); `mass-ingest todo` lists them" in said


class TestApproval:
    def test_paused_run_resumed_with_input_inserts_all_but_the_excluded(self, tmp_path):
        from prefect.flow_runs import resume_flow_run

        campaign, process, paused = paused_demo_run(tmp_path, "--json")
        resume_flow_run(paused.id, run_input={"decision": "approve", "exclude": ["102_1/*"], "approver": "Ada Lovelace",
                                              "note": "102_1 histology pending"})
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr[-3000:]
        counts = json_out(stdout)
        assert (counts["inserted"], counts["left_out"]) == (4, 1)
        assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}
        run = ingest_run(counts["ingest_id"])
        assert (run["approver"], run["approval_source"], run["note"], run["excluded"]["sessions"]) == \
            ("Ada Lovelace", "ui", "102_1 histology pending", ["102_1/*"])

    def test_rejection_from_the_command_line_inserts_nothing(self, tmp_path):
        campaign, process, paused = paused_demo_run(tmp_path, "--json")
        rejected = cli("reject", str(paused.id), "--approver", "Grace", "--note", "wrong share")
        assert rejected.returncode == 0, rejected.stderr[-3000:]
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr[-3000:]
        counts = json_out(stdout)
        assert counts["inserted"] == 0 and sessions_in_db() == set()
        run = ingest_run(counts["ingest_id"])
        assert (run["status"], run["approved"], run["approver"]) == ("rejected", False, "Grace")

    def test_approval_timeout_inserts_nothing_and_says_so(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1, timeout_s=3)
        import_subjects_csv(campaign.subjects_csv)
        result = cli("run", str(campaign.profile_path), "--json")
        assert result.returncode == 1
        assert "no decision within 3 s at the approval pause; nothing was inserted" in result.stderr
        [run] = schema.IngestRun.to_dicts()
        assert (run["status"], run["approved"], run["approval_source"]) == ("timed_out", False, "timeout")
        assert sessions_in_db() == set()


class TestResume:
    def test_run_killed_after_discovery_resumes_from_cache_and_inserts_once(self, tmp_path):
        campaign, process, paused = paused_demo_run(tmp_path)
        first_states = task_states(paused.id)
        assert first_states["discover N 0/1"] == "Completed"
        process.send_signal(signal.SIGKILL)  # no cleanup, as when a worker dies
        process.wait(30)

        resumed = cli("run", str(campaign.profile_path), "--approve", "--json")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        counts = json_out(resumed.stdout)
        states = task_states(latest_flow_run_id(campaign.profile_path))
        # Same ingest, and every stage before the kill is served from the cache, not run again.
        assert ingest_run(counts["ingest_id"])["status"] == "completed"
        assert {name: states[name] for name in ("discover N 0/1", "discover backup 0/1")} == \
            {"discover N 0/1": "Cached", "discover backup 0/1": "Cached"}
        assert [s for n, s in states.items() if n.startswith(("deduplicate", "quality"))] == ["Cached", "Cached"]
        assert counts["inserted"] == 5 and sessions_in_db() == GOOD_SESSIONS
        assert len(schema.IngestRun.FlowRun & {"ingest_id": counts["ingest_id"]}) == 2

        again = json_out(cli("run", str(campaign.profile_path), "--approve", "--json").stdout)
        assert again["inserted"] == 0 and again["ingest_id"] != counts["ingest_id"]
        assert sessions_in_db() == GOOD_SESSIONS


class TestFindingsFile:
    def test_every_finding_is_a_json_line_and_a_resumed_run_writes_none_twice(self, tmp_path):
        campaign, process, paused = paused_demo_run(tmp_path)
        try:
            [run] = schema.IngestRun.to_dicts()
            path = run_dir(run["ingest_id"]) / "findings.jsonl"
            # Written before the pause: a run that stops there keeps what its stages found.
            at_pause = path.read_text().splitlines()
        finally:
            process.send_signal(signal.SIGKILL)  # killed at the pause, as when a worker dies
            process.wait(30)
        found = [json.loads(line) for line in at_pause]
        unknown = [f for f in found if f["code"] == "QUALITY.SUBJECT_KNOWN"]
        assert [(f["stage"], f["share"], f["path"], f["found"], f["severity"]) for f in unknown] == \
            [("quality", "N", "recordings/m9/2024-06-03_10-12-44", "subject 'm9'", "ERROR")]
        assert unknown[0]["expected"] and "great-expectations" in unknown[0]["origin"], unknown
        # The other quarantined session's expectation, and discovery's finding on the same folder.
        assert {f["code"] for f in found if f["path"].startswith("recordings/26018/2024-04-25_11-08-02")} >= \
            {"QUALITY.EVERY_AP_BIN_HAS_META", "EPHYS.BIN_WITHOUT_META"}
        assert {f["stage"] for f in found} >= {"discover", "quality"}
        assert all(Finding.model_validate(f).model_dump(mode="json") == f for f in found)

        resumed = cli("run", str(campaign.profile_path), "--approve")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "every finding of this ingest, one JSON object a line:" in resumed.stdout
        assert "findings.jsonl" in resumed.stdout
        assert [r["ingest_id"] for r in schema.IngestRun.to_dicts()] == [run["ingest_id"]]  # the same ingest
        again = path.read_text().splitlines()
        assert len(again) == len(set(again)) and sorted(again) == sorted(at_pause)


class TestCommandLine:
    def test_a_broken_profile_fails_before_any_work_naming_file_key_and_fix(self, tmp_path):
        broken = tmp_path / "broken.yaml"
        broken.write_text("name: x\ntimezone: Europe/Oslo\nshares:\n  - name: N\n    root: /mnt/N\n"
                          "    layout: []\n")
        result = cli("run", str(broken), "--approve")
        assert result.returncode == 2
        assert "profile broken.yaml line 6: shares[0].layout is not a key the profile knows" in result.stderr
        assert "shares[0].layouts" in result.stderr and "add it" in result.stderr
        assert ingest_count() == 0

    def test_validate_reports_every_decision_and_inserts_nothing(self, tmp_path):
        campaign = demo_campaign(tmp_path)
        import_subjects_csv(campaign.subjects_csv)
        result = cli("validate", str(campaign.profile_path), "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        decisions = {(c["share"], c["session_id"]): (c["status"], c["reasons"]) for c in
                     json_out(result.stdout)["candidates"]}
        assert sorted(status for status, _ in decisions.values()) == \
            ["copy", "excluded", "quarantined", "quarantined", "ready", "ready", "ready", "ready", "ready"]
        assert decisions[("N", "m9/2024-06-03_10-12-44")] == (
            "quarantined", ["subject 'm9' is not known; import it with `mass-ingest subjects import`"])
        assert decisions[("N", "00000/2024-03-01_16-45-20")] == ("excluded", ["exclude subjects: '00000'"])
        assert sessions_in_db() == set() and ingest_count() == 0

    def test_help_lists_every_command(self):
        result = cli("--help")
        assert result.returncode == 0
        for command in ("demo", "run", "import", "discover", "validate", "subjects", "approve", "reject", "db", "runs", "undo",
                        "todo", "sessions", "rescan", "deploy"):
            assert command in result.stdout

    def test_db_status_names_the_embedded_database_and_counts_what_it_holds(self):
        result = cli("db", "status")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "database: embedded PostgreSQL in" in result.stdout
        assert "subjects 0, sessions 0, ingest runs 0, quarantine rows (all time) 0" in " ".join(result.stdout.split())
        # One folder quarantined by two ingests: two rows, which is why they are not called "quarantined now".
        for ingest_id in ("ingest-1", "ingest-2"):
            schema.IngestRun.insert1({"ingest_id": ingest_id, "profile_name": "demo-ephys", "profile_hash": "0" * 16,
                                      "status": "completed", "started_at": datetime(2024, 6, int(ingest_id[-1]))})
            schema.Quarantine.insert1({"ingest_id": ingest_id, "candidate_id": "c" * 16, "share": "N",
                                       "rel_path": "recordings/m9/2024-06-03_10-12-44",
                                       "session_id": "m9/2024-06-03_10-12-44",
                                       "reasons": ["subject 'm9' is not known"]})
        again = cli("db", "status")
        assert "ingest runs 2, quarantine rows (all time) 2" in " ".join(again.stdout.split())


def ingest_count() -> int:
    return len(schema.IngestRun())
