"""The scheduled re-scan and the manual flow's deployment parameters, run in this process against the
session's Prefect server and embedded database (nothing mocked)."""

from __future__ import annotations

import os
from datetime import datetime

import polars as pl
import pytest
import yaml
from prefect import get_client

from flows.ingest import mass_ingest
from flows.rescan import rescan
from mass_ingest.db import schema
from mass_ingest.db.runs import open_ingest
from mass_ingest.profile import load_profile
from mass_ingest.stage_cache import run_dir
from mass_ingest.db.subjects import import_subjects_csv
from tasks.watermark import slot_name
from tests.e2e import cli, demo_campaign, json_out, start_cli, wait_for_paused_run
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

LATE_SESSION = "recordings/25843/2024-03-05_10-30-58"  # gains a probe folder after it was ingested
ARRIVING = "recordings/26018/2024-04-18_13-15-40"  # its .ap.bin is still being written at the first scan


@pytest.fixture(scope="module", autouse=True)
def drained_before_the_server_stops():
    """Flows run in this process: send their last logs and events while the server is still up
    (else the interpreter's exit spends a minute retrying a server that is gone)."""
    yield
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()


def auto_approving(campaign) -> None:
    data = yaml.safe_load(campaign.profile_path.read_text())
    data["approval"]["auto_approve_clean"] = True
    campaign.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))


def flow_run_tags(flow_run_id) -> list[str]:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).tags


def watermarks() -> dict[str, dict]:
    return {r["share"]: r for r in schema.ScanWatermark.to_dicts()}


