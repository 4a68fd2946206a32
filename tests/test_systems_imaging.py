"""The imaging plug-ins on real trees in tmp_path: ScanImage, the rig's other recorders, Femtonics,
suite2p and DeepLabCut.

Each tree is a list of (path relative to the session folder, content) entries, each with a comment
saying why it should or should not be recognised. Files are real where a plug-in reads them: ScanImage
tifs with ScanImage headers, videos encoded by PyAV, suite2p .npy arrays (tests/lab_page_tree.py
writes them); the others are empty, as the plug-ins read their names only.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from mass_ingest.candidates import CANDIDATE_SCHEMA, Output, Recording, SessionCandidate, frame_to_candidates
from mass_ingest.findings import Finding, Severity
from mass_ingest.profile import Layout, MatchRule, Profile, load_profile
from mass_ingest.systems import SYSTEMS, systems_for
from mass_ingest.systems import dlc
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles
from mass_ingest.systems.dlc import DeepLabCut
from mass_ingest.systems.femtonics import Femtonics
from mass_ingest.systems.imaging_rig import Tracking2D, Video, Wavesurfer, Wheel
from mass_ingest.systems.scanimage import ScanImage
from mass_ingest.systems.suite2p import Suite2p
from mass_ingest.walk import Walker
from tasks.discover import discover_share
from tests.lab_page_tree import write_scanimage_tiff, write_video
from tests.test_discover import make_tree as make_files

REPO = Path(__file__).resolve().parent.parent
IMAGING = REPO / "profiles" / "moser-imaging.yaml"
SESSION = "m1/20240301"
PLANE = ["F.npy", "iscell.npy", "ops.npy", "stat.npy"]


# When the ScanImage files of the trees were acquired: 10:00 on the folder's day, a minute per acquisition.
_SCANIMAGE_NAME = re.compile(r"_(\d{5})_(\d{5})\.tiff?$", re.IGNORECASE)
_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")


def acquired(rel: str, acq: int) -> datetime:
    day = _DAY.search(rel)
    try:
        base = datetime(*map(int, day.groups()), 10, 0, 0)
    except (AttributeError, ValueError):  # no date in the path, or an impossible one (a test of bad dates)
        base = datetime(2024, 3, 1, 10, 0, 0)
    return base + timedelta(minutes=acq)


def make_tree(root: Path, entries: list[tuple[str, str]]) -> Path:
    """Write each relative path below root (the second item says why it is there): ScanImage-named tifs as
    real ScanImage TIFFs, videos as real videos, .npy as arrays of 2 ROIs; every other file empty."""
    make_files(root, [(rel, b"") for rel, _why in entries])
    for rel, _why in entries:
        path, lower = root / rel, rel.lower()
        scanimage = _SCANIMAGE_NAME.search(rel)
        if scanimage:
            write_scanimage_tiff(path, epoch=acquired(rel, int(scanimage[1])), acquisition=int(scanimage[1]),
                                 first_frame=3 * (int(scanimage[2]) - 1), frames=3)
        elif lower.endswith((".avi", ".mp4")):
            write_video(path, frames=10, rate=10)
        elif lower.endswith(".npy"):
            np.save(path, np.zeros((2, 4), dtype=np.float32), allow_pickle=False)
    return root


def session_files(tmp_path: Path, entries: list[tuple[str, str]]) -> SessionFiles:
    root = tmp_path / "I"
    folder = make_tree(root / SESSION, entries)
    return SessionFiles(share="I", session_rel=SESSION, subject="m1",
                        files=Walker(share="I", root=str(root)).files_below(str(folder)))


def recognise(system: type[RecordingSystem], tmp_path: Path, entries: list[tuple[str, str]]) -> Recognised:
    """What ``system`` finds, with the recordings' details left out (TestFileContents checks those)."""
    found = system.recognise(session_files(tmp_path, entries))
    found.recordings = [r.model_copy(update={"details": "{}"}) for r in found.recordings]
    return found


def dlc_outputs(tmp_path: Path, entries: list[tuple[str, str]], recordings: tuple[str, ...] = ("fov1",)
                ) -> Recognised:
    """DeepLabCut's outputs, attributed to videos named ``recordings`` as discovery does."""
    session = session_files(tmp_path, entries)
    found = DeepLabCut.recognise(session)
    found.findings += dlc.attribute(session, found.outputs, [Recording(system="video", name=n) for n in recordings])
    return found


