"""Imaging layouts with combined: false: one session per recording of a folder."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mass_ingest.candidates import frame_to_candidates
from mass_ingest.profile import load_profile
from tasks.discover import discover_share
from tests.lab_page_tree import write_scanimage_tiff, write_tiff_bytes

REPO = Path(__file__).resolve().parent.parent
IMAGING = REPO / "profiles" / "moser-imaging.yaml"
FOLDER = "imaging/60582/2021-05-04"  # the moser-imaging layout with combined: false
OSLO = ZoneInfo("Europe/Oslo")


def write(root: Path, rel: str, when: datetime) -> None:
    """A file dated ``when``; tifs are real TIFFs without ScanImage's headers, so their time is the file's."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_tiff_bytes() if rel.endswith(".tif") else b"")
    stamp = when.replace(tzinfo=OSLO).timestamp()
    os.utime(path, (stamp, stamp))


def two_recordings(root: Path, fov_a: datetime, fov_b: datetime) -> None:
    write(root, f"{FOLDER}/fovA_00001_00001.tif", fov_a)  # recording fovA, written as it recorded
    write(root, f"{FOLDER}/fovA_00001_00002.tif", fov_a)
    write(root, f"{FOLDER}/fovB_00001_00001.tif", fov_b)  # recording fovB, later that day
    write(root, f"{FOLDER}/fovB_WHEEL.csv", fov_b)  # fovB's wheel: goes with fovB
    write(root, f"{FOLDER}/dlc_fovA/fovA_DLC_resnet50_100000.h5", fov_a)  # fovA's DeepLabCut output
    write(root, f"{FOLDER}/dlc_fovA/config.yaml", fov_a)


class TestCombinedFalse:
    def test_each_recording_is_a_session_starting_when_its_first_file_was_written(self, tmp_path: Path) -> None:
        root = tmp_path / "I"
        two_recordings(root, datetime(2021, 5, 4, 10, 15, 2), datetime(2021, 5, 4, 14, 40, 9))
        frame, _ = discover_share(load_profile(IMAGING).with_root(str(root)), "I")
        sessions = frame_to_candidates(frame)
        assert [(c.session_id, c.group, c.rel_path) for c in sessions] == [
            ("60582/2021-05-04_10-15-02/fovA", "fovA", FOLDER), ("60582/2021-05-04_14-40-09/fovB", "fovB", FOLDER)]
        assert [[(r.system, r.name) for r in c.recordings] for c in sessions] == [
            [("scanimage", "fovA")], [("scanimage", "fovB"), ("wheel", "fovB")]]
        assert [[o.kind for o in c.outputs] for c in sessions] == [["dlc"], []]
        assert [[f.code for f in c.findings] for c in sessions] == [["DISCOVER.START_INFERRED"]] * 2
        assert [c.start_inferred for c in sessions] == [True, True]
        assert "modification time of fovA_00001_00001.tif" in sessions[0].findings[0].message
        assert len({c.candidate_id for c in sessions}) == 2

    def test_recordings_whose_times_are_not_on_the_folder_date_have_no_start_and_say_so(self, tmp_path: Path) -> None:
        root = tmp_path / "I"
        # Copied without keeping file times: both were written on the day of the copy.
        two_recordings(root, datetime(2023, 1, 9, 8, 0), datetime(2023, 1, 9, 8, 0))
        frame, _ = discover_share(load_profile(IMAGING).with_root(str(root)), "I")
        sessions = frame_to_candidates(frame)
        assert [(c.session_start, c.start_inferred, [f.code for f in c.findings]) for c in sessions] == [
            (None, False, ["IMAGING.START_UNKNOWN"])] * 2
        # Never the folder's midnight: with no start, the quality suite stops both with the reason.
        assert "not on the folder's date 2021-05-04" in sessions[0].findings[0].message

    def test_each_recordings_start_is_its_scanimage_header_time_when_the_header_states_one(
            self, tmp_path: Path) -> None:
        root = tmp_path / "I"
        two_recordings(root, datetime(2021, 5, 4, 23, 0), datetime(2021, 5, 4, 23, 0))  # written late that day
        for name, epoch in (("fovA_00001_00001.tif", datetime(2021, 5, 4, 9, 12, 30, 400000)),
                            ("fovA_00001_00002.tif", datetime(2021, 5, 4, 9, 12, 30, 400000)),
                            ("fovB_00001_00001.tif", datetime(2021, 5, 4, 13, 5, 1))):
            write_scanimage_tiff(root / FOLDER / name, epoch=epoch)
        sessions = frame_to_candidates(discover_share(load_profile(IMAGING).with_root(str(root)), "I")[0])
        assert [(c.session_id, c.start_inferred) for c in sessions] == [
            ("60582/2021-05-04_09-12-30/fovA", True), ("60582/2021-05-04_13-05-01/fovB", True)]
        assert "ScanImage header of fovB_00001_00001.tif" in sessions[1].findings[0].message

    def test_a_combined_layout_keeps_the_folder_as_one_session(self, tmp_path: Path) -> None:
        root = tmp_path / "I"
        for rel in ("60582/20210504/fovA_00001_00001.tif", "60582/20210504/fovB_00001_00001.tif"):
            write(root, rel, datetime(2021, 5, 4, 10, 0))
        [session] = frame_to_candidates(discover_share(load_profile(IMAGING).with_root(str(root)), "I")[0])
        assert (session.group, [r.name for r in session.recordings]) == ("", ["fovA", "fovB"])
