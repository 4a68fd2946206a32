"""Every recognised recording stored with its session, imaging subjects created on insertion, the
follow-up list of every modality and a person's entries, the sessions view, undo of all of it, and
an older database upgraded by activation; on the embedded database."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import pytest

from mass_ingest.candidates import Output, Recording, SessionCandidate
from mass_ingest.db import schema
from mass_ingest.db.followup import FollowupError, complete_item, done_items, followup_frame
from mass_ingest.db.session_view import session_records
from mass_ingest.db.undo import UndoRefused, plan_undo, undo_ingest
from tests.test_insert import KEY1, SN1, T2, candidate, ingest, rows, subjects_and_probes  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("clean_database")

DAY = datetime(2022, 4, 19, 10, 31, 2)  # the first frame of a date-only folder: not midnight
IMAGING_KEY = {"subject": "23456", "session_start": DAY}


def imaging(subject: str = "23456", start: datetime = DAY) -> SessionCandidate:
    """The lab page's imaging folder: one stitched ScanImage recording, two videos, two DLC outputs, suite2p."""
    rel = f"recordings/{subject}/{start:%Y%m%d}"
    header = {"n_frames": 4000, "frame_width": 512, "frame_height": 512, "started": start.isoformat()}
    return SessionCandidate(
        share="N", rel_path=rel, location=f"/mnt/n/{rel}", subject=subject, session_start=start, modality="imaging",
        start_inferred=True,
        recordings=[Recording(system="scanimage", name="openfield", folder="",
                              files=["openfield_00001_00001.tif", "openfield_00002_00001.tif"], n_files=4,
                              details=json.dumps(header)),
                    Recording(system="video", name="openfield_00001", files=["openfield_00001.mp4"], n_files=1,
                              details=json.dumps({"duration_s": 612.5})),
                    Recording(system="video", name="openfield_00002", files=["openfield_00002.mp4"], n_files=1)],
        outputs=[Output(kind="dlc", path=f"dlc{subject}_openfield_00001", recording="openfield_00001",
                        files=[f"{subject}.h5", f"{subject}_meta.pickle"]),
                 Output(kind="dlc", path=f"dlc_{subject}_openfield_00002", recording="openfield_00002",
                        files=[f"{subject}.h5"]),
                 Output(kind="suite2p", path="suite2p/combined", files=["ops.npy"], preferred=True),
                 Output(kind="suite2p_split", path="suite2p/plane0", files=["ops.npy"]),
                 Output(kind="suite2p_split", path="suite2p/plane1", files=["ops.npy"])])


def ephys_with_tracking() -> SessionCandidate:
    found = candidate(probes={"probe_1": SN1}, tasks=[("sleep", 0, "SLEEP")])
    found.recordings = [Recording(system="motive", name="motive", folder="motive", files=["motive/take.csv"],
                                  n_files=3, details=json.dumps({"frame_rate": 120}))]
    return found


class TestEveryRecording:
    def test_an_imaging_session_goes_in_with_its_recordings_outputs_and_inferred_start(self) -> None:
        ingest([imaging()], "run-1")
        assert [(r["system"], r["recording"], r["folder"], r["files"], r["n_files"], r["details"], r["ingest_id"])
                for r in rows(schema.Session.SystemRecording)] == [
            ("scanimage", "openfield", "", ["openfield_00001_00001.tif", "openfield_00002_00001.tif"], 4,
             {"n_frames": 4000, "frame_width": 512, "frame_height": 512, "started": DAY.isoformat()}, "run-1"),
            ("video", "openfield_00001", "", ["openfield_00001.mp4"], 1, {"duration_s": 612.5}, "run-1"),
            ("video", "openfield_00002", "", ["openfield_00002.mp4"], 1, {}, "run-1")]
        assert rows(schema.Session.InferredStart) == [{**IMAGING_KEY, "inferred_from": ""}]
        assert [(r["output_path"], r["recording"], r["preferred"]) for r in rows(schema.Session.Output)] == [
            ("dlc23456_openfield_00001", "openfield_00001", True), ("dlc_23456_openfield_00002", "openfield_00002", True),
            ("suite2p/combined", "", True), ("suite2p/plane0", "", False), ("suite2p/plane1", "", False)]

    def test_an_ephys_session_keeps_its_probe_files_and_its_tracking(self) -> None:
        found = ephys_with_tracking()
        found.probes[0].bin_size = 10
        ingest([found], "run-1")
        assert rows(schema.Session.ProbeFiles) == [{**KEY1, "recording": "probe_1",
                                                     "files": ["probe_1/npx.imec.ap.meta", "probe_1/npx.imec.ap.bin"]}]
        assert [(r["system"], r["recording"], r["folder"]) for r in rows(schema.Session.SystemRecording)] == [
            ("motive", "motive", "motive")]
        assert rows(schema.Session.InferredStart) == []

    def test_two_recordings_of_one_name_in_two_folders_are_told_apart_by_folder(self) -> None:
        found = candidate()
        found.recordings = [Recording(system="motive", name="motive", folder=f, files=[f"{f}/a.csv"])
                            for f in ("motive", "day2/motive")]
        ingest([found], "run-1")
        assert [r["recording"] for r in rows(schema.Session.SystemRecording)] == ["day2/motive/motive", "motive"]


