"""A decision is final and remembered: one pause per ingest, one decision per ingest, held sessions stay out
until released. Real CLI processes, the session's Prefect server and the embedded database; nothing mocked.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import pytest
import yaml

from mass_ingest.db import schema
from mass_ingest.db.decisions import decision_log
from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import cli, demo_campaign, json_out, paused_demo_run, start_cli
from tests.test_flow import GOOD_SESSIONS, sessions_in_db

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

S = "25843"  # the demo subject with three good sessions
S_SESSIONS = {s for s in GOOD_SESSIONS if s[0] == S}


def said(result) -> str:
    """stdout and stderr of a CLI run, with the console's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def flow_run_state(flow_run_id):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    return run.state, run.tags


def paused_runs_of(profile_path) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    with get_client(sync_client=True) as client:
        return [r for r in client.read_flow_runs(flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=50)
                if r.parameters.get("profile_path") == str(profile_path)]


def print_decision_log(title: str) -> list[dict]:
    rows = decision_log()
    print(f"\ndecision log ({title}):")
    for r in rows:
        print(f"  {r['when']:%Y-%m-%d %H:%M:%S} | ingest {r['ingest_id']} | {r['what']:<20} | by {r['who']:<12} | "
              f"{r['where']:<4} | excluded {r['excluded']} | note {r['note']!r}")
    return rows


def finish(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr[-3000:]
    return stdout


class TestOnePauseOneDecision:
    def test_two_runs_of_one_ingest_give_one_pause_and_the_second_says_where_and_how(self, tmp_path):
        campaign, first, paused = paused_demo_run(tmp_path, "--json")
        second = cli("run", str(campaign.profile_path))
        assert second.returncode == 0, second.stderr[-3000:]
        text = said(second)
        assert f"already waits for a decision in flow run {paused.name}" in text
        assert f"mass-ingest approve {paused.id}" in text and f"mass-ingest reject {paused.id}" in text
        assert [r.id for r in paused_runs_of(campaign.profile_path)] == [paused.id]
        assert len(schema.IngestRun()) == 1
        approved = cli("approve", paused.name, "--approver", "Ada")  # by the flow run's name
        assert approved.returncode == 0, approved.stderr[-3000:]
        assert json_out(finish(first))["inserted"] == 5
        assert sessions_in_db() == GOOD_SESSIONS

    def test_after_a_rejection_an_approval_is_refused_and_nothing_is_inserted(self, tmp_path):
        campaign, process, paused = paused_demo_run(tmp_path, "--json")
        ingest_id = schema.IngestRun.to_dicts()[0]["ingest_id"]
        rejected = cli("reject", ingest_id, "--approver", "PI", "--note", "wrong share")  # by the ingest id
        assert rejected.returncode == 0, rejected.stderr[-3000:]
        counts = json_out(finish(process))
        assert (counts["inserted"], sessions_in_db()) == (0, set())
        state, tags = flow_run_state(paused.id)
        assert (state.name, "rejected" in tags) == ("Rejected", True)
        assert "rejected by PI" in state.message

        late = cli("approve", str(paused.id), "--approver", "student", "--note", "looks fine")
        assert late.returncode == 2
        assert f"ingest {ingest_id} was decided already: rejected by PI (cli)" in said(late)
        assert "'wrong share'" in said(late)
        again = cli("run", str(campaign.profile_path), "--approve", "--json")  # a new ingest: all of it held
        assert again.returncode == 0, again.stderr[-3000:]
        assert (json_out(again.stdout)["inserted"], json_out(again.stdout)["held"]) == (0, 5)
        assert sessions_in_db() == set()
        rows = print_decision_log("a rejection, a late approval, a new run")
        mine = [(r["what"], r["who"], r["note"]) for r in rows if r["ingest_id"] == ingest_id]
        assert mine == [("rejected", "PI", "wrong share"), ("approved (refused)", "student", "looks fine")]
        [held] = {r["reason"] for r in schema.HeldSession.to_dicts()},
        assert held == {"rejected"}

    @pytest.mark.parametrize("form", ["ingest id", "flow-run id", "flow-run name", "ingest id prefix"])
    def test_approve_accepts_each_id_form(self, tmp_path, form):
        campaign, process, paused = paused_demo_run(tmp_path, "--json")
        ingest_id = schema.IngestRun.to_dicts()[0]["ingest_id"]
        ref = {"ingest id": ingest_id, "flow-run id": str(paused.id), "flow-run name": paused.name,
               "ingest id prefix": ingest_id[:8]}[form]
        approved = cli("approve", ref, "--approver", "Ada", "--exclude", "102_1/*")
        assert approved.returncode == 0, approved.stderr[-3000:]
        assert f"ingest {ingest_id} approved by Ada (cli)" in said(approved)
        assert json_out(finish(process))["inserted"] == 4
        assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}


    def test_a_resumed_ingest_refuses_a_different_exclude_and_finishes_as_decided(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        profile = str(campaign.profile_path)
        crashed = cli("run", profile, "--approve", "--exclude", "102_1/*", "--note", "histology first",
                      env={"MASS_INGEST_TEST_FAULT": "apply-decision kill"})  # decided, then the process died
        assert crashed.returncode != 0 and sessions_in_db() == set()
        [ingest] = schema.IngestRun.to_dicts()
        other = cli("run", profile, "--approve", "--exclude", f"{S}/*")
        assert other.returncode == 2, other.stdout[-2000:] + other.stderr[-2000:]
        text = said(other)
        assert f"ingest {ingest['ingest_id']} resumes with the decision it has: approved by" in text
        assert "leaving out 102_1/*: 'histology first'" in text
        assert f"This run's --exclude {S}/* would change it, and a decision is final: nothing was changed" in text
        assert "Traceback" not in other.stderr
        assert sessions_in_db() == set() and len(schema.IngestRun()) == 1
        finished = cli("run", profile, "--approve", "--json")  # a bare --approve changes nothing: it finishes
        assert finished.returncode == 0, finished.stderr[-3000:]
        assert (json_out(finished.stdout)["ingest_id"], json_out(finished.stdout)["inserted"]) == \
            (ingest["ingest_id"], 4)
        assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}