def where(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def stack(base: str, acqs: range | list[int], parts: int, folder: str = "") -> list[tuple[str, str]]:
    """ScanImage files of one basename: ``parts`` split files for each acquisition."""
    prefix = f"{folder}/" if folder else ""
    return [(f"{prefix}{base}_{a:05d}_{p:05d}.tif", f"acquisition {a}, split file {p}")
            for a in acqs for p in range(1, parts + 1)]


def plane(host: str, k: int, files: list[str] = PLANE) -> list[tuple[str, str]]:
    prefix = f"{host}/" if host else ""
    return [(f"{prefix}suite2p/plane{k}/{name}", f"plane{k} {name}") for name in files]


def suite2p_files(planes: list[int], combined: bool = False) -> list[str]:
    """The key files the Suite2p plug-in lists for complete planes, relative to the host folder."""
    files = ["suite2p/ops1.npy", *[f"suite2p/plane{k}/{n}" for k in planes for n in PLANE]]
    return sorted(files + ([f"suite2p/combined/{n}" for n in PLANE] if combined else []))


class TestScanImage:
    """<basename>_<nnnnn>_<nnnnn>.tif: one recording per basename, restarts stitched, splits counted."""

    def test_restarts_of_one_basename_are_stitched_into_one_recording_listing_the_first_file_of_each(
            self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("fov1", [1, 2, 3], 1),  # three acquisitions (restarts) of fov1: one recording
        ])
        assert found.recordings == [Recording(system="scanimage", name="fov1", folder="", n_files=3, files=[
            "fov1_00001_00001.tif", "fov1_00002_00001.tif", "fov1_00003_00001.tif"])]
        assert (found.outputs, found.findings) == ([], [])

    def test_file_splits_are_counted_but_only_the_first_file_of_each_restart_is_listed(
            self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, stack("fov1", [1, 2], 40))  # 2 restarts x 40 split files
        assert found.recordings == [Recording(system="scanimage", name="fov1", n_files=80,
                                              files=["fov1_00001_00001.tif", "fov1_00002_00001.tif"])]
        assert found.findings == []

    def test_two_basenames_are_two_recordings(self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("fov1", [1], 2),  # one basename
            *stack("fov2", [1], 1, folder="second"),  # another basename, in a subfolder: keeps its folder
            ("notes.tif", "a tif not named by ScanImage: not a recording"),
            ("fov3_0001_00001.tif", "a 4-digit counter: not ScanImage's name"),
        ])
        assert found.recordings == [
            Recording(system="scanimage", name="fov1", files=["fov1_00001_00001.tif"], n_files=2),
            Recording(system="scanimage", name="fov2", folder="second", files=["second/fov2_00001_00001.tif"],
                      n_files=1)]

    def test_basename_with_underscore_is_an_error_naming_its_first_file(self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("my_mouse", [1], 3),  # '_' in the basename: still listed, so the person sees what to rename
        ])
        assert [r.name for r in found.recordings] == ["my_mouse"]
        assert where(found.findings) == [("IMAGING.BAD_BASENAME", f"{SESSION}/my_mouse_00001_00001.tif")]
        assert found.findings[0].severity == Severity.ERROR

    def test_a_skipped_acquisition_is_a_counter_gap_on_the_first_file_after_it(self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("fov1", [1, 3], 1),  # acquisition 2 is missing
        ])
        assert where(found.findings) == [("IMAGING.COUNTER_GAP", f"{SESSION}/fov1_00003_00001.tif")]
        assert "fov1_00002_*" in found.findings[0].message
        assert found.findings[0].severity == Severity.WARNING
        assert found.recordings[0].n_files == 2

    def test_a_skipped_split_file_is_a_counter_gap_naming_the_missing_file(self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("fov1", [1], 2),  # acquisition 1, parts 1 and 2
            ("fov1_00001_00004.tif", "part 4 without part 3: a gap in the split counter"),
        ])
        assert where(found.findings) == [("IMAGING.COUNTER_GAP", f"{SESSION}/fov1_00001_00001.tif")]
        assert "fov1_00001_00003" in found.findings[0].message

    def test_acquisitions_may_start_above_one_because_scanimage_lets_the_user_set_the_number(
            self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, stack("fov1", [4, 5], 1))  # continued from an earlier day
        assert (len(found.recordings), found.findings) == (1, [])

    def test_preproc_files_and_the_preprocessed_folder_are_outputs_not_recordings(self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            *stack("fov1", [1], 2),  # the raw recording
            ("fov1_00001_00001_preproc.tif", "a preprocessing product beside the raw file"),
            ("fov1_00001_00002_preproc.tif", "its second split file"),
            ("preprocessed/fov1_00001_00001.tif", "named like raw, but below preprocessed/: a product"),
            ("preprocessed/motion_corrected.tif", "not named by ScanImage, below preprocessed/: a product"),
            ("preprocessed/mean_image.tif", "another one: listed with the first, under no recording"),
        ])
        assert found.recordings == [Recording(system="scanimage", name="fov1", files=["fov1_00001_00001.tif"],
                                              n_files=2)]
        assert found.outputs == [
            Output(kind="preprocessed", path="", recording="fov1", files=["fov1_00001_00001_preproc.tif"]),
            Output(kind="preprocessed", path="preprocessed", recording="", files=["mean_image.tif"]),
            Output(kind="preprocessed", path="preprocessed", recording="fov1", files=["fov1_00001_00001.tif"])]
        assert found.findings == []

    def test_the_layouts_combined_switch_does_not_change_what_is_recognised(self, tmp_path: Path) -> None:
        # Discovery splits candidates per recording when combined is false; the plug-in reports per basename.
        session = session_files(tmp_path, [*stack("fov1", [1], 1), *stack("fov2", [1], 1)])  # two basenames
        apart = SessionFiles(**{**session.__dict__, "combined": False})
        assert ScanImage.recognise(apart) == ScanImage.recognise(session)

    def test_tifs_below_suite2p_deeplabcut_and_munit_folders_are_left_to_those_plug_ins(
            self, tmp_path: Path) -> None:
        found = recognise(ScanImage, tmp_path, [
            ("combined/suite2p/plane0/reg_tif/fov1_00001_00001.tif", "suite2p's registered frames"),
            ("split_fov1/fov1_00001_00001.tif", "a copy of the raw tif made for a split suite2p run"),
            ("dlc_fov1/fov1_00001_00001.tif", "inside a DeepLabCut folder"),
            ("MUnit_1/fov1_00001_00001.tif", "a Femtonics export"),
        ])
        assert not found.anything and found.findings == []