class TestRescan:
    def test_nightly_rescans_find_pending_then_late_data_and_move_each_watermark(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        auto_approving(campaign)
        import_subjects_csv(campaign.subjects_csv)
        arriving_bin = campaign.shares["N"] / ARRIVING / "probe_1" / "npx.imec.ap.bin"
        old = arriving_bin.stat().st_mtime
        os.utime(arriving_bin)  # written a moment ago: still being copied

        first = rescan(profile_path=str(campaign.profile_path))
        assert (first.counts["inserted"], first.counts["pending"], first.counts["decision"]) == \
            (4, 1, "approved by auto-approval (auto)")
        assert sessions_in_db() == GOOD_SESSIONS - {("26018", datetime(2024, 4, 18, 13, 15, 40))}
        marks = watermarks()
        started = (schema.IngestRun & {"ingest_id": first.counts["ingest_id"]}).to_dicts()[0]["started_at"]
        assert {share: (m["scanned_at"], m["ingest_id"], m["pending"]) for share, m in marks.items()} == {
            "N": (started, first.counts["ingest_id"], [ARRIVING]),
            "backup": (started, first.counts["ingest_id"], [])}

        # The copy finished, and a Kilosort run was added to an ingested session's probe folder, keeping
        # the source's old times (as robocopy and rsync -a do): no mtime filter would see it.
        os.utime(arriving_bin, (old, old))
        sorting = campaign.shares["N"] / LATE_SESSION / "probe_2" / "ks25"
        sorting.mkdir()
        for name in ("params.py", "spike_times.npy", "spike_clusters.npy"):
            (sorting / name).write_bytes(b"\x93NUMPY")
            os.utime(sorting / name, (old, old))
        second = rescan(profile_path=str(campaign.profile_path))
        assert (second.counts["inserted"], second.counts["updates"], second.counts["pending"]) == (1, 1, 0)
        assert sessions_in_db() == GOOD_SESSIONS
        ordered = pl.read_parquet(run_dir(second.counts["ingest_id"]) / "checked-ordered-all.parquet")
        assert ordered.row(0, named=True)["rel_path"] == ARRIVING  # last scan's pending folder came first
        update = ordered.filter(pl.col("status") == "update").row(0, named=True)
        assert (update["rel_path"], update["new_parts"]) == (LATE_SESSION, ["output kilosort probe_2/ks25"])
        assert {share: (m["ingest_id"], m["pending"]) for share, m in watermarks().items()} == {
            "N": (second.counts["ingest_id"], []), "backup": (second.counts["ingest_id"], [])}
        assert second.watermarks["N"].scanned_at >= marks["N"]["scanned_at"]

    def test_a_rescan_never_resumes_a_plain_run_of_the_profile_left_open(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        auto_approving(campaign)
        import_subjects_csv(campaign.subjects_csv)
        paused_elsewhere = open_ingest(load_profile(campaign.profile_path), None)  # a plain run, waiting
        outcome = rescan(profile_path=str(campaign.profile_path))
        assert outcome.counts["ingest_id"] != paused_elsewhere and outcome.counts["inserted"] == len(GOOD_SESSIONS)
        assert (schema.IngestRun & {"ingest_id": paused_elsewhere}).to_dicts()[0]["status"] == "open"
        assert len(schema.Session & {"ingest_id": paused_elsewhere}) == 0

    def test_a_rescan_that_finds_nothing_new_ends_without_waiting_for_a_person(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        auto_approving(campaign)
        first = rescan(profile_path=str(campaign.profile_path))
        assert first.counts["inserted"] == len(GOOD_SESSIONS)
        data = yaml.safe_load(campaign.profile_path.read_text())
        data["approval"]["auto_approve_clean"] = False  # a person would be asked, if anything were offered
        campaign.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))

        # With a pause this run would fail after 2 s (timed out), as the next test's does.
        second = rescan(profile_path=str(campaign.profile_path), approval_timeout_s=2, return_state=True)
        assert second.is_completed(), second.message
        counts = second.result().counts
        assert counts["inserted"] == 0
        assert counts["decision"].startswith("approved by no decision needed (auto)")
        [run] = (schema.IngestRun & {"ingest_id": counts["ingest_id"]}).to_dicts()
        assert run["status"] != "timed_out" and run["approval_source"] == "auto"
        [logged] = (schema.DecisionLog & {"ingest_id": counts["ingest_id"]}).to_dicts()
        assert "no session was offered for insertion" in logged["note"] and "duplicate" in logged["note"]
        assert sessions_in_db() == GOOD_SESSIONS

    def test_a_failed_rescan_leaves_the_watermark_where_it_was(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        state = rescan(profile_path=str(campaign.profile_path), approval_timeout_s=2, return_state=True)
        assert state.is_failed()
        assert "timed-out" in flow_run_tags(state.state_details.flow_run_id)  # tagged as the manual ingest is
        # The flow's state may be the server's "failed and never resumed" (the pause expired): the ledger says why.
        [run] = schema.IngestRun.to_dicts()
        assert (run["status"], run["approval_source"]) == ("timed_out", "timeout")
        assert watermarks() == {} and sessions_in_db() == set()

    def test_a_rejected_rescan_ends_rejected_as_the_manual_ingest_does(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        process = start_cli("rescan", str(campaign.profile_path), "--json")
        paused = wait_for_paused_run(campaign.profile_path, process)
        rejected = cli("reject", str(paused.id), "--approver", "PI", "--note", "wrong rig clock")
        assert rejected.returncode == 0, rejected.stderr[-3000:]
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]
        assert json_out(stdout)["counts"]["inserted"] == 0 and sessions_in_db() == set()
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(paused.id)
        assert (run.state.name, "rejected" in run.tags) == ("Rejected", True)
        assert "rejected by PI (cli)" in run.state.message and "nothing inserted" in run.state.message

    def test_a_share_another_rescan_holds_is_left_to_it(self, tmp_path):
        from prefect.concurrency.sync import concurrency

        campaign = demo_campaign(tmp_path, poll_s=1)
        auto_approving(campaign)
        import_subjects_csv(campaign.subjects_csv)
        rescan(profile_path=str(campaign.profile_path), shares=["backup"])  # creates the backup share's limit
        with concurrency(slot_name("demo-ephys", "N"), occupy=1, strict=True):  # a re-scan of N is running
            outcome = rescan(profile_path=str(campaign.profile_path), busy_wait_s=1)
        assert outcome.busy_shares == ["N"] and outcome.counts["discovered"] == 1
        assert set(watermarks()) == {"backup"}
        assert sessions_in_db() == {("25843", datetime(2024, 3, 12, 14, 2, 11))}


    def test_rescan_from_the_command_line_prints_each_shares_watermark(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        auto_approving(campaign)
        import_subjects_csv(campaign.subjects_csv)
        result = cli("rescan", str(campaign.profile_path), "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        outcome = json_out(result.stdout)
        assert (outcome["counts"]["inserted"], outcome["busy_shares"]) == (5, [])
        assert {share: mark["ingest_id"] for share, mark in outcome["watermarks"].items()} == \
            {"N": outcome["counts"]["ingest_id"], "backup": outcome["counts"]["ingest_id"]}
        assert sessions_in_db() == GOOD_SESSIONS


class TestIngestParameters:
    def test_dry_run_checks_everything_and_inserts_and_records_nothing(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        counts = mass_ingest(profile_path=str(campaign.profile_path), dry_run=True)
        assert (counts.discovered, counts.duplicates, counts.quarantined, counts.inserted) == (8, 1, 2, 0)
        assert counts.decision == "dry run: 5 ready, nothing inserted"
        assert sessions_in_db() == set() and len(schema.IngestRun()) == 0

    def test_shares_limit_the_scan_and_a_wrong_name_says_which_exist(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        counts = mass_ingest(profile_path=str(campaign.profile_path), shares=["backup"], dry_run=True)
        assert (counts.discovered, counts.decision) == (1, "dry run: 1 ready, nothing inserted")
        state = mass_ingest(profile_path=str(campaign.profile_path), shares=["Q"], return_state=True)
        assert "no share named 'Q'; its shares are N, backup" in str(state.result(raise_on_failure=False))