class TestNewSubjects:
    def test_an_unknown_imaging_subject_is_created_with_its_session_and_listed_for_its_details(self) -> None:
        ingest([imaging()], "run-1")
        assert rows(schema.Subject, subject="23456") == [{"subject": "23456", "source": "mass-ingest"}]
        assert rows(schema.CreatedSubject) == [{"subject": "23456", "ingest_id": "run-1"}]
        subject_items = followup_frame(ingest_id="run-1").filter(pl.col("need") == "subject")
        assert subject_items.select("session_id", "item").rows() == [("23456", "23456")]

    def test_a_known_subject_is_not_created_again(self) -> None:
        ingest([ephys_with_tracking()], "run-1")
        assert len(schema.CreatedSubject()) == 0

    def test_undo_deletes_the_sessions_parts_and_the_subjects_it_created(self) -> None:
        ingest([imaging(), ephys_with_tracking()], "run-1")
        plan = plan_undo("run-1")
        assert plan.blockers == []
        counted = {t.rsplit(".", 1)[1]: n for t, n in plan.deleted.items()}
        assert (counted["session__system_recording"], counted["subject"], counted["created_subject"],
                counted["session__inferred_start"], counted["session__probe_files"]) == (4, 1, 1, 1, 1)
        undo_ingest("run-1", "ada")
        assert len(schema.Session()) == len(schema.Session.SystemRecording()) == len(schema.CreatedSubject()) == 0
        assert [r["subject"] for r in rows(schema.Subject)] == ["25843"]  # imported, not created: kept

    def test_undo_keeps_a_created_subject_another_ingest_has_sessions_of(self) -> None:
        ingest([imaging()], "run-1")
        ingest([imaging(start=datetime(2022, 4, 20, 9, 0))], "run-2")
        assert "have sessions of other ingests" in " ".join(plan_undo("run-1").blockers)
        undo_ingest("run-2", "ada")
        undo_ingest("run-1", "ada")
        assert len(schema.Subject & {"subject": "23456"}) == 0