class TestWavesurfer:
    """<basename>_<nnnn>.h5: one recording per basename, tied to ScanImage by the same name."""

    def test_runs_of_a_basename_are_one_recording_named_like_its_scanimage_basename(self, tmp_path: Path) -> None:
        session = session_files(tmp_path, [
            *stack("fov1", [1, 2], 1),  # the ScanImage recording the Wavesurfer runs belong to
            ("fov1_0001.h5", "Wavesurfer run of acquisition 1"),
            ("fov1_0002-0004.h5", "Wavesurfer file holding sweeps 2 to 4"),
            ("ephys_0001.h5", "a Wavesurfer run with no matching ScanImage basename: still a recording"),
            ("dlc_fov1/fov1DLC_resnet50_mecMar1shuffle1_100000.h5", "DeepLabCut result, not Wavesurfer"),
            ("fov1DLC_resnet50_mecMar1shuffle1_1000.h5", "DeepLabCut result outside its folder, not Wavesurfer"),
            ("fov1.h5", "no run counter: not a Wavesurfer name"),
        ])
        assert Wavesurfer.recognise(session).recordings == [
            Recording(system="wavesurfer", name="ephys", files=["ephys_0001.h5"], n_files=1),
            Recording(system="wavesurfer", name="fov1", files=["fov1_0001.h5", "fov1_0002-0004.h5"], n_files=2)]
        assert "fov1" in {r.name for r in ScanImage.recognise(session).recordings}


class TestWheel:
    """<basename>_WHEEL.csv: the running wheel."""

    def test_wheel_csv_is_a_wheel_recording_named_by_its_basename(self, tmp_path: Path) -> None:
        found = recognise(Wheel, tmp_path, [
            ("fov1_WHEEL.csv", "the wheel of fov1"),
            ("fov1.csv", "2D tracking, not the wheel"),
        ])
        assert found.recordings == [Recording(system="wheel", name="fov1", files=["fov1_WHEEL.csv"], n_files=1)]


