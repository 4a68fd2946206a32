"""Insertion that survives crashes, database restarts and a second run: real processes, nothing mocked.

The kill matrix SIGKILLs the flow's process at each stage boundary (through the test-only fault
point of tests/fault_points.py, which acts right after the named task committed), runs the
same profile again and checks the database and the Prefect API: every approved session is in
exactly once, nothing else is, and every cached stage finished before the kill is "Cached" in
the second run while every one after it ran ("Completed"). Set MASS_INGEST_KILL_MATRIX=path.md
to also write the matrix there; it is printed at the end of the module either way.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from mass_ingest.db import connection, schema
from mass_ingest.errors import DatabaseError
from tests.fault_points import VARIABLE as FAULT, waiting_file
from mass_ingest.prefect_api import task_runs_of
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import (cli, demo_campaign, json_out, latest_flow_run_id, start_cli, task_states,
                       wait_for_paused_run)
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

# Five approved sessions in chunks of two: three chunks, so a kill can fall between two of them.
CHUNKS = {"MASS_INGEST_CHUNK_SIZE": "2"}
# The cached stages in flow order (task-run names; dedup and quality carry a random suffix).
CACHED = ("discover N 0/1", "discover backup 0/1", "deduplicate", "quality",
          "insert rows 0+2", "insert rows 2+2", "insert rows 4+1")
RECORDINGS = 8  # the good sessions' probe recordings: 3 x 2 (25843) + 1 (26018) + 1 (102_1)


def stage(task_run_name: str) -> str:
    return re.sub(r"-[0-9a-z]{3}$", "", task_run_name)


# kill point -> (fault point, None: killed by the test at the approval pause;
#                how many of CACHED finished before the kill; sessions in the database after it)
KILL_POINTS = {
    "after access": ("access-check kill", 0, 0),
    "after discovery": ("discover-share#2 kill", 2, 0),
    "after dedup": ("deduplicate kill", 3, 0),
    "after quality": ("quality kill", 4, 0),
    "at the pause": (None, 4, 0),
    "after the decision": ("apply-decision kill", 4, 0),
    "mid insertion (1 of 3 chunks)": ("insert-chunk#1 kill", 5, 2),
    "after insertion, before the outcome": ("insert-chunk#3 kill", 7, 5),
}
_matrix: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def report_matrix(request):
    yield
    if not _matrix:
        return
    lines = ["| kill point | killed | re-run | cached on re-run | run on re-run (not done before the kill) | sessions (each once) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['point']} | {r['killed']} | {r['rerun']} | {r['cached']} | {r['ran']} | {r['sessions']} |"
              for r in _matrix]
    table = "\n".join(lines)
    if os.environ.get("MASS_INGEST_KILL_MATRIX"):
        Path(os.environ["MASS_INGEST_KILL_MATRIX"]).write_text(table + "\n")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print("\nkill matrix:\n" + table)


def assert_each_good_session_once() -> None:
    assert sessions_in_db() == GOOD_SESSIONS
    assert (len(schema.Session()), len(schema.Session.Directory()), len(schema.Session.Recording())) == \
        (len(GOOD_SESSIONS), len(GOOD_SESSIONS), RECORDINGS)


def wait_for_file(path: Path, process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {path.name}: {process.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"no {path} within {timeout} s"
        time.sleep(0.1)


def the_ingest() -> dict:
    [run] = schema.IngestRun.to_dicts()  # the database was emptied for this test
    return run


def flow_runs_of(ingest_id: str) -> set[str]:
    return {r["flow_run_id"] for r in (schema.IngestRun.FlowRun & {"ingest_id": ingest_id}).to_dicts()}


class TestKillMatrix:
    @pytest.mark.parametrize("point", list(KILL_POINTS))
    def test_killed_run_resumes_without_redoing_finished_stages_and_inserts_each_session_once(self, point,
                                                                                               tmp_path):
        fault, cached_before, inserted_before = KILL_POINTS[point]
        campaign = demo_campaign(tmp_path, poll_s=1, timeout_s=120)
        import_subjects_csv(campaign.subjects_csv)
        profile = str(campaign.profile_path)
        if fault is None:
            process = start_cli("run", profile, env=CHUNKS)
            wait_for_paused_run(campaign.profile_path, process)
            process.send_signal(signal.SIGKILL)
        else:
            process = start_cli("run", profile, "--approve", env={**CHUNKS, FAULT: fault})
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == -signal.SIGKILL, stderr[-3000:]
        first = the_ingest()
        assert first["status"] in ("open", "approved")
        decided = first["status"] == "approved"
        assert len(schema.Session()) == inserted_before
        killed_runs = flow_runs_of(first["ingest_id"])

        # After the decision the re-run must not ask again: without --approve it would pause (and time out).
        args = ("run", profile, "--json") if decided else ("run", profile, "--approve", "--json")
        resumed = cli(*args, env=CHUNKS)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        counts = json_out(resumed.stdout)
        run = the_ingest()
        assert (counts["ingest_id"], run["status"], counts["inserted"]) == (first["ingest_id"], "completed", 5)
        [rerun] = flow_runs_of(run["ingest_id"]) - killed_runs
        states = {stage(name): state for name, state in task_states(rerun).items()}
        expected = {name: "Cached" if i < cached_before else "Completed" for i, name in enumerate(CACHED)}
        assert {name: states.get(name) for name in CACHED} == expected
        assert_each_good_session_once()
        _matrix.append({
            "point": point, "killed": "SIGKILL" if fault is None else f"SIGKILL after `{fault.split()[0]}`",
            "rerun": "approved on re-run" if not decided else "stored decision used",
            "cached": ", ".join(CACHED[:cached_before]) or "none (access is never cached)",
            "ran": ", ".join(CACHED[cached_before:]) or "none", "sessions": "5 of 5 (pass)"})



def postmaster_pid() -> int | None:
    """The embedded server's process id, None while it is stopped."""
    pid_file = Path(os.environ["MASS_INGEST_HOME"]) / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