class TestFollowup:
    def test_a_large_list_read_in_pages_skips_and_repeats_no_item_when_one_is_completed_meanwhile(self,
                                                                                             monkeypatch) -> None:
        from mass_ingest.candidates import TaskHint
        from mass_ingest.db import followup

        sessions = []
        for subject in ("23456", "23457", "23458"):
            found = imaging(subject)
            found.task_hints = [TaskHint(order=1, name="sleep", start_s=0), TaskHint(order=2, name="run", start_s=600)]
            sessions.append(found)
        ingest(sessions, "run-1")
        tasks = schema.Session.Task & {"confirmed": False}
        whole = [(t["subject"], t["task_order"]) for t in tasks.to_dicts(order_by="KEY")]
        assert len(whole) == 6
        monkeypatch.setattr(followup, "_PAGE", 2)  # a page per subject
        pages = followup._in_pages(tasks, "task")
        read = [next(pages), next(pages)]  # the first page, then a person completes an item already listed
        first = followup_frame(subject="23456").filter(pl.col("need") == "task")["item_id"][0]
        complete_item(first, "Ada")
        read += list(pages)
        assert [(t["subject"], t["task_order"]) for t in read] == whole  # an offset would now skip a row

    def test_pages_give_the_values_datajoint_gives(self, monkeypatch) -> None:
        from mass_ingest.candidates import TaskHint
        from mass_ingest.db import followup

        sessions = []
        for subject in ("23456", "23457"):
            found = imaging(subject)
            found.task_hints = [TaskHint(order=1, name="sleep", start_s=0.5, kind="SLEEP"),
                                TaskHint(order=2, name="run", start_s=600)]
            sessions.append(found)
        ingest(sessions, "run-1")
        first = followup_frame(subject="23456").filter(pl.col("need") == "task")["item_id"][0]
        complete_item(first, "Ada")  # a confirmed task beside unconfirmed ones
        attributes = ("task", "task_type", "start_s", "stop_s", "arena", "confirmed")
        expected = schema.Session.Task.proj(*attributes).to_dicts(order_by="KEY")
        assert {t["confirmed"] for t in expected} == {True, False} and None in {t["stop_s"] for t in expected}
        monkeypatch.setattr(followup, "_PAGE", 2)
        read = list(followup._in_pages(schema.Session.Task, *attributes))
        assert read == expected
        if schema.Session.connection.adapter.backend != "mysql":  # MySQL's booleans are 0 and 1 to the driver
            assert [type(v) for v in read[0].values()] == [type(v) for v in expected[0].values()]

    def test_an_imaging_session_needs_its_tasks_arena_and_start_confirmed(self) -> None:
        ingest([imaging()], "run-1")
        frame = followup_frame(subject="23456")
        assert frame.select("session_id", "need", "item").rows() == [
            ("23456", "subject", "23456"),
            ("23456/2022-04-19_10-31-02", "arena", "arena"),
            ("23456/2022-04-19_10-31-02", "start time", "session start"),
            ("23456/2022-04-19_10-31-02", "task", "tasks")]
        assert "openfield (scanimage)" in frame.filter(pl.col("need") == "task")["detail"][0]
        assert frame["item_id"].n_unique() == 4 and all(len(i) == 16 for i in frame["item_id"])

    def test_marking_an_item_done_records_who_and_removes_it(self) -> None:
        ingest([imaging()], "run-1")
        start = followup_frame(subject="23456").filter(pl.col("need") == "start time")["item_id"][0]
        complete_item(start[:8], "Ada")
        assert "start time" not in followup_frame(subject="23456")["need"].to_list()
        done = done_items("23456").to_dicts()
        assert [(d["need"], d["item"], d["value"], d["done_by"], d["session_start"]) for d in done] == [
            ("start time", "session start", "", "Ada", DAY)]
        with pytest.raises(FollowupError, match="no open follow-up item"):
            complete_item(start, "Ada")
        # A person's work is not deleted by an undo.
        assert "completed 1 follow-up item" in " ".join(plan_undo("run-1").blockers)

    def test_an_imaging_sessions_arena_and_tasks_as_entered_are_shown_with_the_session_who_and_when(self) -> None:
        ingest([imaging()], "run-1")
        items = {r["need"]: r["item_id"] for r in followup_frame(subject="23456").to_dicts()}
        with pytest.raises(FollowupError, match="an arena needs its name"):
            complete_item(items["arena"], "Ada")  # no task row to hang it on: the value is all there is
        assert len(done_items()) == 0
        before = datetime.now().replace(microsecond=0)
        complete_item(items["arena"], "Ada", "open field 1 m")
        complete_item(items["task"], "Ola", "openfield 0-1200 s")
        complete_item(items["start time"], "Ada")
        [record] = session_records(subject="23456")
        assert [(e["need"], e["item"], e["value"], e["done_by"]) for e in
                sorted(record["entered"], key=lambda e: e["need"])] == [
            ("arena", "arena", "open field 1 m", "Ada"), ("start time", "session start", "", "Ada"),
            ("task", "tasks", "openfield 0-1200 s", "Ola")]
        assert all(datetime.fromisoformat(e["done_at"]) >= before for e in record["entered"])
        assert followup_frame(subject="23456")["need"].to_list() == ["subject"]

    def test_entered_values_go_where_the_pipeline_keeps_them(self) -> None:
        found = candidate(probes={"probe_1": SN1, "probe_2": "21144007318"}, tasks=[("sleep", 0, "SLEEP")],
                          outputs=[("kilosort", "probe_1/ks25", True)])
        ingest([found], "run-1")
        items = {(r["need"], r["item"]): r["item_id"] for r in followup_frame(subject="25843").to_dicts()}
        assert set(items) == {("task", "1. sleep"), ("arena", "1. sleep"), ("clustering", "probe_1/ks25"),
                              ("probe association", "probe_2")}
        complete_item(items[("task", "1. sleep")], "Ada")
        complete_item(items[("arena", "1. sleep")], "Ada", "box 1m")
        complete_item(items[("clustering", "probe_1/ks25")], "Ada", "Ada, 2024-06-02 14:00")
        with pytest.raises(FollowupError, match="no probe 'nope'"):
            complete_item(items[("probe association", "probe_2")], "Ada", "nope")
        complete_item(items[("probe association", "probe_2")], "Ada", "npx_2_25843")
        assert followup_frame(subject="25843").is_empty()
        task = rows(schema.Session.Task)[0]
        assert (task["confirmed"], task["arena"]) == (True, "box 1m")
        clustering = rows(schema.Session.Clustering)[0]
        assert (clustering["curator"], clustering["curation_time"]) == ("Ada", datetime(2024, 6, 2, 14, 0))
        assert [(r["recording"], r["probe"], r["decided_by"]) for r in rows(schema.Session.ProbeAssociation)] == [
            ("probe_1", f"{SN1}_25843_1", "serial"), ("probe_2", "npx_2_25843", "person")]
        assert len(done_items()) == 4

    def test_a_value_an_item_cannot_take_writes_nothing(self) -> None:
        ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
        items = {r["need"]: r["item_id"] for r in followup_frame(subject="25843").to_dicts()}
        with pytest.raises(FollowupError, match="an arena needs its name"):
            complete_item(items["arena"], "Ada")
        with pytest.raises(FollowupError, match="say who"):
            complete_item(items["arena"], " ", "box")
        assert len(done_items()) == 0 and rows(schema.Session.Task)[0]["arena"] == ""


