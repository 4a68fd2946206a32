"""Insertion on the embedded database: whole sessions or nothing, probes, tasks, outputs, late data,
moved folders, undo and the follow-up list.

Frames go through the real stages before insertion (dedup against the database, the approver's
decision, the flow's selection), so what a test inserts is what a run would.
"""

from __future__ import annotations

from datetime import datetime

import datajoint as dj
import polars as pl
import pytest

from mass_ingest.candidates import Output, ProbeRecording, SessionCandidate, TaskHint, candidates_to_frame
from mass_ingest.db import schema
from mass_ingest.db.followup import followup_frame
from mass_ingest.db.decisions import Decision
from mass_ingest.db.sessions import fetch_existing_sessions
from mass_ingest.db.undo import UndoRefused, plan_undo, undo_ingest
from mass_ingest.profile import Share
from tasks.approve import apply_decision
from mass_ingest.dedup import deduplicate
from tasks.followup import publish_followup
from mass_ingest.db.insertion import insert_sessions
from mass_ingest.session_rows import InsertOptions, select_for_insertion

pytestmark = pytest.mark.usefixtures("clean_database")

N = Share(name="N", root="/mnt/N", aliases=["N:/"], layouts=[{"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}])
T1 = datetime(2024, 3, 5, 10, 30, 58)
T2 = datetime(2024, 3, 12, 14, 2, 11)
SN1, SN2, SN3 = "18408403232", "18408403541", "21144007318"
PROBE1 = f"{SN1}_25843_1"   # named by the lab's convention: found by serial
MAPPED = "npx_2_25843"      # named otherwise: needs the profile's map
KEY1 = {"subject": "25843", "session_start": T1}


def candidate(start: datetime = T1, rel: str | None = None, probes: dict[str, str | None] | None = None,
              outputs: list[tuple] = (), tasks: list[tuple] = (), projects: list[str] = (),
              seconds: float = 600.0) -> SessionCandidate:
    """A folder of subject 25843; ``probes``: folder -> serial, each recording ``seconds`` long;
    ``outputs``: (kind, path, complete[, files]); ``tasks``: (name, start_s, kind)."""
    rel = rel or f"recordings/25843/{start:%Y-%m-%d_%H-%M-%S}"
    return SessionCandidate(
        share="N", rel_path=rel, location=f"/mnt/n/{rel}".lower(), subject="25843", session_start=start,
        probes=[ProbeRecording(folder=f, meta_file=f"{f}/npx.imec.ap.meta", serial=s, file_time_secs=seconds)
                for f, s in (probes if probes is not None else {"probe_1": SN1}).items()],
        outputs=[Output(**dict(zip(("kind", "path", "complete", "files"), o))) for o in outputs],
        task_hints=[TaskHint(order=i + 1, name=n, start_s=s, kind=k) for i, (n, s, k) in enumerate(tasks)],
        projects=list(projects))


def new_run(ingest_id: str, status: str = "completed") -> str:
    started = datetime(2024, 6, 1, 0, len(schema.IngestRun()))  # each run after the one before
    schema.IngestRun.insert1({"ingest_id": ingest_id, "profile_name": "test", "profile_hash": "0" * 16,
                              "status": status, "started_at": started})
    return ingest_id


def ingest(candidates: list[SessionCandidate], ingest_id: str, excluded: list[str] = (),
           **options) -> pl.DataFrame:
    """Dedup against the database, approve (leaving ``excluded`` out), insert; return the decided frame."""
    new_run(ingest_id)
    frame = deduplicate(candidates_to_frame(candidates), fetch_existing_sessions(), [N])
    frame = frame.with_columns(pl.when(pl.col("status") == "new").then(pl.lit("ready"))
                               .otherwise(pl.col("status")).alias("status"))  # as if every check passed
    decided = apply_decision(frame, Decision(approved=True, approver="Ada", source="cli", excluded=list(excluded)))
    insert_sessions(select_for_insertion(decided), timezone="Europe/Oslo", ingest_id=ingest_id,
                    options=InsertOptions(**options))
    return decided


@pytest.fixture(autouse=True)
def subjects_and_probes(clean_database):
    schema.Subject.insert1({"subject": "25843"})
    schema.Probe.insert([{"probe": PROBE1, "serial": SN1}, {"probe": MAPPED, "serial": ""}])
    schema.ProbeInsertion.insert([{"subject": "25843", "probe": PROBE1}, {"subject": "25843", "probe": MAPPED}])


def rows(table, **restriction) -> list[dict]:
    return (table & restriction).to_dicts(order_by=table.primary_key)


class TestWholeSessions:
    def test_a_session_goes_in_with_every_part_and_its_ingest(self) -> None:
        found = candidate(
            probes={"probe_1": SN1, "probe_2": SN2},
            outputs=[("kilosort", "probe_1/ks25", True, ["params.py", "spike_times.npy"]),
                     ("curation", "curations/c1/probe_1", True, ["spike_times.npy"]),
                     ("kilosort", "probe_2/ks25", False, ["params.py"]),
                     ("dlc", "dlc_top", True, ["topDLC_resnet50_x.h5", "topDLC_resnet50_x_meta.pickle"]),
                     ("suite2p", "combined", True, ["suite2p/ops1.npy"]),
                     ("suite2p_split", "split_a", True, ["suite2p/ops1.npy"])],
            tasks=[("sleep_1", 0, "SLEEP"), ("open_field_1", 30, "RUNNING"), ("sleep_2", 420.5, "SLEEP")],
            projects=["grid-cells", "pilot"])
        found.outputs[1].recording = "probe_1"
        found.outputs[0].recording = "probe_1"
        ingest([found], "run-1", probe_association={"25843": {"probe_2": MAPPED}})

        assert rows(schema.Session) == [{**KEY1, "timezone": "Europe/Oslo", "modality": "ephys",
                                         "ingest_id": "run-1"}]
        assert [r["recording"] for r in rows(schema.Session.Recording)] == ["probe_1", "probe_2"]
        assert [(r["recording"], r["probe"], r["decided_by"], r["ingest_id"])
                for r in rows(schema.Session.ProbeAssociation)] == [
            ("probe_1", PROBE1, "serial", "run-1"), ("probe_2", MAPPED, "profile_map", "run-1")]
        # Each task stops where the next starts; the last where the recording ends (.meta fileTimeSecs).
        assert rows(schema.Session.Task) == [
            {**KEY1, "task_order": 1, "task": "sleep_1", "task_type": "SLEEP", "start_s": 0.0, "stop_s": 30.0,
             "arena": "", "confirmed": False, "ingest_id": "run-1"},
            {**KEY1, "task_order": 2, "task": "open_field_1", "task_type": "RUNNING", "start_s": 30.0,
             "stop_s": 420.5, "arena": "", "confirmed": False, "ingest_id": "run-1"},
            {**KEY1, "task_order": 3, "task": "sleep_2", "task_type": "SLEEP", "start_s": 420.5, "stop_s": 600.0,
             "arena": "", "confirmed": False, "ingest_id": "run-1"}]
        # Complete outputs only; a curation preferred over its sorting, combined suite2p over split.
        assert [(r["output_path"], r["output_name"], r["kind"], r["preferred"], r["files"])
                for r in rows(schema.Session.Output)] == [
            ("combined", "", "suite2p", True, ["suite2p/ops1.npy"]),
            ("curations/c1/probe_1", "", "curation", True, ["spike_times.npy"]),
            ("dlc_top", "topDLC_resnet50_x.h5", "dlc", True,
             ["topDLC_resnet50_x.h5", "topDLC_resnet50_x_meta.pickle"]),
            ("probe_1/ks25", "", "kilosort", False, ["params.py", "spike_times.npy"]),
            ("split_a", "", "suite2p_split", False, ["suite2p/ops1.npy"])]
        assert [(r["output_path"], r["recording"], r["curator"], r["curation_time"])
                for r in rows(schema.Session.Clustering)] == [
            ("curations/c1/probe_1", "probe_1", None, None), ("probe_1/ks25", "probe_1", None, None)]
        assert {r["project"] for r in rows(schema.Session.Membership)} == {"grid-cells", "pilot"}

    def test_an_input_files_experimenter_is_stored_with_its_session(self) -> None:
        named = candidate().model_copy(update={"experimenter": "anna"})
        ingest([named, candidate(T2)], "run-1")
        assert rows(schema.Session.Experimenter) == [{**KEY1, "experimenter": "anna"}]  # T2's folder names nobody

    def test_a_failing_part_rolls_the_whole_chunk_back(self) -> None:
        good = candidate(T2)
        # Two probe folders with the same name: the second recording row breaks Recording's key,
        # after the chunk's sessions and directories were inserted.
        broken = candidate(T1, probes={"probe_1": SN1})
        broken.probes.append(broken.probes[0].model_copy())
        with pytest.raises(dj.errors.DuplicateError):
            ingest([good, broken], "run-1")
        assert len(schema.Session()) == len(schema.Session.Directory()) == len(schema.Session.Recording()) == 0
        # The same chunk without the broken session goes in whole.
        ingest([good], "run-2")
        assert [r["session_start"] for r in rows(schema.Session)] == [T2]

    def test_a_chunk_inserted_again_adds_nothing(self) -> None:
        ingest([candidate(tasks=[("a", 0, "")])], "run-1")
        new_run("run-2")
        frame = candidates_to_frame([candidate(tasks=[("a", 0, "")])])
        assert insert_sessions(frame, timezone="Europe/Oslo", ingest_id="run-2") == 0
        assert [r["ingest_id"] for r in rows(schema.Session.Task)] == ["run-1"]


class TestProbeAssociation:
    def test_a_serial_naming_no_probe_is_inserted_without_and_listed(self) -> None:
        ingest([candidate(probes={"probe_1": SN1, "probe_2": SN3})], "run-1")
        assert [r["recording"] for r in rows(schema.Session.ProbeAssociation)] == ["probe_1"]
        todo = followup_frame(ingest_id="run-1").filter(pl.col("need") == "probe association")
        assert todo.select("session_id", "item").rows() == [("25843/2024-03-05_10-30-58", "probe_2")]
        assert todo["detail"][0].startswith(f"no probe in the pipeline has serial {SN3}; map it in the profile")

    def test_a_serial_naming_several_probes_uses_the_one_implanted_in_the_subject(self) -> None:
        schema.Subject.insert1({"subject": "26018"})
        schema.Probe.insert1({"probe": f"{SN1}_26018_1", "serial": SN1})
        schema.ProbeInsertion.insert1({"subject": "26018", "probe": f"{SN1}_26018_1"})
        ingest([candidate()], "run-1")
        assert [r["probe"] for r in rows(schema.Session.ProbeAssociation)] == [PROBE1]

    def test_an_ambiguous_serial_is_listed_with_its_candidates(self) -> None:
        schema.Probe.insert([{"probe": f"{SN2}_1", "serial": SN2}, {"probe": f"{SN2}_2", "serial": SN2}])
        ingest([candidate(probes={"probe_1": SN2})], "run-1")
        assert len(schema.Session.ProbeAssociation()) == 0
        detail = followup_frame(subject="25843").filter(pl.col("need") == "probe association")["detail"].to_list()
        assert detail == [f"serial {SN2} names several probes ({SN2}_1, {SN2}_2) and none of them is implanted in "
                          "25843; map it in the profile (probe_association: {'25843': {'probe_1': <probe name>}}) "
                          "or enter it by hand"]

    def test_a_map_to_an_unknown_probe_is_listed_not_inserted(self) -> None:
        ingest([candidate(probes={"probe_1": SN3})], "run-1", probe_association={"25843": {"probe_1": "nope"}})
        assert len(schema.Session.ProbeAssociation()) == 0
        todo = followup_frame(ingest_id="run-1", probe_association={"25843": {"probe_1": "nope"}}).filter(
            pl.col("need") == "probe association")
        assert todo["detail"].to_list() == ["the profile maps probe_1 to 'nope', which is not a probe in the "
                                            "pipeline; import it (mass-ingest subjects import) or correct the map"]


class TestLateDataAndMoves:
    def test_an_update_adds_only_the_new_parts_with_its_own_ingest(self) -> None:
        first = candidate(outputs=[("kilosort", "probe_1/ks25", True)], tasks=[("a", 0, "")])
        ingest([first], "run-1")
        later = candidate(probes={"probe_1": SN1, "probe_2": SN3}, tasks=[("a", 0, ""), ("b", 5, "")],
                          outputs=[("kilosort", "probe_1/ks25", True), ("kilosort", "probe_2/ks25", True)])
        decided = ingest([later], "run-2")
        assert decided.select("status", "new_parts").rows() == [
            ("update", ["output kilosort probe_2/ks25", "probe probe_2"])]
        assert rows(schema.Session)[0]["ingest_id"] == "run-1"
        assert [(r["recording"], r["ingest_id"]) for r in rows(schema.Session.AddedRecording)] == [("probe_2", "run-2")]
        assert [(r["output_path"], r["ingest_id"]) for r in rows(schema.Session.Output)] == [
            ("probe_1/ks25", "run-1"), ("probe_2/ks25", "run-2")]
        assert [r["task"] for r in rows(schema.Session.Task)] == ["a"]  # tasks come with the session only
        # Nothing new any more.
        assert ingest([later], "run-3").select("status").rows() == [("duplicate",)]

    def test_an_update_the_approver_left_out_adds_nothing(self) -> None:
        ingest([candidate()], "run-1")
        decided = ingest([candidate(probes={"probe_1": SN1, "probe_2": SN3})], "run-2", excluded=["25843/*"])
        assert decided.select("status", "change_approved").rows() == [("update", False)]
        assert [r["recording"] for r in rows(schema.Session.Recording)] == ["probe_1"]

    @pytest.mark.parametrize("record", [True, False])
    def test_a_moved_folder_is_recorded_only_when_the_profile_says_so(self, record: bool) -> None:
        ingest([candidate(rel="old/25843/2024-03-05_10-30-58")], "run-1")
        decided = ingest([candidate()], "run-2", record_moved_location=record)
        assert decided["status"].to_list() == ["moved"]
        directory = rows(schema.Session.Directory)[0]
        history = [(r["rel_path"], r["ingest_id"]) for r in rows(schema.Session.PreviousLocation)]
        if record:
            assert directory["rel_path"] == "recordings/25843/2024-03-05_10-30-58"
            assert history == [("old/25843/2024-03-05_10-30-58", "run-2")]
            assert ingest([candidate()], "run-3")["status"].to_list() == ["duplicate"]
        else:
            assert (directory["rel_path"], history) == ("old/25843/2024-03-05_10-30-58", [])


class TestUndo:
    def test_undo_deletes_what_the_ingest_inserted_and_the_ledger_keeps_it(self) -> None:
        ingest([candidate(tasks=[("a", 0, "")], outputs=[("kilosort", "probe_1/ks25", True)])], "run-1")
        ingest([candidate(T2)], "run-2")
        plan = plan_undo("run-1")
        assert plan.blockers == []
        assert {t.rpartition(".")[2]: n for t, n in plan.deleted.items()} == {
            "session": 1, "session__directory": 1, "session__recording": 1, "session__probe_association": 1,
            "session__task": 1, "session__output": 1, "session__clustering": 1, "session__probe_files": 1}
        undo_ingest("run-1", "ada")
        assert [r["session_start"] for r in rows(schema.Session)] == [T2]
        run = rows(schema.IngestRun, ingest_id="run-1")[0]
        assert run["status"] == "undone"
        assert rows(schema.IngestRun.Undo)[0]["undone_by"] == "ada"
        with pytest.raises(UndoRefused, match="was undone already"):
            undo_ingest("run-1", "ada")

    def test_undo_of_late_data_and_a_move_leaves_the_session_as_it_was(self) -> None:
        ingest([candidate(rel="old/25843/2024-03-05_10-30-58")], "run-1")
        ingest([candidate()], "run-2")  # moved
        ingest([candidate(probes={"probe_1": SN1, "probe_2": SN3})], "run-3")  # late probe_2
        with pytest.raises(UndoRefused, match="later ingest"):
            undo_ingest("run-2", "ada")  # run-3 built on the move
        undo_ingest("run-3", "ada")
        assert [r["recording"] for r in rows(schema.Session.Recording)] == ["probe_1"]
        undo_ingest("run-2", "ada")
        assert rows(schema.Session.Directory)[0]["rel_path"] == "old/25843/2024-03-05_10-30-58"
        assert len(schema.Session.PreviousLocation()) == 0 and len(schema.Session()) == 1

    def test_undo_refuses_when_a_person_confirmed_a_task(self) -> None:
        ingest([candidate(tasks=[("a", 0, "")])], "run-1")
        schema.Session.Task.update1({**KEY1, "task_order": 1, "confirmed": True})
        with pytest.raises(UndoRefused, match="a person confirmed 1 of its tasks"):
            undo_ingest("run-1", "ada")
        assert len(schema.Session()) == 1

    def test_undo_refuses_when_a_table_outside_this_tool_references_a_session(self, database: str) -> None:
        ingest([candidate()], "run-1")
        lab = dj.Schema(f"{database}_lab", connection=schema.Session.connection,
                        context={"Session": schema.Session})

        @lab
        class Histology(dj.Manual):
            definition = """
            -> Session
            ---
            note: varchar(64)
            """

        try:
            Histology.insert1({**KEY1, "note": "tracks"})
            with pytest.raises(UndoRefused, match=f"1 rows of {database}_lab.histology reference"):
                undo_ingest("run-1", "ada")
            assert len(schema.Session()) == 1
        finally:
            lab.drop(prompt=False)
            # DataJoint keeps a dropped schema registered with the connection: forget it.
            schema.Session.connection.schemas.pop(lab.database, None)
            schema.Session.connection.dependencies.clear()

    def test_an_unfinished_ingest_is_not_undone(self) -> None:
        new_run("run-1", status="approved")
        assert "is not finished" in plan_undo("run-1").blockers[0]


class TestFollowup:
    def test_followup_lists_tasks_clusterings_and_probes_and_writes_the_csv(self) -> None:
        ingest([candidate(probes={"probe_1": SN1, "probe_2": SN3}, tasks=[("sleep", 0, "SLEEP")],
                          outputs=[("kilosort", "probe_1/ks25", True)])], "run-1")
        schema.Session.Clustering.update1({**KEY1, "output_path": "probe_1/ks25", "output_name": "",
                                           "curator": "Ada", "curation_time": datetime(2024, 6, 2)})
        ingest([candidate(T2, tasks=[("run", 0, "RUNNING")], outputs=[("kilosort", "probe_1/ks4", True)])], "run-2")
        frame = followup_frame(ingest_id="run-2")
        assert frame.select("session_id", "need", "item").rows() == [
            ("25843/2024-03-12_14-02-11", "arena", "1. run"),
            ("25843/2024-03-12_14-02-11", "clustering", "probe_1/ks4"),
            ("25843/2024-03-12_14-02-11", "task", "1. run")]
        assert frame["detail"].to_list()[::2] == ["RUNNING 0-600 s, inferred from sessions.txt: enter its arena",
                                                  "RUNNING 0-600 s, inferred from sessions.txt: confirm its timing"]
        everything = followup_frame(subject="25843")
        assert everything.group_by("need").len().sort("need").rows() == [
            ("arena", 2), ("clustering", 1), ("probe association", 1), ("task", 2)]
        assert followup_frame(subject="26018").is_empty()

    def test_the_run_publishes_its_followup_as_a_csv_in_its_folder(self, prefect_server: str) -> None:
        ingest([candidate(tasks=[("sleep", 0, "SLEEP")])], "run-1")
        path = publish_followup("run-1")
        assert path.name == "followup.csv" and path.parent.name == "run-1"
        assert pl.read_csv(path).select("session_id", "need", "item").rows() == [
            ("25843/2024-03-05_10-30-58", "arena", "1. sleep"), ("25843/2024-03-05_10-30-58", "task", "1. sleep")]


class TestProfileOptions:
    PROFILE = ("name: t\ntimezone: Europe/Oslo\nshares: [{name: N, root: /mnt/N, layouts: "
               "[{template: 'recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}'}]}]\n")

    def load(self, tmp_path, extra: str):
        from mass_ingest.profile import load_profile

        path = tmp_path / "p.yaml"
        path.write_text(self.PROFILE + extra)
        return load_profile(path)

    def test_the_map_and_the_move_option_reach_insertion(self, tmp_path) -> None:
        profile = self.load(tmp_path, "probe_association:\n  102_1: {probe_1: npx_1}\n"
                                      "dedup: {record_moved_location: false}\n")
        assert InsertOptions.from_profile(profile) == InsertOptions(
            probe_association={"102_1": {"probe_1": "npx_1"}}, record_moved_location=False)
        assert InsertOptions.from_profile(self.load(tmp_path, "")).record_moved_location is True

    def test_project_descriptions_are_stored_and_one_stored_blank_is_filled_never_replaced(self, tmp_path) -> None:
        profile = self.load(tmp_path, "projects:\n"
                                      "  - {name: grid-cells, description: 'Grid cells in MEC', subjects: ['25843']}\n"
                                      "  - {name: pilot, description: 'The rig being tuned', subjects: ['25843']}\n"
                                      "  - {name: old, description: 'What the profile says now', subjects: ['25843']}\n")
        options = InsertOptions.from_profile(profile)
        assert options.project_descriptions == {"grid-cells": "Grid cells in MEC", "pilot": "The rig being tuned",
                                                "old": "What the profile says now"}
        # Stored before: 'pilot' without a description (an earlier version), 'old' with one a person wrote.
        schema.Project.insert([{"project": "pilot", "description": ""}, {"project": "old", "description": "Written by Ada"}])
        ingest([candidate(projects=["grid-cells", "pilot", "old", "from-a-file"])], "run-1",
               **options.model_dump())
        assert {r["project"]: r["description"] for r in schema.Project.to_dicts()} == {
            "grid-cells": "Grid cells in MEC", "pilot": "The rig being tuned", "old": "Written by Ada",
            "from-a-file": ""}

    def test_a_description_longer_than_the_table_holds_is_refused_with_the_profile(self, tmp_path) -> None:
        from mass_ingest.errors import ProfileError

        with pytest.raises(ProfileError, match=r"projects\[0\]\.description"):
            self.load(tmp_path, f"projects:\n  - {{name: p, description: '{'x' * 256}'}}\n")

    def test_one_probe_mapped_to_two_folders_is_refused_by_name(self, tmp_path) -> None:
        from mass_ingest.errors import ProfileError

        with pytest.raises(ProfileError, match=r"probe_association subject '25843': probe\(s\) \['npx_1'\] are "
                           "mapped to more than one folder"):
            self.load(tmp_path, "probe_association:\n  25843: {probe_1: npx_1, probe_2: npx_1}\n")
