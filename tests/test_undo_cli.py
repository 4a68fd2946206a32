"""The ledger's commands as a person runs them: `mass-ingest runs`, `undo` (with and without
confirmation, and its refusal) and `todo`, in child processes on the embedded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mass_ingest.db import schema
from tests.e2e import cli
from tests.test_insert import KEY1, T2, candidate, ingest, subjects_and_probes  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("clean_database")


def answering(answer: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mass_ingest.cli", *args], input=answer, capture_output=True,
                          text=True, timeout=300, env=os.environ.copy())


def test_runs_lists_each_ingest_with_its_sessions() -> None:
    ingest([candidate(), candidate(T2)], "run-1")
    listed = cli("runs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    runs = json.loads(listed.stdout)
    assert [(r["ingest_id"], r["status"], r["sessions"]) for r in runs] == [("run-1", "completed", 2)]


def test_undo_lists_asks_and_deletes_only_when_confirmed() -> None:
    ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
    declined = answering("n\n", "undo", "run-1")
    assert declined.returncode == 1
    assert "session__task" in declined.stdout and "nothing deleted" in declined.stdout
    assert len(schema.Session()) == 1
    done = cli("undo", "run-1", "--yes")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(schema.Session()) == 0
    assert (schema.IngestRun & {"ingest_id": "run-1"}).to_dicts()[0]["status"] == "undone"


def test_undo_refuses_with_the_reason_when_a_person_confirmed_a_task() -> None:
    ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
    schema.Session.Task.update1({**KEY1, "task_order": 1, "confirmed": True})
    refused = cli("undo", "run-1", "--yes")
    assert refused.returncode == 1
    assert "cannot be undone" in refused.stderr and "a person confirmed 1 of its tasks" in refused.stderr
    assert len(schema.Session()) == 1


def test_todo_prints_what_a_subject_still_needs() -> None:
    ingest([candidate(probes={"probe_1": "21144007318"}, tasks=[("sleep", 0, "SLEEP")])], "run-1")
    printed = cli("todo", "--subject", "25843")
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert "to enter by hand (3 items)" in printed.stdout
    assert "probe association" in printed.stdout and "1. sleep" in printed.stdout
    assert "(0 items)" in cli("todo", "--subject", "26018").stdout


def test_todo_done_records_the_person_and_the_item_leaves_the_list() -> None:
    ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
    items = json.loads(cli("todo", "--subject", "25843", "--json").stdout)
    arena = next(i for i in items if i["need"] == "arena")
    refused = cli("todo", "done", arena["item_id"][:8], "--by", "Ada")
    assert refused.returncode == 2 and "an arena needs its name" in refused.stderr
    done = cli("todo", "done", arena["item_id"][:8], "--value", "box 1m", "--by", "Ada")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "arena 1. sleep: box 1m (by Ada)" in done.stdout
    left = json.loads(cli("todo", "--subject", "25843", "--json").stdout)
    assert arena["item_id"] not in {i["item_id"] for i in left} and len(left) == len(items) - 1
    assert (schema.FollowUpDone & {"item_id": arena["item_id"]}).to_dicts()[0]["done_by"] == "Ada"


def test_sessions_prints_what_the_pipeline_holds() -> None:
    ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
    listed = json.loads(cli("sessions", "--subject", "25843", "--json").stdout)
    assert [(s["session_id"], [r["name"] for r in s["recordings"]], s["ingest_id"]) for s in listed] == [
        ("25843/2024-03-05_10-30-58", ["probe_1"], "run-1")]
    printed = cli("sessions")
    assert printed.returncode == 0 and "25843/2024-03-05_10-30-58" in printed.stdout