class TestSessionsView:
    def test_each_session_with_its_recordings_outputs_tasks_and_projects(self) -> None:
        found = ephys_with_tracking()
        found.projects = ["grid-cells"]
        ingest([found, imaging()], "run-1")
        records = {r["session_id"]: r for r in session_records()}
        ephys, image = records["25843/2024-03-05_10-30-58"], records["23456/2022-04-19_10-31-02"]
        assert [(r["system"], r["name"], r.get("serial")) for r in ephys["recordings"]] == [
            ("neuropixels", "probe_1", SN1), ("motive", "motive", None)]
        assert ephys["recordings"][0]["files"] == ["probe_1/npx.imec.ap.meta"]  # no .bin on disk in this test
        assert (ephys["projects"], ephys["start_inferred"], ephys["ingest_id"]) == (["grid-cells"], False, "run-1")
        assert [t["task"] for t in ephys["tasks"]] == ["sleep"]
        assert (image["session_start"], image["start_inferred"], image["modality"]) == (
            "2022-04-19T10:31:02", True, "imaging")
        assert [(r["system"], r["name"]) for r in image["recordings"]] == [
            ("scanimage", "openfield"), ("video", "openfield_00001"), ("video", "openfield_00002")]
        assert [(o["kind"], o["recording"], o["preferred"]) for o in image["outputs"]
                if o["kind"] in ("dlc", "suite2p")] == [
            ("dlc", "openfield_00001", True), ("dlc", "openfield_00002", True), ("suite2p", "", True)]
        assert [r["session_id"] for r in session_records(subject="23456")] == ["23456/2022-04-19_10-31-02"]
        json.dumps(session_records(), default=str)  # printable as JSON


class TestUpgrade:
    def test_activation_adds_the_new_tables_to_an_older_database_and_keeps_its_rows(self) -> None:
        ingest([candidate()], "run-1")
        # A database of the previous version: the same tables without the ones this version added.
        for table in (schema.FollowUpDone, schema.Session.SystemRecording, schema.Session.ProbeFiles,
                      schema.Session.InferredStart, schema.CreatedSubject):
            table.drop_quick()
        schema.Session.connection.dependencies.clear()
        schema._activated = None
        schema.activate()
        assert len(schema.Session()) == 1 and len(schema.Session.SystemRecording()) == 0
        ingest([imaging()], "run-2")
        assert len(schema.Session.SystemRecording()) == 3 and len(schema.CreatedSubject()) == 1
        assert session_records(subject="25843")[0]["recordings"][0]["files"] == ["probe_1/npx.imec.ap.meta"]

    def test_activation_adds_the_experimenter_table_to_an_older_database(self) -> None:
        ingest([candidate()], "run-1")
        # A database of the version before issue 17: no Session.Experimenter.
        schema.Session.Experimenter.drop_quick()
        schema.Session.connection.dependencies.clear()
        schema._activated = None
        schema.activate()
        assert len(schema.Session()) == 1 and len(schema.Session.Experimenter()) == 0
        ingest([candidate(T2).model_copy(update={"experimenter": "anna"})], "run-2")
        assert [(r["session_start"], r["experimenter"]) for r in schema.Session.Experimenter.to_dicts()] == [
            (T2, "anna")]
        assert [r["experimenter"] for r in session_records(subject="25843")] == [None, "anna"]


