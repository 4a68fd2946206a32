"""Approval from the terminal, end to end: `mass-ingest approve ID --exclude ...` resumes a paused run.

Real CLI processes, a real Prefect server and the embedded database (see tests/test_flow.py for
approval from the UI's API, rejection and timeout).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from mass_ingest.db import schema
from tests.e2e import cli, json_out, paused_demo_run

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]


def test_approval_from_the_command_line_with_exclusions_inserts_the_rest_and_records_who_and_where(tmp_path):
    campaign, process, paused = paused_demo_run(tmp_path, "--json")
    approved = cli("approve", str(paused.id), "--exclude", "25843/2024-04-*", "--exclude", "26018/2024-04-18_13-15-40",
                   "--approver", "Ada Lovelace", "--note", "April still being sorted")
    assert approved.returncode == 0, approved.stderr[-3000:]
    said = " ".join(approved.stdout.split())
    assert "approved by Ada Lovelace (cli)" in said and f"flow run {paused.id} resumed" in said
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr[-3000:]
    counts = json_out(stdout)
    assert (counts["inserted"], counts["left_out"]) == (3, 2)
    assert {(r["subject"], r["session_start"]) for r in schema.Session.proj().to_dicts()} == {
        ("25843", datetime(2024, 3, 5, 10, 30, 58)), ("25843", datetime(2024, 3, 12, 14, 2, 11)),
        ("102_1", datetime(2024, 5, 14, 15, 22, 9))}
    run = (schema.IngestRun & {"ingest_id": counts["ingest_id"]}).to_dicts()[0]
    assert (run["status"], run["approver"], run["approval_source"], run["note"], run["excluded"]["sessions"]) == (
        "completed", "Ada Lovelace", "cli", "April still being sorted",
        ["25843/2024-04-*", "26018/2024-04-18_13-15-40"])


def test_approving_something_that_names_no_ingest_says_so():
    result = cli("approve", "00000000-0000-0000-0000-000000000000")
    assert result.returncode == 2
    assert "'00000000-0000-0000-0000-000000000000' names no ingest and no flow run of one" in \
        " ".join(result.stderr.split())