class TestTracking2D:
    """Any other .csv of the rig is 2D tracking; wheel and DeepLabCut CSVs are not."""

    ENTRIES = [
        ("fov1.csv", "2D tracking of fov1"),
        ("fov1_WHEEL.csv", "the wheel: Wheel's, not tracking"),
        ("fov1DLC_resnet50_mecMar1shuffle1_100000.csv", "DeepLabCut result outside its folder: not tracking"),
        ("dlc_fov1/positions.csv", "inside a DeepLabCut folder: not tracking"),
        ("combined/suite2p/plane0/log.csv", "inside suite2p: not tracking"),
    ]

    def test_only_csvs_that_are_neither_wheel_nor_deeplabcut_are_tracking(self, tmp_path: Path) -> None:
        session = session_files(tmp_path, self.ENTRIES)
        assert Tracking2D.recognise(session).recordings == [
            Recording(system="tracking2d", name="fov1", files=["fov1.csv"], n_files=1)]
        assert [r.files for r in Wheel.recognise(session).recordings] == [["fov1_WHEEL.csv"]]
        assert [o.path for o in DeepLabCut.recognise(session).outputs] == ["dlc_fov1"]


class TestVideo:
    """.avi and .mp4 from the rig's cameras."""

    def test_avi_and_mp4_are_videos_but_deeplabcut_labeled_videos_are_not(self, tmp_path: Path) -> None:
        found = recognise(Video, tmp_path, [
            ("fov1.avi", "camera video of fov1"),
            ("cam/fov1_side.MP4", "a second camera, upper-case suffix: a video"),
            ("dlc_fov1/fov1.mp4", "a video inside a DeepLabCut folder: DeepLabCut's"),
            ("fov1DLC_resnet50_mecMar1shuffle1_100000_labeled.mp4", "a labelled video: DeepLabCut output"),
            ("fov1.mov", "not a suffix the rig writes"),
        ])
        assert found.recordings == [
            Recording(system="video", name="fov1_side", folder="cam", files=["cam/fov1_side.MP4"], n_files=1),
            Recording(system="video", name="fov1", files=["fov1.avi"], n_files=1)]


class TestFemtonics:
    """.mesc files and MUnit_<n>/ export folders, with suite2p run inside the MUnits."""

    ENTRIES = [
        ("fov.mesc", "a MESc file: one recording"),
        ("MUnit_0/frame_0001.tif", "raw export of unit 0"),
        ("MUnit_0/frame_0002.tif", "its second frame file: counted"),
        ("MUnit_0/suite2p/ops1.npy", "suite2p on unit 0"),
        *plane("MUnit_0", 0),  # complete plane
        ("MUnit_0/suite2p/plane0/reg_tif/file000.tif", "suite2p product: not a raw frame"),
        ("MUnit_1/suite2p/ops1.npy", "unit 1 whose raw export was deleted: still a recording, with 0 files"),
        *plane("MUnit_1", 0),
    ]

    def test_each_mesc_file_and_each_munit_folder_is_a_recording(self, tmp_path: Path) -> None:
        found = recognise(Femtonics, tmp_path, self.ENTRIES)
        assert found.recordings == [
            Recording(system="femtonics", name="fov", files=["fov.mesc"], n_files=1),
            Recording(system="femtonics", name="MUnit_0", folder="MUnit_0", files=["MUnit_0/frame_0001.tif"],
                      n_files=2),
            Recording(system="femtonics", name="MUnit_1", folder="MUnit_1", files=[], n_files=0)]
        assert found.findings == []

    def test_suite2p_in_an_munit_is_an_output_tied_to_that_munit(self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, self.ENTRIES)
        assert found.outputs == [
            Output(kind="suite2p", path="MUnit_0", recording="MUnit_0", files=suite2p_files([0]), preferred=True),
            Output(kind="suite2p", path="MUnit_1", recording="MUnit_1", files=suite2p_files([0]), preferred=True)]

    def test_munit_tifs_are_not_scanimage_recordings(self, tmp_path: Path) -> None:
        assert not recognise(ScanImage, tmp_path, [("MUnit_0/fov_00001_00001.tif", "named like ScanImage")]).anything


