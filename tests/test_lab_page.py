"""Discovery of the lab page's share (tests/lab_page_tree.py) with profiles/moser-lab.yaml, on real files.

What a person reading the page expects discovery to say: 8 sessions, each ephys one with its 3 probes
paired to the page's oddly named .meta and its Motive take, each imaging one with the stitched
ScanImage recording (frames and size from the TIFF headers), both videos (duration from their
headers), both DeepLabCut outputs on the right video and suite2p preferred; a start read from the
ScanImage header, marked inferred, the same on every scan. Then the ways the same share goes wrong.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from mass_ingest.candidates import SessionCandidate, candidates_to_frame, frame_to_candidates
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.verdicts import run_suites
from mass_ingest.findings import Finding
from mass_ingest.profile import load_profile
from tasks.discover import discover_share
from tests.lab_page_tree import (EPHYS_SUBJECTS, FRAME_SHAPE, FRAMES_PER_PART, IMAGING_SESSIONS, PROFILE,
                                 LabPageTree, make_lab_page_tree, write_tiff_bytes)

PROBES = ["probe_1", "probe_2", "probe_3"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> LabPageTree:
    return make_lab_page_tree(tmp_path_factory.mktemp("lab-page"))


def discover(root: Path) -> tuple[list[SessionCandidate], list[Finding]]:
    frame, findings = discover_share(load_profile(PROFILE).with_root(str(root)), "N")
    return frame_to_candidates(frame), findings


def by_id(candidates: list[SessionCandidate]) -> dict[str, SessionCandidate]:
    return {c.session_id: c for c in candidates}


def codes(candidate: SessionCandidate) -> list[str]:
    return [f.code for f in candidate.findings]


def copy_of(tree: LabPageTree, tmp_path: Path) -> Path:
    """A copy of the share (file times kept) that a test may change."""
    root = tmp_path / "share"
    shutil.copytree(tree.root, root, symlinks=True)
    return root


class TestTheLabPageShare:
    def test_one_profile_finds_the_eight_sessions_of_both_modalities_and_nothing_else(
            self, tree: LabPageTree) -> None:
        candidates, share_findings = discover(tree.root)
        assert sorted(c.session_id for c in candidates) == tree.session_ids
        assert len(candidates) == 8
        assert sorted((c.modality, c.layout.rpartition("/")[2]) for c in candidates) == \
            [("ephys", "{session_time:%Y-%m-%d_%H-%M-%S}")] * 5 + [("imaging", "{session_date:%Y%m%d}")] * 3
        # Neither layout reports the other's folders: no bad date, no unmatched folder, nothing on the share.
        assert share_findings == []
        assert not any(f.code == "DISCOVER.BAD_DATE" for c in candidates for f in c.findings)

    def test_each_ephys_session_pairs_its_three_probes_with_the_pages_meta_and_says_what_to_rename(
            self, tree: LabPageTree) -> None:
        ephys = [c for c in discover(tree.root)[0] if c.modality == "ephys"]
        for c in ephys:
            serials = list(EPHYS_SUBJECTS[c.subject][0])
            assert [(p.folder, p.meta_file, p.bin_file, p.serial, p.bin_size is not None) for p in c.probes] == [
                (f, f"{f}/np.ximec.ap.meta", f"{f}/npx.imec.ap.bin", s, True) for f, s in zip(PROBES, serials)]
            assert c.bins_without_meta == []
            assert codes(c) == ["EPHYS.META_RENAMED"] * 3
            assert c.findings[0].severity.name == "WARNING"
            assert "rename np.ximec.ap.meta to npx.imec.ap.meta" in c.findings[0].message
            [motive] = c.recordings
            assert (motive.system, motive.name, motive.files) == (
                "tracking", "motive", ["motive/matmot.meta", "motive/matmot.mtv", "motive/sync.mat"])
            created = c.session_start + timedelta(seconds=9)  # SpikeGLX and Motive start a few seconds in
            assert json.loads(motive.details) == {"frame_rate": 120.0, "n_rigid_bodies": 1,
                                                  "created": f"{created:%Y-%m-%dT%H:%M:%S}"}
            assert [t.name for t in c.task_hints][:2] == ["open_field_1", "sleep"]
            assert c.start_inferred is False

    def test_the_paired_ephys_sessions_pass_quality_with_their_subjects_known(self, tree: LabPageTree) -> None:
        ephys = [c for c in discover(tree.root)[0] if c.modality == "ephys"]
        context = QualityContext(implanted_probes={s: 3 for s in EPHYS_SUBJECTS},
                                 implanted_serials={s: sorted(v[0]) for s, v in EPHYS_SUBJECTS.items()},
                                 now=datetime(2026, 1, 1), now_epoch=datetime(2026, 1, 1).timestamp(),
                                 not_before=datetime(2015, 1, 1), settle_s=0)
        checked = run_suites(candidates_to_frame(ephys), context)[0]
        assert checked["quality_reasons"].to_list() == [[]] * 5
        assert checked["quality_passed"].to_list() == [True] * 5

    def test_each_imaging_session_holds_the_stitched_scanimage_recording_both_videos_and_their_outputs(
            self, tree: LabPageTree) -> None:
        sessions = by_id(discover(tree.root)[0])
        for day in IMAGING_SESSIONS:
            c = sessions[f"{day.subject}/{day.session_start:%Y-%m-%d_%H-%M-%S}"]
            assert [(r.system, r.name, r.files, r.n_files) for r in c.recordings] == [
                ("scanimage", "openfield", ["openfield_00001_00001.tif", "openfield_00002_00001.tif"], 4),
                ("video", "openfield_00001", ["openfield_00001.mp4"], 1),
                ("video", "openfield_00002", ["openfield_00002.mp4"], 1)]
            scanimage = json.loads(c.recordings[0].details)
            assert (scanimage["n_frames"], scanimage["n_files_read"], scanimage["frame_height"],
                    scanimage["frame_width"], scanimage["frame_rate"], scanimage["started"]) == (
                4 * FRAMES_PER_PART, 4, *FRAME_SHAPE, 30.0, day.started.isoformat())
            assert [a["n_frames"] for a in scanimage["acquisitions"]] == [2 * FRAMES_PER_PART] * 2
            for video in c.recordings[1:]:
                assert json.loads(video.details) | {"codec": None} == {
                    "duration_s": 1.0, "n_frames": 15, "frame_rate": 15.0, "width": 64, "height": 48, "codec": None}
            # DeepLabCut in the page's two spellings, each on its own video; suite2p's combined run preferred.
            assert [(o.kind, o.path, o.recording, o.complete, o.preferred) for o in c.outputs] == [
                ("suite2p", "", "", True, True),
                ("dlc", f"dlc{day.subject}_openfield_00001", "openfield_00001", True, False),
                ("dlc", f"dlc_{day.subject}_openfield_00002", "openfield_00002", True, False)]
            assert "suite2p/combined/F.npy" in c.outputs[0].files
            assert c.outputs[1].files == [f"{day.subject}.h5", f"{day.subject}_meta.pickle", "dlc_config_file.yaml"]

    def test_an_imaging_start_comes_from_the_scanimage_header_marked_inferred_with_a_finding_to_confirm(
            self, tree: LabPageTree) -> None:
        imaging = [c for c in discover(tree.root)[0] if c.modality == "imaging"]
        assert [(c.session_start, c.start_inferred, c.start_source) for c in imaging] == [
            (d.session_start, True, "the ScanImage header of openfield_00001_00001.tif") for d in IMAGING_SESSIONS]
        assert all(c.session_start.time() != datetime.min.time() for c in imaging)  # never midnight
        for c in imaging:
            assert codes(c) == ["DISCOVER.START_INFERRED"]
            assert c.findings[0].path == f"{c.rel_path}/openfield_00001_00001.tif"
            assert f"the start {c.session_start:%H:%M:%S} was read from the ScanImage header of " \
                   "openfield_00001_00001.tif: confirm it" in c.findings[0].message


class TestRescan:
    """What changes between scans (outputs written later, files touched, headers unreadable) never moves a key."""

    def test_keys_stay_when_outputs_are_added_and_videos_touched(self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        first = {(c.rel_path, c.session_id, c.candidate_id) for c in discover(root)[0]}
        day = root / IMAGING_SESSIONS[0].rel_path
        shutil.copytree(day / "suite2p", day / "suite2p_rerun" / "suite2p")  # a later suite2p run
        (day / "dlc_openfield_00001" / "notes.yaml").parent.mkdir()
        (day / "dlc_openfield_00001" / "notes.yaml").write_text("rerun\n")
        os.utime(day / "openfield_00001.mp4")  # touched now
        second = {(c.rel_path, c.session_id, c.candidate_id) for c in discover(root)[0]}
        assert second == first

    def test_without_readable_headers_the_start_is_the_first_acquisition_files_write_time_on_every_scan(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        day = root / IMAGING_SESSIONS[0].rel_path
        for tif in sorted(day.glob("openfield_*.tif")):  # TIFFs without ScanImage's headers, times kept
            stat = tif.stat()
            tif.write_bytes(write_tiff_bytes())
            os.utime(tif, (stat.st_atime, stat.st_mtime))
        earliest = min(p.stat().st_mtime for p in [*day.glob("*.tif"), *day.glob("*.mp4")])
        starts = []
        for _ in range(2):
            [c] = [c for c in discover(root)[0] if c.rel_path == IMAGING_SESSIONS[0].rel_path]
            starts.append((c.session_start, c.start_inferred, codes(c)))
            (day / "suite2p" / "plane0" / "later.npy").write_bytes(b"")  # an output written between scans
        # The file times are the lab's local times (Europe/Oslo), whatever this machine's zone.
        expected = datetime.fromtimestamp(earliest, ZoneInfo("Europe/Oslo")).replace(tzinfo=None, microsecond=0)
        assert starts == [(expected, True, ["DISCOVER.START_INFERRED"])] * 2
        assert expected.date() == IMAGING_SESSIONS[0].started.date() and expected.time() != datetime.min.time()


class TestUnmatchedFolders:
    def test_folders_of_neither_format_are_one_info_finding_with_a_count_and_examples(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        for rel in ("recordings/23456/2022-04-21", "recordings/12345/sorting", "recordings/12346/old sessions"):
            (root / rel).mkdir()
        candidates, share_findings = discover(root)
        assert len(candidates) == 8
        [unmatched] = share_findings
        assert (unmatched.code, unmatched.severity.name, unmatched.path) == (
            "DISCOVER.UNMATCHED_FOLDERS", "INFO", "recordings")
        assert unmatched.message.startswith(
            "3 folders under recordings/ match no layout of this profile (e.g. recordings/12345/sorting, "
            "recordings/12346/old sessions, recordings/23456/2022-04-21)")


class TestProbePairing:
    def test_two_bins_and_one_meta_with_other_names_are_not_paired_and_the_session_is_stopped_naming_them(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        rel = "recordings/12345/2020-01-01_10-00-30"
        probe_1 = root / rel / "probe_1"
        shutil.copy(probe_1 / "npx.imec.ap.bin", probe_1 / "npx_g1.imec.ap.bin")  # a second run's .bin
        [c] = [c for c in discover(root)[0] if c.rel_path == rel]
        assert [(p.meta_file, p.bin_file, p.bin_size) for p in c.probes][0] == ("probe_1/np.ximec.ap.meta", None, None)
        assert c.bins_without_meta == ["probe_1/npx.imec.ap.bin", "probe_1/npx_g1.imec.ap.bin"]
        ambiguous = [f for f in c.findings if f.code == "EPHYS.AMBIGUOUS_PAIR"]
        assert [(f.severity.name, f.path) for f in ambiguous] == [("ERROR", f"{rel}/probe_1")]
        assert "(npx.imec.ap.bin, npx_g1.imec.ap.bin, np.ximec.ap.meta)" in ambiguous[0].message
        # No file name is made up anywhere: every named file exists.
        named = [p.bin_file for p in c.probes if p.bin_file] + [p.meta_file for p in c.probes] + c.bins_without_meta
        assert all((root / rel / name).is_file() for name in named)
        context = QualityContext(implanted_probes={"12345": 3}, implanted_serials={}, now=datetime(2026, 1, 1),
                                 now_epoch=datetime(2026, 1, 1).timestamp(), not_before=datetime(2015, 1, 1))
        [reasons] = run_suites(candidates_to_frame([c]), context)[0]["quality_reasons"].to_list()
        assert any("npx.imec.ap.bin" in r and "npx_g1.imec.ap.bin" in r for r in reasons), reasons
        assert not any("np.ximec.ap.bin" in r for r in reasons)

    def test_one_bin_and_two_metas_with_other_names_are_not_paired_either(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        rel = "recordings/12345/2020-01-01_10-00-30"
        probe_1 = root / rel / "probe_1"
        shutil.copy(probe_1 / "np.ximec.ap.meta", probe_1 / "np.ximec_old.ap.meta")  # a second .meta
        [c] = [c for c in discover(root)[0] if c.rel_path == rel]
        assert [(p.meta_file, p.bin_file) for p in c.probes if p.folder == "probe_1"] == [
            ("probe_1/np.ximec.ap.meta", None), ("probe_1/np.ximec_old.ap.meta", None)]
        assert c.bins_without_meta == ["probe_1/npx.imec.ap.bin"]
        [ambiguous] = [f for f in c.findings if f.code == "EPHYS.AMBIGUOUS_PAIR"]
        assert (ambiguous.severity.name, ambiguous.path) == ("ERROR", f"{rel}/probe_1")
        assert "(npx.imec.ap.bin, np.ximec.ap.meta, np.ximec_old.ap.meta)" in ambiguous.message
        assert not any(f.code in ("EPHYS.META_RENAMED", "EPHYS.META_WITHOUT_BIN") and "probe_1/" in f.path
                       for f in c.findings)
        context = QualityContext(implanted_probes={"12345": 3}, implanted_serials={}, now=datetime(2026, 1, 1),
                                 now_epoch=datetime(2026, 1, 1).timestamp(), not_before=datetime(2015, 1, 1))
        checked = run_suites(candidates_to_frame([c]), context)[0]
        assert checked["quality_passed"].to_list() == [False]  # stopped: quarantined, not guessed


class TestBadInput:
    """Broken files are findings on the session that holds them; discovery goes on."""

    def test_unreadable_tiff_video_and_empty_suite2p_plane_are_findings_not_crashes(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        day = IMAGING_SESSIONS[1]
        folder = root / day.rel_path
        (folder / "openfield_00002_00002.tif").write_bytes(b"II*\x00garbage, cut short")
        (folder / "openfield_00002.mp4").write_bytes(b"")
        np.save(folder / "suite2p" / "plane1" / "F.npy", np.zeros((0, 100), dtype=np.float32))  # no ROI
        (folder / "suite2p" / "plane0" / "F.npy").write_bytes(b"")  # a copy that died
        sessions = by_id(discover(root)[0])
        assert len(sessions) == 8
        c = sessions[f"{day.subject}/{day.session_start:%Y-%m-%d_%H-%M-%S}"]
        assert sorted((f.code, f.path.removeprefix(day.rel_path + "/")) for f in c.findings) == [
            ("DISCOVER.START_INFERRED", "openfield_00001_00001.tif"),
            ("IMAGING.UNREADABLE_TIFF", "openfield_00002_00002.tif"),
            ("SUITE2P.EMPTY_PLANE", "suite2p/plane0"),
            ("SUITE2P.EMPTY_PLANE", "suite2p/plane1"),
            ("VIDEO.UNREADABLE", "openfield_00002.mp4")]
        scanimage = json.loads(c.recordings[0].details)
        assert (scanimage["n_files_read"], scanimage["n_frames"]) == (3, 3 * FRAMES_PER_PART)
        assert [json.loads(r.details) for r in c.recordings if r.name == "openfield_00002"] == [{}]
        assert [(o.kind, o.complete) for o in c.outputs if o.kind == "suite2p"] == [("suite2p", False)]
        assert all(f.severity.name == "WARNING" for f in c.findings)  # none stops the session by itself


class TestDeepLabCutAttribution:
    def test_a_dlc_folder_naming_no_recording_is_a_finding_and_is_attributed_to_nothing(
            self, tree: LabPageTree, tmp_path: Path) -> None:
        root = copy_of(tree, tmp_path)
        day = IMAGING_SESSIONS[0]
        folder = root / day.rel_path
        shutil.copytree(folder / f"dlc{day.subject}_openfield_00001", folder / "dlc_23457_openfield_00001")
        shutil.copytree(folder / f"dlc{day.subject}_openfield_00001", folder / "dlc_openfield_00009")
        c = by_id(discover(root)[0])[f"{day.subject}/{day.session_start:%Y-%m-%d_%H-%M-%S}"]
        assert [(o.path, o.recording) for o in c.outputs if o.kind == "dlc"] == [
            ("dlc23456_openfield_00001", "openfield_00001"), ("dlc_23456_openfield_00002", "openfield_00002"),
            ("dlc_23457_openfield_00001", ""), ("dlc_openfield_00009", "")]
        missing = [f for f in c.findings if f.code == "DLC.NO_RECORDING"]
        assert [f.path.rpartition("/")[2] for f in missing] == ["dlc_23457_openfield_00001", "dlc_openfield_00009"]
        assert "names '23457_openfield_00001', which is no recording of this session" in missing[0].message