class TestDatabaseRestart:
    @pytest.mark.parametrize("started_again_by", ["someone else", "the run"])
    def test_database_stopped_mid_insertion_the_run_reconnects_and_inserts_each_session_once(
            self, started_again_by, tmp_path):
        campaign = demo_campaign(tmp_path)
        import_subjects_csv(campaign.subjects_csv)
        hold = tmp_path / "hold"
        process = start_cli("run", str(campaign.profile_path), "--approve", "--json",
                            env={**CHUNKS, FAULT: f"insert-chunk#1 hold {hold}"})
        wait_for_file(waiting_file(hold), process)
        before = postmaster_pid()
        connection.stop_embedded()  # pg_ctl stop: the held run's connection is cut mid-ingest
        assert postmaster_pid() is None
        if started_again_by == "someone else":
            schema.activate()  # starts the embedded server again, as any mass-ingest command would
        hold.touch()
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
        assert json_out(stdout)["inserted"] == 5
        schema.activate()
        assert postmaster_pid() not in (None, before)
        assert_each_good_session_once()
        assert the_ingest()["status"] == "completed"

    def test_a_connection_lost_for_good_fails_naming_the_database_and_the_fix(self):
        home = Path(os.environ["MASS_INGEST_HOME"])
        schema.activate()
        # Stop the server under an open connection, as a crash or a restart of a lab server would.
        connection.stop_embedded_server(home / "pgdata")
        assert postmaster_pid() is None
        with pytest.raises(DatabaseError) as raised:
            with connection.outage_reported("inserting rows 0+2 of ingest x"):
                len(schema.Session())
        message = str(raised.value)
        assert message.startswith(f"embedded PostgreSQL in {home / 'pgdata'} went away while inserting rows 0+2 "
                                  "of ingest x (")
        assert message.endswith("check the database (`mass-ingest db status`) and run the same profile again "
                                "to finish")
        schema.activate()  # the next command starts it again and reconnects
        assert len(schema.Session()) == 0


