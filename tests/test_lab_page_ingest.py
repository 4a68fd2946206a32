"""Issue 11's Done-when, as a person runs it: the lab page's tree ingested whole with one profile.

On the tree the lab's "Mass data ingestion" page draws (tests/lab_page_tree.py: its exact names, the
``np.ximec.ap.meta`` typo included), with the ephys subjects imported and the imaging ones not,
``mass-ingest run profiles/moser-lab.yaml --root TREE --approve`` inserts all 8 sessions; ``sessions
--json`` shows every recording, output and inferred start; ``todo`` lists the imaging items and a
person marks one done. Real Prefect server, real database, the CLI in child processes.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from tests.e2e import cli, json_out, latest_flow_run_id
from tests.lab_page_tree import EPHYS_SUBJECTS, make_lab_page_tree
from tests.test_review_page import _artifacts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server", "clean_database")]


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result


def test_the_lab_page_share_goes_in_whole_and_its_follow_up_closes(tmp_path) -> None:
    tree = make_lab_page_tree(tmp_path)
    _ok(cli("subjects", "import", str(tree.subjects_csv)))

    run = _ok(cli("run", str(tree.profile), "--root", str(tree.root), "--approve", "--json", timeout=900))
    assert json_out(run.stdout)["inserted"] == 8
    # The approval summary named the imaging subjects it would create, and no imported (ephys) one.
    [summary] = _artifacts(latest_flow_run_id(tree.profile))["approval-summary"]
    assert "2 new subjects will be created on insertion" in summary.data
    assert all(f"new subject {s} will be created" in summary.data for s in ("23456", "23457"))
    assert not any(f"new subject {s} " in summary.data for s in EPHYS_SUBJECTS)

    sessions = json.loads(_ok(cli("sessions", "--json")).stdout)
    assert sorted(s["session_id"] for s in sessions) == tree.session_ids
    by_id = {s["session_id"]: s for s in sessions}
    ingest_id = sessions[0]["ingest_id"]
    for subject, start in tree.ephys:
        session = by_id[f"{subject}/{start:%Y-%m-%d_%H-%M-%S}"]
        probes = [r for r in session["recordings"] if r["system"] == "neuropixels"]
        assert sorted(r["name"] for r in probes) == ["probe_1", "probe_2", "probe_3"]
        # Each probe's .ap.meta paired with its differently named .ap.bin, and its serial read.
        assert all(sorted(f.rsplit("/", 1)[1] for f in r["files"]) == ["np.ximec.ap.meta", "npx.imec.ap.bin"]
                   and r["serial"] for r in probes)
        assert [r["name"] for r in session["recordings"] if r["system"] != "neuropixels"] == ["motive"]
        assert (session["modality"], session["start_inferred"], session["ingest_id"]) == ("ephys", False, ingest_id)
        assert session["tasks"] and session["projects"] == ["grid-cells"]
    for imaging in tree.imaging:
        session = by_id[f"{imaging.subject}/{imaging.session_start:%Y-%m-%d_%H-%M-%S}"]
        start = datetime.fromisoformat(session["session_start"])
        assert (session["modality"], session["start_inferred"]) == ("imaging", True)
        assert start == imaging.session_start and start.time() != datetime.min.time()  # not midnight
        assert [(r["system"], r["name"]) for r in session["recordings"]] == [
            ("scanimage", "openfield"), ("video", "openfield_00001"), ("video", "openfield_00002")]
        scanimage = session["recordings"][0]
        assert scanimage["n_files"] == 4 and scanimage["details"]["n_frames"] > 0  # stitched: 2 acquisitions x 2
        dlc = sorted((o["path"], o["recording"]) for o in session["outputs"] if o["kind"] == "dlc")
        assert dlc == [(f"dlc{imaging.subject}_openfield_00001", "openfield_00001"),
                       (f"dlc_{imaging.subject}_openfield_00002", "openfield_00002")]
        # One suite2p run (in the session folder), marked preferred for its combined planes.
        suite2p = [o for o in session["outputs"] if o["kind"].startswith("suite2p")]
        assert [(o["kind"], o["preferred"]) for o in suite2p] == [("suite2p", True)]
        assert "suite2p/combined/iscell.npy" in suite2p[0]["files"]
        assert session["projects"] == ["mec-imaging"]

    # The imaging subjects were created on insertion, with a follow-up item for their details.
    todo = json.loads(_ok(cli("todo", "--subject", "23457", "--json")).stdout)
    needs = sorted((t["need"], t["item"]) for t in todo)
    assert needs == [("arena", "arena"), ("start time", "session start"), ("subject", "23457"), ("task", "tasks")]
    start_item = next(t for t in todo if t["need"] == "start time")
    _ok(cli("todo", "done", start_item["item_id"][:8], "--by", "Ada"))
    arena_item = next(t for t in todo if t["need"] == "arena")
    _ok(cli("todo", "done", arena_item["item_id"], "--value", "open field 1 m", "--by", "Ada"))
    left = json.loads(_ok(cli("todo", "--subject", "23457", "--json")).stdout)
    assert sorted(t["need"] for t in left) == ["subject", "task"]
    # Who did what, when, and the arena entered, are shown with the session.
    [held] = json.loads(_ok(cli("sessions", "--subject", "23457", "--json")).stdout)
    assert sorted((e["need"], e["value"], e["done_by"]) for e in held["entered"]) == [
        ("arena", "open field 1 m", "Ada"), ("start time", "", "Ada")]
    table = _ok(cli("sessions", "--subject", "23457")).stdout
    assert "inferred, confirmed by" in table and "to confirm" not in table  # the table names Ada on the next line
    printed = _ok(cli("todo", "--subject", "23457")).stdout
    assert "subject" in printed and "start time" not in printed

    # Scanned again (a video touched since): the 8 sessions are known under the same keys; nothing goes in twice.
    os.utime(tree.root / tree.imaging[0].rel_path / "openfield_00001.mp4")
    again = json_out(_ok(cli("run", str(tree.profile), "--root", str(tree.root), "--approve", "--json",
                             timeout=900)).stdout)
    assert (again["discovered"], again["duplicates"], again["inserted"]) == (8, 8, 0)
    assert sorted(s["session_id"] for s in json.loads(_ok(cli("sessions", "--json")).stdout)) == tree.session_ids
