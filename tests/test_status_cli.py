"""`mass-ingest status` and `mass-ingest history`, run as a person runs them: CLI processes on the demo campaign,
the session's Prefect server and the embedded database; nothing mocked.
"""

from __future__ import annotations

import getpass
import os

import pytest

from mass_ingest.db.subjects import import_subjects_csv
from tests.e2e import cli, demo_campaign, json_out, paused_demo_run
from tests.test_decisions import finish, said

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]

LEFT_OUT = "25843/2024-03-05_10-30-58"
SETTLING = "102_1/2024-05-14_15-22-09"  # its .ap.bin is touched: data still arriving
QUARANTINED = {"26018/2024-04-25_11-08-02": ["QUALITY.EVERY_AP_BIN_HAS_META", "QUALITY.PROBE_COUNT_MATCHES_IMPLANTS"],
               "m9/2024-06-03_10-12-44": ["QUALITY.SUBJECT_KNOWN"]}


def ok(result) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def status_json(*args: str) -> dict:
    return json_out(ok(cli("status", *args, "--json")))


def history_json(*patterns: str) -> list[dict]:
    return json_out(ok(cli("history", *patterns, "--json")))["folders"]


def test_status_shows_the_waiting_ingest_then_the_quarantine_by_reason_and_the_held_session(tmp_path):
    campaign, process, paused = paused_demo_run(tmp_path)

    # Paused: the ingest waits, with its flow run and the commands that decide it; its quarantine is stored already.
    text = said(cli("status", str(campaign.profile_path)))
    assert "waiting for approval: ingest" in text
    assert f"flow run: {paused.name} {paused.id}" in text
    assert f"approve: mass-ingest approve {paused.id}" in text and f"reject: mass-ingest reject {paused.id}" in text
    [profile] = status_json("demo-ephys")["profiles"]
    assert [w["flow_run_id"] for w in profile["waiting"]] == [str(paused.id)]
    assert {q["session_id"]: q["codes"] for q in profile["quarantined"]} == QUARANTINED

    ok(cli("approve", str(paused.id), "--exclude", LEFT_OUT, "--approver", "Ada", "--note", "probe 2 is noisy"))
    finish(process)

    result = cli("status")
    text = said(result)
    print(result.stdout)
    assert "profile demo-ephys: latest ingest" in text and "(completed, started" in text
    assert "share N: 2 quarantined, 0 pending, 1 held" in text
    assert "QUALITY.SUBJECT_KNOWN (1 session): the subject is not in the database" in text
    assert "m9/2024-06-03_10-12-44: subject 'm9' is not known; import it with `mass-ingest subjects import`" in text
    assert "QUALITY.EVERY_AP_BIN_HAS_META (1 session): an .ap.bin has no .ap.meta beside it" in text
    assert "26018/2024-04-25_11-08-02: probe_1/npx.imec.ap.bin has no .ap.meta" in text
    assert "QUALITY.PROBE_COUNT_MATCHES_IMPLANTS (1 session)" in text
    assert f"{LEFT_OUT} (recordings/{LEFT_OUT}): left out by Ada on" in text and "'probe 2 is noisy'" in text
    assert "waiting for approval: ingest" not in text
    assert result.stdout.splitlines()[-1] == \
        "total: 2 quarantined, 0 pending, 1 held, 0 waiting for approval, in 1 profile"

    data = status_json(str(campaign.profile_path))
    [profile] = data["profiles"]
    assert profile["waiting"] == [] and profile["pending"] == []
    assert {(g["share"], g["code"], g["sessions"], tuple(e["session_id"] for e in g["examples"]))
            for g in profile["reasons"]} == {("N", code, 1, (sid,)) for sid, codes in QUARANTINED.items()
                                             for code in codes}
    assert [(h["session_id"], h["reason"], h["held_by"], h["note"]) for h in profile["held"]] == \
        [(LEFT_OUT, "left_out", "Ada", "probe 2 is noisy")]
    assert data["totals"] == {"quarantined": 2, "pending": 0, "held": 1, "waiting for approval": 0, "profiles": 1}

    unknown = cli("status", "no-such-profile")
    assert unknown.returncode == 1 and "'no-such-profile' is neither a profile file nor a profile" in said(unknown)
    assert "demo-ephys" in said(unknown)