class TestSuite2p:
    """suite2p/ folders: combined wins over split; every plane needs ops, F, iscell and stat."""

    def test_combined_output_lists_its_planes_and_key_files_and_is_complete(self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [
            ("combined/suite2p/ops1.npy", "the run's ops"),
            *plane("combined", 0), *plane("combined", 1),  # two complete planes
            *[(f"combined/suite2p/combined/{n}", "planes combined") for n in PLANE],
            ("combined/suite2p/plane0/data.bin", "registered binary: not a key file, not listed"),
            ("combined/suite2p/plane0/Fneu.npy", "neuropil traces: not needed to read ROIs, not listed"),
        ])
        assert found.outputs == [Output(kind="suite2p", path="combined", recording="",
                                        files=suite2p_files([0, 1], combined=True), preferred=True)]
        assert found.findings == []

    def test_combined_wins_and_split_runs_are_kept_as_suite2p_split_of_their_basename(
            self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [
            ("split_fov1/suite2p/ops1.npy", "split run of fov1"), *plane("split_fov1", 0),
            ("split_fov2_rerun/suite2p/ops1.npy", "split run of fov2, with a suffix"), *plane("split_fov2_rerun", 0),
            ("combined_all/suite2p/ops1.npy", "combined run: the one to use"), *plane("combined_all", 0),
        ])
        assert found.outputs == [
            Output(kind="suite2p", path="combined_all", recording="", files=suite2p_files([0]), preferred=True),
            Output(kind="suite2p_split", path="split_fov1", recording="fov1", files=suite2p_files([0])),
            Output(kind="suite2p_split", path="split_fov2_rerun", recording="fov2", files=suite2p_files([0]))]

    def test_split_runs_alone_are_the_outputs_to_use(self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [("split_fov1/suite2p/ops1.npy", "split run"), *plane("split_fov1", 0)])
        assert [(o.kind, o.recording) for o in found.outputs] == [("suite2p", "fov1")]

    def test_plain_suite2p_in_the_session_is_an_output_of_the_whole_folder(self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [("suite2p/ops1.npy", "run in the session"), *plane("", 0)])
        assert found.outputs == [Output(kind="suite2p", path="", recording="", files=suite2p_files([0]),
                                        preferred=True)]

    def test_a_plane_lacking_files_makes_the_output_incomplete_with_a_finding_naming_plane_and_files(
            self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [
            ("combined/suite2p/ops1.npy", "the run's ops"),
            *plane("combined", 0),  # complete
            *plane("combined", 1, ["ops.npy", "F.npy"]),  # no iscell.npy, no stat.npy
        ])
        assert [o.complete for o in found.outputs] == [False]
        assert where(found.findings) == [("SUITE2P.INCOMPLETE", f"{SESSION}/combined/suite2p/plane1")]
        assert "iscell.npy, stat.npy" in found.findings[0].message

    def test_suite2p_without_planes_is_incomplete(self, tmp_path: Path) -> None:
        found = recognise(Suite2p, tmp_path, [("combined/suite2p/ops1.npy", "stopped before any plane")])
        assert (found.outputs[0].complete, where(found.findings)) == (
            False, [("SUITE2P.INCOMPLETE", f"{SESSION}/combined/suite2p")])


DLC_SET = "fov1DLC_resnet50_mecMar1shuffle1_100000"