class TestEverySystemFromTheShare:
    """Each system discovery recognises, found on real files by the lab's profile and read back from the database."""

    def test_each_systems_recordings_reach_the_database_with_their_files_and_what_they_tell(
            self, tmp_path) -> None:
        from mass_ingest.candidates import frame_to_candidates
        from mass_ingest.profile import load_profile
        from tasks.discover import discover_share
        from tests.lab_page_tree import PROFILE
        from tests.test_systems_ephys import MOTIVE, NEUROLOGGER, TestAxona
        from tests.test_systems_imaging import make_tree, stack

        ntt = ("######## Neuralynx Data File Header\r\n-TimeCreated 2024/03/05 10:31:00\r\n"
               "-SamplingFrequency 32000\r\n").encode().ljust(16384, b" ") + b"\x01" * 304 * 3
        ephys, day = "recordings/25843/2024-03-05_10-30-58", "recordings/23456/20220419"
        root = make_tree(tmp_path / "N", [
            *stack(f"{day}/fov1", [1, 2], 1),  # ScanImage: two restarts of fov1, stitched
            (f"{day}/fov1_0001.h5", "Wavesurfer"), (f"{day}/fov1_WHEEL.csv", "wheel"),
            (f"{day}/fov1.csv", "2D tracking"), (f"{day}/fov1.avi", "video"),
            (f"{day}/fov.mesc", "Femtonics"), (f"{day}/MUnit_0/frame_0001.tif", "Femtonics export")])
        for rel, content in [*MOTIVE, *NEUROLOGGER, *TestAxona.TREE[:2], ("TT1.ntt", ntt)]:
            path = root / ephys / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)

        frame, _ = discover_share(load_profile(PROFILE).with_root(str(root)), "N")
        ingest(frame_to_candidates(frame), "run-1")

        stored = {r["session_id"]: r["recordings"] for r in session_records()}
        assert sorted(stored) == ["23456/2022-04-19_10-01-00", "25843/2024-03-05_10-30-58"]
        summary = {s: [(r["system"], r["name"], r["files"], r["n_files"], sorted(r["details"])) for r in recordings]
                   for s, recordings in stored.items()}
        assert summary["25843/2024-03-05_10-30-58"] == [
            ("axona", "trial1", ["trial1.bin", "trial1.set"], 2, ["duration_s", "trial_date", "trial_time"]),
            ("neuralynx", "TT1", ["TT1.ntt"], 1, ["created", "n_spikes", "sampling_rate_hz"]),
            ("neurologger", "neurologger", ["neurologger_header.mat", "Raw/NEUR0000.DAT"], 3, []),
            ("tracking", "motive", ["motive/matmot.meta", "motive/matmot.mtv", "motive/sync.mat"], 3,
             ["created", "frame_rate", "n_rigid_bodies"]),
            ("tracking", "optitrack", ["Optitrack/take_01.csv"], 1, [])]
        assert summary["23456/2022-04-19_10-01-00"] == [
            ("femtonics", "MUnit_0", ["MUnit_0/frame_0001.tif"], 1, []),
            ("femtonics", "fov", ["fov.mesc"], 1, []),
            ("scanimage", "fov1", ["fov1_00001_00001.tif", "fov1_00002_00001.tif"], 2,
             ["acquisitions", "dtype", "frame_height", "frame_rate", "frame_width", "n_channels", "n_files_read",
              "n_frames", "scanimage_header", "scanimage_version", "started"]),
            ("tracking2d", "fov1", ["fov1.csv"], 1, []),
            ("video", "fov1", ["fov1.avi"], 1, ["codec", "duration_s", "frame_rate", "height", "n_frames", "width"]),
            ("wavesurfer", "fov1", ["fov1_0001.h5"], 1, []),
            ("wheel", "fov1", ["fov1_WHEEL.csv"], 1, [])]
        details = {(r["system"], r["name"]): r["details"] for rs in stored.values() for r in rs}
        assert details[("scanimage", "fov1")]["n_frames"] == 6  # 3 frames in each restart's file
        assert details[("video", "fov1")]["duration_s"] == 1.0  # 10 frames at 10 per second
        assert details[("neuralynx", "TT1")]["n_spikes"] == 3
        assert details[("axona", "trial1")]["duration_s"] == 1200.0