def test_history_follows_a_folder_through_every_ingest_and_status_keeps_only_what_holds_now(tmp_path):
    campaign = demo_campaign(tmp_path)
    import_subjects_csv(campaign.subjects_csv)
    profile = str(campaign.profile_path)
    arriving = campaign.shares["N"] / "recordings" / SETTLING / "probe_1" / "npx.imec.ap.bin"
    written = arriving.stat().st_mtime
    os.utime(arriving)  # written just now: still arriving

    first = json_out(ok(cli("run", profile, "--approve", "--note", "first pass", "--json")))
    assert (first["inserted"], first["pending"], first["quarantined"]) == (4, 1, 2)
    [now] = status_json()["profiles"]
    assert [(p["session_id"], p["ingest_id"]) for p in now["pending"]] == [(SETTLING, first["ingest_id"])]
    assert "npx.imec.ap.bin changed" in now["pending"][0]["reasons"][0]

    os.utime(arriving, (written, written))  # the copy finished long ago after all
    ok(cli("undo", first["ingest_id"], "--yes", "--note", "implant table was wrong"))
    assert {h["reason"] for h in status_json()["profiles"][0]["held"]} == {"undone"}
    ok(cli("release", "25843/*", "26018/2024-04-18_13-15-40", "--note", "implant table fixed"))
    second = json_out(ok(cli("run", profile, "--approve", "--exclude", LEFT_OUT, "--note", "probe 2 is noisy",
                             "--json")))
    assert (second["inserted"], second["pending"], second["quarantined"], second["left_out"]) == (4, 0, 2, 1)

    # Now: the quarantine of the latest ingest, nothing pending (it went in), the one left out held.
    [now] = status_json()["profiles"]
    assert now["pending"] == []
    assert {q["session_id"]: q["ingest_id"] for q in now["quarantined"]} == \
        {sid: second["ingest_id"] for sid in QUARANTINED}
    assert [(h["session_id"], h["reason"]) for h in now["held"]] == [(LEFT_OUT, "left_out")]

    me = getpass.getuser()
    [left_out] = history_json(LEFT_OUT)
    assert [(e["what"], e["ingest_id"], e["by"], e["note"]) for e in left_out["events"]] == [
        ("inserted", first["ingest_id"], me, "first pass"),
        ("undone", first["ingest_id"], me, "implant table was wrong"),
        ("released", first["ingest_id"], me, "implant table fixed"),
        ("left out", second["ingest_id"], me, "probe 2 is noisy")]
    [unknown_subject] = history_json("N:recordings/m9/2024-06-03_10-12-44")
    assert [(e["what"], e["ingest_id"], e["codes"]) for e in unknown_subject["events"]] == [
        ("quarantined", first["ingest_id"], ["QUALITY.SUBJECT_KNOWN"]),
        ("quarantined", second["ingest_id"], ["QUALITY.SUBJECT_KNOWN"])]
    [settled] = history_json(str(arriving.parent.parent))  # the folder's whole path
    assert [(e["what"], e["ingest_id"]) for e in settled["events"]] == [
        ("pending", first["ingest_id"]), ("inserted", second["ingest_id"])]

    result = cli("history", LEFT_OUT, "m9/*")
    text = said(result)
    print(result.stdout)
    assert f"{LEFT_OUT} (N:recordings/{LEFT_OUT})" in text
    assert f"inserted ingest {first['ingest_id']} (demo-ephys)" in text
    assert f"undone by {me}: 'implant table was wrong' ingest {first['ingest_id']}" in text
    assert f"left out by {me}: 'probe 2 is noisy' ingest {second['ingest_id']}" in text
    assert f"quarantined [QUALITY.SUBJECT_KNOWN] ingest {second['ingest_id']} (demo-ephys)" in text
    assert "subject 'm9' is not known" in text
    assert "not recorded per folder: ingests that found it as a duplicate or a copy" in text

    wrong = cli("history", "25834/2024-03-05*")
    assert wrong.returncode == 2
    assert "pattern '25834/2024-03-05*' matches no session folder the database has a record of" in said(wrong)
    assert f"nearest: {LEFT_OUT}" in said(wrong)