class TestDeepLabCut:
    """dlc_<basename>/ and dlc<subject>_<basename>/ folders: one Output per result set, in file order."""

    def test_dlc_basename_folder_is_a_complete_output_of_that_basename(self, tmp_path: Path) -> None:
        found = dlc_outputs(tmp_path, [
            ("dlc_fov1/config.yaml", "project config: part of every result set"),
            (f"dlc_fov1/{DLC_SET}.h5", "the results"),
            (f"dlc_fov1/{DLC_SET}_meta.pickle", "their metadata"),
            ("dlc_fov1/labeled-data/img001.png", "training frames one level down: not part of a result set"),
        ])
        assert found.outputs == [Output(kind="dlc", path="dlc_fov1", recording="fov1",
                                        files=["config.yaml", f"{DLC_SET}.h5", f"{DLC_SET}_meta.pickle"])]
        assert found.findings == []

    def test_dlc_subject_basename_folder_names_the_basename(self, tmp_path: Path) -> None:
        found = dlc_outputs(tmp_path, [("dlcm1_fov2/config.yaml", "config"), (f"dlcm1_fov2/{DLC_SET}.h5", "results")],
                            recordings=("fov1", "fov2"))
        assert [(o.path, o.recording, o.complete) for o in found.outputs] == [("dlcm1_fov2", "fov2", True)]

    def test_two_result_sets_are_two_outputs_in_file_order(self, tmp_path: Path) -> None:
        later = "fov1DLC_resnet50_mecMar1shuffle1_200000"  # a later training iteration
        found = dlc_outputs(tmp_path, [
            ("dlc_fov1/config.yaml", "config"),
            (f"dlc_fov1/{later}.h5", "second set"), (f"dlc_fov1/{later}_meta.pickle", "second set"),
            (f"dlc_fov1/{DLC_SET}.h5", "first set"), (f"dlc_fov1/{DLC_SET}.csv", "first set, as CSV"),
        ])
        assert found.outputs == [
            Output(kind="dlc", path="dlc_fov1", recording="fov1",
                   files=["config.yaml", f"{DLC_SET}.csv", f"{DLC_SET}.h5"]),
            Output(kind="dlc", path="dlc_fov1", recording="fov1",
                   files=["config.yaml", f"{later}.h5", f"{later}_meta.pickle"])]

    def test_result_set_without_its_h5_is_incomplete(self, tmp_path: Path) -> None:
        found = recognise(DeepLabCut, tmp_path, [("dlc_fov1/config.yaml", "config"),
                                                 (f"dlc_fov1/{DLC_SET}_meta.pickle", "metadata, but no .h5")])
        assert [o.complete for o in found.outputs] == [False]
        assert where(found.findings) == [("DLC.INCOMPLETE", f"{SESSION}/dlc_fov1")]
        assert f"{DLC_SET}.h5" in found.findings[0].message

    def test_each_spelling_of_the_folder_name_finds_its_recording(self, tmp_path: Path) -> None:
        found = dlc_outputs(tmp_path, [(f"{name}/{DLC_SET}.h5", "results") for name in (
            "dlc_fov1", "dlcm1_fov2", "dlc_m1_fov3", "DLC_fov4")], recordings=("fov1", "fov2", "fov3", "fov4"))
        assert [(o.path, o.recording) for o in found.outputs] == [
            ("DLC_fov4", "fov4"), ("dlc_fov1", "fov1"), ("dlc_m1_fov3", "fov3"), ("dlcm1_fov2", "fov2")]
        assert found.findings == []

    def test_a_name_that_fits_two_recordings_is_attributed_to_neither(self, tmp_path: Path) -> None:
        # dlc_m1_fov1 reads as dlc_<basename> 'm1_fov1' and as dlc_<subject>_<basename> 'fov1': both exist.
        found = dlc_outputs(tmp_path, [(f"dlc_m1_fov1/{DLC_SET}.h5", "results")], recordings=("fov1", "m1_fov1"))
        assert [(o.path, o.recording) for o in found.outputs] == [("dlc_m1_fov1", "")]
        assert where(found.findings) == [("DLC.AMBIGUOUS", f"{SESSION}/dlc_m1_fov1")]
        assert "'m1_fov1' and 'fov1'" in found.findings[0].message

    def test_folder_with_only_a_config_is_incomplete(self, tmp_path: Path) -> None:
        found = dlc_outputs(tmp_path, [("dlc_fov1/config.yaml", "set up, never run")])
        assert found.outputs == [Output(kind="dlc", path="dlc_fov1", recording="fov1", files=["config.yaml"],
                                        complete=False)]
        assert where(found.findings) == [("DLC.INCOMPLETE", f"{SESSION}/dlc_fov1")]


class TestImagingRegistry:
    """The imaging plug-ins are registered and run on an imaging layout by default."""

    def test_an_imaging_layout_runs_every_imaging_system_plus_task_hints(self) -> None:
        assert [s.name for s in systems_for("imaging", None)] == [
            "scanimage", "wavesurfer", "wheel", "tracking2d", "video", "femtonics", "suite2p", "dlc", "tasks"]
        assert all(SYSTEMS[s.name] is s for s in systems_for("imaging", None))

    def test_an_ephys_layout_runs_none_of_them(self) -> None:
        assert not {s.modality for s in systems_for("ephys", None)} & {"imaging"}


LAYOUT = "{subject}/{session_date:%Y%m%d}"


def imaging_record(root: Path, rel: str, subject: str, start: datetime, **changes: object) -> dict:
    """A whole candidate record of the first imaging layout, findings as (code, path)."""
    return {"share": "I", "rel_path": rel, "location": f"{root}/{rel}".lower(), "subject": subject,
            "session_start": start, "start_inferred": False, "start_source": "", "modality": "imaging",
            "layout": LAYOUT,
            "probes": [],
            "bins_without_meta": [], "task_hints": [], "recordings": [], "outputs": [], "systems": [],
            "projects": ["mec-imaging"], "experimenter": None, "group": "", "excluded_by": None, "findings": [],
            **changes}


def record(c: SessionCandidate) -> dict:
    """The whole candidate, findings as (code, path) and recordings without details (checked on their own)."""
    out = {**c.model_dump(exclude={"findings"}), "findings": [(f.code, f.path) for f in c.findings]}
    for recording in out["recordings"]:
        recording["details"] = "{}"
    return out


