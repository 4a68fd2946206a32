"""A share that changes between the approval pause and insertion: the run refuses, end to end.

Real CLI processes, a real Prefect server, the embedded database and real files; the share is
changed on disk while the run waits at its pause (or after it crashed with a decision stored).
"""

from __future__ import annotations

import os
import signal

import pytest

from mass_ingest.db import schema
from mass_ingest.db.decisions import Decision, record_decision
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import cli, demo_campaign, json_out, paused_demo_run

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

SESSION = "recordings/25843/2024-03-05_10-30-58"  # a demo session that passes every check


def _only_ingest() -> dict:
    [run] = schema.IngestRun.to_dicts()
    return run


def _change_the_share(campaign) -> None:
    """A file added in one approved session's folder, the .ap.bin of another grown."""
    (campaign.shares["N"] / SESSION / "probe_1" / "notes.txt").write_text("re-sorted, see lab book\n")
    grown = campaign.shares["N"] / "recordings/26018/2024-04-18_13-15-40" / "probe_1" / "npx.imec.ap.bin"
    with open(grown, "ab") as f:
        f.write(b"\0" * 770)


def _assert_refused(result_code: int, stderr: str) -> None:
    assert result_code == 1, stderr[-3000:]
    message = " ".join(stderr.split())  # rich wraps long lines
    assert "share N changed after the approval pause" in message
    assert "N:25843/2024-03-05_10-30-58: added probe_1/notes.txt" in message
    assert "N:26018/2024-04-18_13-15-40: modified probe_1/npx.imec.ap.bin" in message
    assert "Nothing was inserted. Start a new run" in message
    assert len(schema.Session()) == 0
    run = _only_ingest()
    assert (run["status"], run["approved"]) == ("share_changed", True)
    assert (run["counts"]["inserted"], run["counts"]["changed_sessions"]) == (0, 2)


class TestShareChangedAfterThePause:
    def test_a_file_added_while_paused_refuses_the_approved_run_and_inserts_nothing(self, tmp_path):
        from prefect.flow_runs import resume_flow_run

        campaign, process, paused = paused_demo_run(tmp_path, "--json")
        _change_the_share(campaign)
        resume_flow_run(paused.id, run_input={"decision": "approve", "approver": "Ada", "exclude": ["102_1/*"]})
        _, stderr = process.communicate(timeout=180)
        _assert_refused(process.returncode, stderr)

        # The next run is a new ingest that judges the share as it is now: the .ap.bin written a
        # moment ago may still be arriving, so that session is pending; 102_1, which Ada left out,
        # stays held (until `mass-ingest release`); the others go in.
        again = cli("run", str(campaign.profile_path), "--approve", "--json")
        assert again.returncode == 0, again.stderr[-3000:]
        counts = json_out(again.stdout)
        assert (counts["inserted"], counts["pending"], counts["held"]) == (3, 1, 1)
        assert {r["subject"] for r in schema.Session.proj().to_dicts()} == {"25843"}

    def test_a_run_resumed_after_a_crash_with_the_decision_stored_checks_again(self, tmp_path):
        campaign, process, _ = paused_demo_run(tmp_path)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        # As if the worker died right after the decision was stored, before insertion.
        ingest_id = _only_ingest()["ingest_id"]
        record_decision(ingest_id, Decision(approved=True, approver="Ada", source="ui"))
        _change_the_share(campaign)

        resumed = cli("run", str(campaign.profile_path), "--json")  # no pause: the stored decision is used
        _assert_refused(resumed.returncode, resumed.stderr)

    def test_an_unchanged_share_passes_the_check(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        # Reading the share (a resumed listing) changes access times only: not a change.
        os.utime(campaign.shares["N"] / SESSION / "sessions.txt",
                 ns=(1_800_000_000 * 10**9, os.stat(campaign.shares["N"] / SESSION / "sessions.txt").st_mtime_ns))
        result = cli("run", str(campaign.profile_path), "--approve", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(schema.Session()) == 5 and _only_ingest()["status"] == "completed"