class TestHeldSessions:
    def test_left_out_sessions_stay_out_until_released(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        profile = str(campaign.profile_path)
        typo = cli("run", profile, "--approve", "--exclude", "25834/*")
        assert typo.returncode == 2
        assert "pattern '25834/*' matches no session offered for approval (nearest: 25843/" in said(typo)
        alone = cli("run", profile, "--exclude", f"{S}/*")
        assert alone.returncode == 2 and "--exclude goes with --approve" in said(alone)

        first = cli("run", profile, "--approve", "--exclude", f"{S}/*", "--note", "S: histology first", "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        assert (json_out(first.stdout)["inserted"], json_out(first.stdout)["left_out"]) == (2, 3)
        assert sessions_in_db() == GOOD_SESSIONS - S_SESSIONS

        second = cli("run", profile, "--approve", "--json")
        assert second.returncode == 0, second.stderr[-3000:]
        assert (json_out(second.stdout)["inserted"], json_out(second.stdout)["held"]) == (0, 3)
        assert sessions_in_db() == GOOD_SESSIONS - S_SESSIONS

        unknown = cli("release", "26018/*", "--note", "x")
        assert unknown.returncode == 2 and "matches no held session" in said(unknown)
        released = cli("release", f"{S}/*", "--note", "histology done")
        assert released.returncode == 0, released.stderr[-3000:]
        assert "3 session(s) released" in said(released)
        third = cli("run", profile, "--approve", "--json")
        assert third.returncode == 0, third.stderr[-3000:]
        assert json_out(third.stdout)["inserted"] == 3
        assert sessions_in_db() == GOOD_SESSIONS
        held = schema.HeldSession.to_dicts()
        assert {(r["reason"], r["held_by"], r["note"]) for r in held} == {("left_out", held[0]["held_by"],
                                                                           "S: histology first")}
        assert len(schema.HeldSession.Release()) == 3

    def test_a_folder_path_names_the_session_it_shows(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        import_subjects_csv(campaign.subjects_csv)
        folder = campaign.shares["N"] / "recordings" / "102_1" / "2024-05-14_15-22-09"
        assert folder.is_dir()
        result = cli("run", str(campaign.profile_path), "--approve", "--exclude", f"{folder}/", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        assert sessions_in_db() == GOOD_SESSIONS - {("102_1", datetime(2024, 5, 14, 15, 22, 9))}

    def test_an_undone_ingest_is_not_reinserted_by_an_auto_approving_rescan(self, tmp_path):
        campaign = demo_campaign(tmp_path, poll_s=1)
        data = yaml.safe_load(campaign.profile_path.read_text())
        data["approval"]["auto_approve_clean"] = True
        campaign.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
        import_subjects_csv(campaign.subjects_csv)
        first = cli("run", str(campaign.profile_path), "--approve", "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        ingest_id = json_out(first.stdout)["ingest_id"]
        undone = cli("undo", ingest_id[:8], "--yes", "--note", "wrong time zone")  # by a prefix
        assert undone.returncode == 0, undone.stderr[-3000:]
        assert sessions_in_db() == set()
        rescan = cli("rescan", str(campaign.profile_path), "--json")
        assert rescan.returncode == 0, rescan.stderr[-3000:]
        assert (json_out(rescan.stdout)["counts"]["inserted"], json_out(rescan.stdout)["counts"]["held"]) == (0, 5)
        assert sessions_in_db() == set()
        assert {r["reason"] for r in schema.HeldSession.to_dicts()} == {"undone"}


class TestPersonsMistakes:
    def test_a_missing_profile_fails_before_any_flow_run_without_a_traceback(self, tmp_path):
        from prefect import get_client
        from prefect.client.schemas.sorting import FlowRunSort

        with get_client(sync_client=True) as client:
            before = len(client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200))
        result = cli("run", str(tmp_path / "no-such.yaml"))
        assert result.returncode == 2
        assert f"profile {tmp_path / 'no-such.yaml'}: no such file" in said(result)
        assert "Traceback" not in result.stderr
        with get_client(sync_client=True) as client:
            assert len(client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)) == before

    def test_runs_prints_whole_ids_and_which_ingests_wait(self, tmp_path):
        campaign, process, paused = paused_demo_run(tmp_path)
        ingest_id = schema.IngestRun.to_dicts()[0]["ingest_id"]
        listed = cli("runs")
        assert listed.returncode == 0, listed.stderr[-3000:]
        assert ingest_id in listed.stdout and str(paused.id) in listed.stdout
        assert f"ingest {ingest_id} waits for a decision: mass-ingest approve {paused.id}" in said(listed)
        cli("reject", str(paused.id)[:8], "--note", "test over")
        process.communicate(timeout=240)