class TestDiscoverImagingShare:
    """The moser-imaging profile through discovery: whole candidate records."""

    def test_profile_loads_with_both_layouts(self) -> None:
        profile = load_profile(IMAGING)
        assert (profile.name, profile.timezone, profile.shares[0].name, profile.shares[0].root,
                profile.shares[0].aliases) == ("moser-imaging", "Europe/Oslo", "I", "/mnt/I", ["I:/"])
        assert profile.shares[0].layouts == [
            Layout(template=LAYOUT, modality="imaging", combined=True),
            Layout(template="imaging/{subject}/{session_date:%Y-%m-%d}", modality="imaging", combined=False)]
        assert profile.exclude == MatchRule(subjects=["00000"], paths=["*_old/*", "*/test*"])
        assert isinstance(profile, Profile)

    def test_a_scanimage_day_and_a_femtonics_day_are_described_whole(self, tmp_path: Path) -> None:
        a, b = "60582/20240301", "60584/20240305"
        root = make_tree(tmp_path / "I", [
            *stack(f"{a}/fov1", [1, 2], 3),  # fov1: two restarts of three split files
            *stack(f"{a}/fov2", [1, 3], 1),  # fov2: acquisition 2 missing
            (f"{a}/fov1_00001_00001_preproc.tif", "preprocessing product: an output"),
            (f"{a}/fov1_0001.h5", "Wavesurfer run of fov1"),
            (f"{a}/fov1_WHEEL.csv", "wheel of fov1"),
            (f"{a}/fov1.csv", "2D tracking of fov1"),
            (f"{a}/fov1.avi", "video of fov1"),
            (f"{a}/combined/suite2p/ops1.npy", "combined suite2p run"), *plane(f"{a}/combined", 0),
            (f"{a}/split_fov1/suite2p/ops1.npy", "split run of fov1"),
            *plane(f"{a}/split_fov1", 0, ["ops.npy", "F.npy", "stat.npy"]),  # iscell.npy missing
            (f"{a}/dlc_fov1/config.yaml", "DeepLabCut config"), (f"{a}/dlc_fov1/{DLC_SET}.h5", "its results"),
            (f"{a}/dlc_fov1/{DLC_SET}.csv", "its results as CSV: not 2D tracking"),
            (f"{b}/fov.mesc", "Femtonics file"),
            (f"{b}/MUnit_0/frame_0001.tif", "Femtonics export"),
            (f"{b}/MUnit_0/suite2p/ops1.npy", "suite2p in the MUnit"), *plane(f"{b}/MUnit_0", 0),
            ("60582/notes.txt", "a file at session depth: not a session"),
        ])
        root = root.resolve()
        femtonics_written = datetime(2024, 3, 5, 11, 0, 0, tzinfo=ZoneInfo("Europe/Oslo")).timestamp()
        for name in ("fov.mesc", "MUnit_0/frame_0001.tif"):  # no header read: the start is their write time
            os.utime(root / b / name, (femtonics_written, femtonics_written))

        frame, share_findings = discover_share(load_profile(IMAGING).with_root(str(root)), "I")

        assert frame.schema == pl.Schema(CANDIDATE_SCHEMA)
        assert share_findings == []
        assert [record(c) for c in frame_to_candidates(frame)] == [
            imaging_record(
                root, a, "60582", datetime(2024, 3, 1, 10, 1), start_inferred=True,  # fov1's first header
                start_source="the ScanImage header of fov1_00001_00001.tif",
                systems=["scanimage", "wavesurfer", "wheel", "tracking2d", "video", "suite2p", "dlc"],
                recordings=[
                    {"system": "scanimage", "name": "fov1", "folder": "", "n_files": 6, "details": "{}",
                     "files": ["fov1_00001_00001.tif", "fov1_00002_00001.tif"]},
                    {"system": "scanimage", "name": "fov2", "folder": "", "n_files": 2, "details": "{}",
                     "files": ["fov2_00001_00001.tif", "fov2_00003_00001.tif"]},
                    {"system": "wavesurfer", "name": "fov1", "folder": "", "files": ["fov1_0001.h5"], "n_files": 1,
                     "details": "{}"},
                    {"system": "wheel", "name": "fov1", "folder": "", "files": ["fov1_WHEEL.csv"], "n_files": 1,
                     "details": "{}"},
                    {"system": "tracking2d", "name": "fov1", "folder": "", "files": ["fov1.csv"], "n_files": 1,
                     "details": "{}"},
                    {"system": "video", "name": "fov1", "folder": "", "files": ["fov1.avi"], "n_files": 1,
                     "details": "{}"}],
                outputs=[
                    {"kind": "preprocessed", "path": "", "recording": "fov1",
                     "files": ["fov1_00001_00001_preproc.tif"], "complete": True, "preferred": False},
                    {"kind": "suite2p", "path": "combined", "recording": "", "files": suite2p_files([0]),
                     "complete": True, "preferred": True},
                    {"kind": "suite2p_split", "path": "split_fov1", "recording": "fov1", "complete": False,
                     "preferred": False,
                     "files": ["suite2p/ops1.npy", "suite2p/plane0/F.npy", "suite2p/plane0/ops.npy",
                               "suite2p/plane0/stat.npy"]},
                    {"kind": "dlc", "path": "dlc_fov1", "recording": "fov1", "complete": True, "preferred": False,
                     "files": ["config.yaml", f"{DLC_SET}.csv", f"{DLC_SET}.h5"]}],
                findings=[("IMAGING.COUNTER_GAP", f"{a}/fov2_00003_00001.tif"),
                          ("SUITE2P.INCOMPLETE", f"{a}/split_fov1/suite2p/plane0"),
                          ("DISCOVER.START_INFERRED", f"{a}/fov1_00001_00001.tif")]),
            imaging_record(
                root, b, "60584", datetime(2024, 3, 5, 11, 0), start_inferred=True,
                start_source="the modification time of fov.mesc (no header states the start)",
                findings=[("DISCOVER.START_INFERRED", f"{b}/fov.mesc")],
                systems=["femtonics", "suite2p"],
                recordings=[
                    {"system": "femtonics", "name": "fov", "folder": "", "files": ["fov.mesc"], "n_files": 1,
                     "details": "{}"},
                    {"system": "femtonics", "name": "MUnit_0", "folder": "MUnit_0",
                     "files": ["MUnit_0/frame_0001.tif"], "n_files": 1,
                     "details": "{}"}],
                outputs=[{"kind": "suite2p", "path": "MUnit_0", "recording": "MUnit_0",
                          "files": suite2p_files([0]), "complete": True,
                          "preferred": True}]),
        ]

    def test_the_older_layout_finds_its_sessions_and_imaging_is_never_taken_as_a_subject(
            self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "I", [
            *stack("imaging/60582/2021-05-04/fov1", [1], 1),  # the older rig PC's tree: second layout
        ]).resolve()

        frame, _ = discover_share(load_profile(IMAGING).with_root(str(root)), "I")

        candidates = frame_to_candidates(frame)
        older = [c for c in candidates if c.rel_path == "imaging/60582/2021-05-04"]
        assert [(c.subject, c.session_start, c.layout, c.excluded_by, [r.name for r in c.recordings])
                for c in older] == [("60582", datetime(2021, 5, 4), "imaging/{subject}/{session_date:%Y-%m-%d}",
                                     None, ["fov1"])]
        # The first layout's levels also fit imaging/60582, but its date does not, and the second
        # layout explains that folder: it is no candidate at all (and its files are walked once).
        assert [c.rel_path for c in candidates] == ["imaging/60582/2021-05-04"]

    def test_a_folder_of_the_layouts_format_with_an_impossible_date_keeps_its_bad_date_finding(
            self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "I", [*stack("60582/20211345/fov1", [1], 1)]).resolve()  # month 13
        [candidate] = frame_to_candidates(discover_share(load_profile(IMAGING).with_root(str(root)), "I")[0])
        assert (candidate.rel_path, candidate.session_start, [f.code for f in candidate.findings][:1]) == \
            ("60582/20211345", None, ["DISCOVER.BAD_DATE"])

    def test_a_folder_of_another_format_is_counted_in_one_share_finding_not_a_candidate(
            self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "I", [*stack("60582/2021-13-45/fov1", [1], 1),  # not %Y%m%d: not a session
                                          *stack("60584/2021-03-01/fov1", [1], 1)]).resolve()
        frame, findings = discover_share(load_profile(IMAGING).with_root(str(root)), "I")
        assert frame.height == 0
        assert [(f.code, f.severity, f.path) for f in findings] == [("DISCOVER.UNMATCHED_FOLDERS", Severity.INFO, "")]
        assert findings[0].message.startswith("2 folders under the share match no layout of this profile (e.g. "
                                              "60582/2021-13-45, 60584/2021-03-01)")