class TestTwoRunsAtOnce:
    def test_two_runs_on_one_share_insert_each_session_once_without_colliding(self, tmp_path):
        campaign = demo_campaign(tmp_path)
        import_subjects_csv(campaign.subjects_csv)
        holds = [tmp_path / "hold-a", tmp_path / "hold-b"]
        # Both runs stop once they know what to insert, and start inserting, a session per chunk, together.
        processes = [start_cli("run", str(campaign.profile_path), "--approve", "--json",
                               env={"MASS_INGEST_CHUNK_SIZE": "1", FAULT: f"approved-sessions hold {hold}"})
                     for hold in holds]
        for hold, process in zip(holds, processes):
            wait_for_file(waiting_file(hold), process)
        for hold in holds:
            hold.touch()
        outputs = [process.communicate(timeout=300) for process in processes]
        assert [p.returncode for p in processes] == [0, 0], [err[-3000:] for _, err in outputs]
        assert_each_good_session_once()
        # Each run reports what it inserted itself (both used to print the ingest's total, 5 and 5).
        counts = [json_out(out) for out, _ in outputs]
        assert sorted(c["inserted_by_this_run"] for c in counts) in ([0, 5], [1, 4], [2, 3])
        assert sum(c["inserted_by_this_run"] for c in counts) == 5 and {c["inserted"] for c in counts} == {5}
        # Both approved all five; the lock made the second wait, so no chunk met a duplicate key and retried.
        flow_runs = {r["flow_run_id"] for r in schema.IngestRun.FlowRun.to_dicts()}
        chunks = [t for run in flow_runs for t in task_runs_of(run) if t.name.startswith("insert rows")]
        assert len(chunks) == 10 and {t.run_count for t in chunks} == {1}


class TestTheCacheNeverPinsAFailure:
    def test_an_ingest_failed_before_its_decision_runs_afresh_once_the_cause_is_fixed(self, tmp_path):
        # The quarantine list of one folder is refused by a rule only the database knows (a CHECK constraint, as a
        # lab's DBA might add): the stage storing the list fails. Moving that folder away fixes the cause, but
        # discovery is cached on the ingest id: resumed from the cache, the run met the same folder and failed the
        # same way for ever. A run failed before a decision closes its ingest, so the next one discovers afresh.
        campaign = demo_campaign(tmp_path)
        import_subjects_csv(campaign.subjects_csv)
        profile = str(campaign.profile_path)
        m9 = "recordings/m9/2024-06-03_10-12-44"
        table = schema.Quarantine.full_table_name
        schema.Quarantine.connection.query(f"ALTER TABLE {table} ADD CONSTRAINT no_m9 "
                                           "CHECK (strpos(rel_path, 'recordings/m9/') = 0)")
        try:
            first = cli("run", profile, "--approve", "--json")
            assert first.returncode == 1, first.stderr[-3000:]
            assert "no_m9" in first.stderr
            assert "failed before its decision and is closed (status failed)" in first.stderr
            failed = the_ingest()
            assert failed["status"] == "failed" and failed["finished_at"] is not None
            assert "no_m9" in failed["counts"]["error"]
            assert sessions_in_db() == set()

            shutil.move(campaign.shares["N"] / m9, tmp_path / "m9-moved-away")  # the cause fixed on the share
            second = cli("run", profile, "--approve", "--json")
        finally:
            schema.Quarantine.connection.query(f"ALTER TABLE {table} DROP CONSTRAINT no_m9")
        assert second.returncode == 0, second.stderr[-3000:]
        counts = json_out(second.stdout)
        assert counts["ingest_id"] != failed["ingest_id"] and counts["inserted"] == 5
        assert_each_good_session_once()
        states = task_states(latest_flow_run_id(campaign.profile_path))
        assert (states["discover N 0/1"], states["discover backup 0/1"]) == ("Completed", "Completed")  # not Cached
        assert not schema.Quarantine & {"ingest_id": counts["ingest_id"], "rel_path": m9}

    def test_only_an_undecided_ingest_is_closed_as_failed(self):
        from datetime import datetime

        from mass_ingest.db.decisions import Decision, record_decision
        from mass_ingest.db.runs import close_failed_ingest

        for ingest_id in ("undecided", "decided"):
            schema.IngestRun.insert1({"ingest_id": ingest_id, "profile_name": "p", "profile_hash": "0" * 16,
                                      "status": "open", "started_at": datetime(2024, 6, 1)})
        record_decision("decided", Decision(approved=True, approver="Ada", source="cli"))
        assert close_failed_ingest("undecided", "RuntimeError: mysql://root:pw-123@h") is True
        assert close_failed_ingest("decided", "RuntimeError: x") is False
        assert close_failed_ingest("undecided", "again") is False  # closed already
        runs = {r["ingest_id"]: r for r in schema.IngestRun.to_dicts()}
        assert (runs["undecided"]["status"], runs["undecided"]["counts"]) == (
            "failed", {"error": "RuntimeError: mysql://root:***@h"})
        assert runs["decided"]["status"] == "approved"
