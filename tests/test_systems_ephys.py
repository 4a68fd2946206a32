"""Ephys-side recording systems on real trees in tmp_path: Kilosort, Neurologger, Axona, Neuralynx, tracking.

Each tree is a list of (path relative to the session folder, content) entries with a comment saying
why it should or should not be recognised. Each system is run on its own through ``SessionFiles``
(as discovery calls it), and once through ``discover_share`` with a profile built here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from mass_ingest.candidates import Output, ProbeRecording, Recording, SessionCandidate, TaskHint, frame_to_candidates
from mass_ingest.findings import Finding
from mass_ingest.profile import Profile
from mass_ingest.spikeglx_writer import probe_meta
from mass_ingest.systems import SessionFiles
from mass_ingest.systems.axona import Axona
from mass_ingest.systems.base import Recognised, RecordingSystem
from mass_ingest.systems.kilosort import Kilosort
from mass_ingest.systems.neuralynx import Neuralynx
from mass_ingest.systems.neurologger import Neurologger
from mass_ingest.systems.tracking import Tracking
from mass_ingest.walk import Walker
from tests.test_discover import without_bin_mtimes
from tasks.discover import discover_share

LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
SESSION = "recordings/s1/2024-01-01_10-00-00"
START = datetime(2024, 1, 1, 10, 0, 0)
BIN_SIZE = 385 * 2 * 4  # four samples of 385 int16 channels

KS_COMPLETE = ["params.py", "spike_clusters.npy", "spike_templates.npy", "spike_times.npy", "templates.npy"]


def write(root: Path, entries: list[tuple[str, str | bytes]]) -> Path:
    """Write each (path relative to the session folder, content) below ``root/SESSION``."""
    session = root / SESSION
    session.mkdir(parents=True, exist_ok=True)
    for rel, content in entries:
        path = session / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def recognise(system: type[RecordingSystem], tmp_path: Path, entries: list[tuple[str, str | bytes]]) -> Recognised:
    """Run one system on the tree the way discovery does: one file list from the walker."""
    root = write(tmp_path / "N", entries)
    files = Walker(share="N", root=str(root)).files_below(str(root / SESSION))
    return system.recognise(SessionFiles(share="N", session_rel=SESSION, subject="s1", files=files))


def ks(folder: str, names: list[str] = KS_COMPLETE) -> list[tuple[str, str | bytes]]:
    """A Kilosort output folder holding ``names`` (content does not matter to discovery)."""
    return [(f"{folder}/{n}", b"\x93NUMPY" if n.endswith(".npy") else "n_channels_dat = 385\n") for n in names]


def probe(folder: str, serial: str) -> list[tuple[str, str | bytes]]:
    return [(f"{folder}/npx.imec.ap.meta", probe_meta(serial, BIN_SIZE, datetime(2024, 1, 1, 10, 0, 9))),
            (f"{folder}/npx.imec.ap.bin", b"\x01" * BIN_SIZE)]


def probe_record(folder: str, serial: str) -> dict:
    return ProbeRecording(folder=folder, meta_file=f"{folder}/npx.imec.ap.meta",
                          bin_file=f"{folder}/npx.imec.ap.bin", serial=serial,
                          probe_type="neuropixels 1.0 - 3B", part_number="PRB_1_4_0480_1", n_saved_chans=385,
                          sample_rate=30000.0, file_size_bytes=BIN_SIZE, file_time_secs=0.000133333333,
                          file_create_time=datetime(2024, 1, 1, 10, 0, 9), bin_size=BIN_SIZE).model_dump()


def profile(root: Path, systems: list[str] | None = None) -> Profile:
    return Profile.model_validate({"name": "ephys", "timezone": "Europe/Oslo", "shares": [{
        "name": "N", "root": str(root), "layouts": [{"template": LAYOUT, "modality": "ephys", "systems": systems}]}]})


def discover(root: Path, systems: list[str] | None = None) -> tuple[SessionCandidate, list[Finding]]:
    frame, findings = discover_share(profile(root, systems), "N")
    [candidate] = frame_to_candidates(frame)
    return without_bin_mtimes(candidate), findings


def record(c: SessionCandidate) -> dict:
    """A candidate as a whole dict, with findings as (code, path) pairs (their messages are prose)."""
    return {**c.model_dump(exclude={"findings"}), "findings": [(f.code, f.path) for f in c.findings]}


def expected(root: Path, systems: list[str], **changes: object) -> dict:
    """The whole record of the one session folder, with what the systems found in ``changes``."""
    for key in ("recordings", "outputs", "task_hints"):
        changes[key] = [item.model_dump() for item in changes.get(key, [])]
    # location: the profile's share has POSIX spellings only, so it keeps case (Share.case_sensitive)
    return {"share": "N", "rel_path": SESSION, "location": f"{root}/{SESSION}", "subject": "s1",
            "session_start": START, "start_inferred": False, "start_source": "", "modality": "ephys", "layout": LAYOUT, "probes": [],
            "bins_without_meta": [],
            "systems": systems, "projects": [], "experimenter": None, "group": "", "excluded_by": None, "findings": [], **changes}


def at(rel: str) -> str:
    """A finding's path: relative to the share root."""
    return f"{SESSION}/{rel}" if rel else SESSION


class TestKilosort:
    """Spike-sorting folders per probe (ks*, kilosort*) and curations/<id>/probe_N: clustering candidates."""

    def test_complete_sorting_in_each_probe_folder_is_one_output_for_that_probe(self, tmp_path: Path) -> None:
        found = recognise(Kilosort, tmp_path, [
            *ks("probe_1/ks25"),  # in probe_1: belongs to probe_1
            *ks("probe_2/ks25", ["params.py", "spike_clusters.npy", "spike_times.npy"]),  # clusters suffice
            ("probe_1/ks25/temp_wh.dat", b"\x00"),  # Kilosort's scratch file: not a key file, not listed
            ("probe_1/ks25/.phy/memcache.json", "{}"),  # phy's cache one level down: not part of the output
            ("probe_1/npx.imec.ap.meta", "x"),  # raw data beside the sorting: not an output
        ])
        assert (found.outputs, found.findings) == ([
            Output(kind="kilosort", path="probe_1/ks25", recording="probe_1", files=KS_COMPLETE, complete=True),
            Output(kind="kilosort", path="probe_2/ks25", recording="probe_2",
                   files=["params.py", "spike_clusters.npy", "spike_times.npy"], complete=True)], [])

    def test_sorting_without_spike_clusters_or_templates_is_incomplete_and_the_finding_names_them(
            self, tmp_path: Path) -> None:
        found = recognise(Kilosort, tmp_path, [
            *ks("probe_1/ks25", ["params.py", "spike_times.npy"]),  # stopped before clustering
            *ks("probe_2/ks25", ["params.py", "spike_clusters.npy"]),  # spike times never copied
        ])
        assert found.outputs == [
            Output(kind="kilosort", path="probe_1/ks25", recording="probe_1", files=["params.py", "spike_times.npy"],
                   complete=False),
            Output(kind="kilosort", path="probe_2/ks25", recording="probe_2",
                   files=["params.py", "spike_clusters.npy"], complete=False)]
        assert [(f.code, f.path, f.severity.name) for f in found.findings] == [
            ("KILOSORT.INCOMPLETE", at("probe_1/ks25"), "WARNING"),
            ("KILOSORT.INCOMPLETE", at("probe_2/ks25"), "WARNING")]
        assert "lacks spike_clusters.npy or spike_templates.npy;" in found.findings[0].message
        assert "lacks spike_times.npy;" in found.findings[1].message

    def test_kilosort4_and_other_spellings_are_recognised_in_any_case_and_other_folders_are_not(
            self, tmp_path: Path) -> None:
        found = recognise(Kilosort, tmp_path, [
            *ks("probe_1/kilosort4"),  # Kilosort 4's own folder name
            *ks("probe_2/KS2.5"),  # upper case on a Windows share
            *ks("probe_3/Kilosort2.5"),
            *ks("probe_4/phy_export"),  # same files, but not a ks*/kilosort* folder: not recognised
            *ks("probe_5"),  # sorted straight into the probe folder: not a sorting folder, not recognised
        ])
        assert [(o.path, o.recording, o.complete) for o in found.outputs] == [
            ("probe_1/kilosort4", "probe_1", True), ("probe_2/KS2.5", "probe_2", True),
            ("probe_3/Kilosort2.5", "probe_3", True)]

    def test_sorting_beside_the_only_probe_folder_belongs_to_it_and_beside_two_to_neither(
            self, tmp_path: Path) -> None:
        one = recognise(Kilosort, tmp_path / "one", [
            *probe("probe_1", "1"),  # the one probe of the session
            *ks("ks25"),  # beside probe_1, not in it: still probe_1's
        ])
        two = recognise(Kilosort, tmp_path / "two", [
            *probe("probe_1", "1"), *probe("probe_2", "2"),  # two probes
            *ks("ks25"),  # beside both: which one it sorted is not known from the tree
        ])
        assert [(o.path, o.recording) for o in one.outputs + two.outputs] == [("ks25", "probe_1"), ("ks25", "")]

    def test_sorting_deeper_in_a_spikeglx_run_folder_belongs_to_that_probe_folder(self, tmp_path: Path) -> None:
        found = recognise(Kilosort, tmp_path, [
            *probe("run_g0/run_g0_imec0", "1"),  # SpikeGLX's own probe folder naming
            *ks("run_g0/run_g0_imec0/sorting/ks25"),  # two levels into the probe folder
        ])
        assert [(o.path, o.recording) for o in found.outputs] == [
            ("run_g0/run_g0_imec0/sorting/ks25", "run_g0/run_g0_imec0")]

    def test_curations_layout_gives_one_curation_per_probe_and_its_ks_folders_are_not_sortings(
            self, tmp_path: Path) -> None:
        found = recognise(Kilosort, tmp_path, [
            *ks("curations/2024-02-01_ab/probe_1", [*KS_COMPLETE, "cluster_group.tsv"]),  # phy's labels
            *ks("curations/2024-02-01_ab/probe_2", ["cluster_group.tsv"]),  # labels only: incomplete
            *ks("curations/2024-02-01_ab/probe_1/ks25"),  # inside a curation: part of it, not a second output
            ("curations/notes.txt", "who curated what"),  # not a curation folder
        ])
        assert found.outputs == [
            Output(kind="curation", path="curations/2024-02-01_ab/probe_1", recording="probe_1",
                   files=["cluster_group.tsv", *KS_COMPLETE], complete=True),
            Output(kind="curation", path="curations/2024-02-01_ab/probe_2", recording="probe_2",
                   files=["cluster_group.tsv"], complete=False)]
        assert [(f.code, f.path) for f in found.findings] == [
            ("KILOSORT.INCOMPLETE", at("curations/2024-02-01_ab/probe_2"))]

    def test_discovery_lists_sortings_as_outputs_of_the_session(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", [
            *ks("probe_1/ks25"),  # complete
            *ks("probe_2/kilosort4", ["spike_times.npy"]),  # incomplete
        ])
        candidate, findings = discover(root)
        assert record(candidate) == expected(root, ["kilosort"], outputs=[
            Output(kind="kilosort", path="probe_1/ks25", recording="probe_1", files=KS_COMPLETE),
            Output(kind="kilosort", path="probe_2/kilosort4", recording="probe_2", files=["spike_times.npy"],
                   complete=False)], findings=[("KILOSORT.INCOMPLETE", at("probe_2/kilosort4"))])
        assert findings == []


NEUROLOGGER = [
    ("neurologger_header.mat", b"MATLAB 5.0"),  # the header: this is a Neurologger session
    ("Raw/NEUR0000.DAT", b"\x00"),  # the logger's raw files: counted, the first one listed
    ("Raw/NEUR0001.DAT", b"\x00"),
    ("Raw/NEUR0002.DAT", b"\x00"),
    ("Processed/spikes.mat", b"MATLAB 5.0"),  # derived from Raw/: neither listed nor required
    ("Optitrack/take_01.csv", "Frame,Time\n"),  # the tracking: reported once, by Tracking
]


class TestNeurologger:
    """A neurologger_header.mat with Raw/ (required), Processed/ and Optitrack/*.csv beside it."""

    def test_header_with_raw_files_is_one_recording_listing_the_header_and_first_raw_file(
            self, tmp_path: Path) -> None:
        found = recognise(Neurologger, tmp_path, NEUROLOGGER)
        assert (found.recordings, found.findings) == ([Recording(
            system="neurologger", name="neurologger", folder="",
            files=["neurologger_header.mat", "Raw/NEUR0000.DAT"], n_files=3)], [])

    def test_header_one_folder_down_is_found_and_two_folders_down_is_not(self, tmp_path: Path) -> None:
        found = recognise(Neurologger, tmp_path, [
            *[(f"logger/{rel}", content) for rel, content in NEUROLOGGER],  # one level down: the usual copy
            ("backup/old/neurologger_header.mat", b"MATLAB 5.0"),  # two levels down: not this session's header
        ])
        assert (found.recordings, found.findings) == ([Recording(
            system="neurologger", name="neurologger", folder="logger",
            files=["logger/neurologger_header.mat", "logger/Raw/NEUR0000.DAT"], n_files=3)], [])

    def test_header_without_raw_is_a_recording_with_no_files_counted_and_an_incomplete_finding(
            self, tmp_path: Path) -> None:
        found = recognise(Neurologger, tmp_path, [
            (rel, content) for rel, content in NEUROLOGGER if not rel.startswith("Raw/")])  # Raw/ not copied
        assert found.recordings == [Recording(system="neurologger", name="neurologger", folder="",
                                              files=["neurologger_header.mat"], n_files=0)]
        assert [(f.code, f.path) for f in found.findings] == [("NEUROLOGGER.INCOMPLETE", SESSION)]
        assert "no Raw/ folder" in found.findings[0].message

    def test_neurologger_does_not_report_optitrack_itself_but_says_when_it_is_missing(
            self, tmp_path: Path) -> None:
        found = recognise(Neurologger, tmp_path, [
            (rel, content) for rel, content in NEUROLOGGER if not rel.startswith("Optitrack/")])  # no tracking
        assert [r.system for r in found.recordings] == ["neurologger"]
        assert [(f.code, f.path) for f in found.findings] == [("NEUROLOGGER.INCOMPLETE", SESSION)]
        assert "no Optitrack/*.csv" in found.findings[0].message

    def test_discovery_reports_the_optitrack_folder_once_with_both_systems_running(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", NEUROLOGGER)
        for systems in (None, ["neurologger", "tracking"]):  # the ephys default runs both, so does this list
            candidate, findings = discover(root, systems)
            assert record(candidate) == expected(root, ["neurologger", "tracking"], recordings=[
                Recording(system="neurologger", name="neurologger", folder="",
                          files=["neurologger_header.mat", "Raw/NEUR0000.DAT"], n_files=3),
                Recording(system="tracking", name="optitrack", folder="Optitrack", files=["Optitrack/take_01.csv"],
                          n_files=1)])
            assert findings == []


TRIAL1 = ["trial1.1", "trial1.2", "trial1.bin", "trial1.clu.1", "trial1.eeg", "trial1.egf", "trial1.pos",
          "trial1.set", "trial1_1.cut"]


# What trial1.set tells, as Recording.details
TRIAL1_SET = '{"trial_date": "Monday, 04 Mar 2024", "trial_time": "10:15:03", "duration_s": 1200.0}'


class TestAxona:
    """One recording per .set with its same-stem files; all trials of a folder are one session."""

    TREE = [
        ("trial1.set", "trial_date Monday, 04 Mar 2024\ntrial_time 10:15:03\nduration 1200\n"),  # a trial
        ("trial1.bin", b"\x00"),  # its raw data
        ("trial1.pos", b"\x00"),  # its position data
        ("trial1.1", b"\x00"), ("trial1.2", b"\x00"),  # tetrodes 1 and 2
        ("trial1.eeg", b"\x00"), ("trial1.egf", b"\x00"),  # LFP
        ("trial1_1.cut", "n_clusters: 4\n"),  # Tint's cut for tetrode 1: <stem>_<tetrode>.cut
        ("trial1.clu.1", "4\n"),  # KlustaKwik's clusters for tetrode 1
        ("trial10.set", "trial_date Monday, 04 Mar 2024\n"),  # a second trial whose stem starts with the first's
        ("trial10.pos", b"\x00"),  # trial10's, not trial1's
        ("trial10_2.cut", "n_clusters: 2\n"),  # trial10's cut: the longest stem wins
        ("notes.txt", "open field then sleep"),  # no stem: nobody's
    ]

    def test_two_set_files_give_two_recordings_each_with_its_own_companions(self, tmp_path: Path) -> None:
        found = recognise(Axona, tmp_path, self.TREE)
        assert (found.recordings, found.findings) == ([
            Recording(system="axona", name="trial1", folder="", files=TRIAL1, n_files=9, details=TRIAL1_SET),
            Recording(system="axona", name="trial10", folder="", files=["trial10.pos", "trial10.set",
                                                                          "trial10_2.cut"], n_files=3,
                      details='{"trial_date": "Monday, 04 Mar 2024"}')], [])

    def test_same_stem_in_another_folder_is_another_recording(self, tmp_path: Path) -> None:
        found = recognise(Axona, tmp_path, [
            ("day1/trial1.set", "x"), ("day1/trial1.pos", b"\x00"),  # a trial in day1/
            ("day2/trial1.set", "x"),  # the same name in day2/: its own recording, no day1 files
        ])
        assert [(r.folder, r.files) for r in found.recordings] == [
            ("day1", ["day1/trial1.pos", "day1/trial1.set"]), ("day2", ["day2/trial1.set"])]

    def test_discovery_makes_one_session_with_both_trials(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", self.TREE)
        candidate, findings = discover(root)
        assert record(candidate) == expected(root, ["axona"], recordings=[
            Recording(system="axona", name="trial1", folder="", files=TRIAL1, n_files=9, details=TRIAL1_SET),
            Recording(system="axona", name="trial10", folder="", files=["trial10.pos", "trial10.set",
                                                                          "trial10_2.cut"], n_files=3,
                      details='{"trial_date": "Monday, 04 Mar 2024"}')])
        assert findings == []


class TestNeuralynx:
    """One .ntt per session: one recording; more than one is still listed, with a finding."""

    def test_one_ntt_is_one_recording_counting_channels_and_events(self, tmp_path: Path) -> None:
        found = recognise(Neuralynx, tmp_path, [
            ("TT1.ntt", b"\x00"),  # the tetrode file: the recording
            ("CSC1.ncs", b"\x00"), ("CSC2.ncs", b"\x00"),  # continuous channels: counted, not listed
            ("Events.nev", b"\x00"),  # events: counted and listed
            ("VT1.nvt", b"\x00"),  # video tracking: not part of the ephys recording
        ])
        assert (found.recordings, found.findings) == ([
            Recording(system="neuralynx", name="TT1", folder="", files=["Events.nev", "TT1.ntt"], n_files=4)], [])

    def test_an_ntt_header_tells_when_it_was_opened_its_rate_and_its_spike_count(self, tmp_path: Path) -> None:
        header = ("######## Neuralynx Data File Header\r\n-CheetahRev 6.4.1\r\n-TimeCreated 2022/04/19 10:15:03\r\n"
                  "-SamplingFrequency 32000\r\n").encode().ljust(16384, b" ")
        found = recognise(Neuralynx, tmp_path, [("TT1.ntt", header + b"\x01" * 304 * 7)])  # 7 spike records
        assert [json.loads(r.details) for r in found.recordings] == [
            {"n_spikes": 7, "created": "2022-04-19T10:15:03", "sampling_rate_hz": 32000.0}]

    def test_two_ntt_files_are_two_recordings_and_one_finding_listing_them(self, tmp_path: Path) -> None:
        found = recognise(Neuralynx, tmp_path, [
            ("TT1.ntt", b"\x00"),  # the session's recording
            ("old/TT1.ntt", b"\x00"),  # a copy left in a subfolder: also listed, and reported
        ])
        assert found.recordings == [
            Recording(system="neuralynx", name="TT1", folder="", files=["TT1.ntt"], n_files=1),
            Recording(system="neuralynx", name="TT1", folder="old", files=["old/TT1.ntt"], n_files=1)]
        assert [(f.code, f.path) for f in found.findings] == [("NEURALYNX.MULTIPLE_NTT", SESSION)]
        assert "(TT1.ntt, old/TT1.ntt)" in found.findings[0].message

    def test_discovery_of_a_session_with_two_ntt_files(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", [("TT1.ntt", b"\x00"), ("TT2.ntt", b"\x00"), ("Events.nev", b"\x00")])
        candidate, findings = discover(root)
        assert record(candidate) == expected(root, ["neuralynx"], recordings=[
            Recording(system="neuralynx", name="TT1", folder="", files=["Events.nev", "TT1.ntt"], n_files=2),
            Recording(system="neuralynx", name="TT2", folder="", files=["Events.nev", "TT2.ntt"], n_files=2)],
            findings=[("NEURALYNX.MULTIPLE_NTT", SESSION)])
        assert findings == []


MOTIVE = [
    # the take's metadata
    ("motive/matmot.meta", "fileCreateTime=2024-03-05T10:31:07\nframeRate=120\nnRigidBodies=1\n"),
    ("motive/matmot.mtv", b"\x00"),  # the take
    ("motive/sync.mat", b"MATLAB 5.0"),  # the pulses that align it with the probes
]

# What matmot.meta tells, as Recording.details
MOTIVE_META = '{"frame_rate": 120.0, "n_rigid_bodies": 1, "created": "2024-03-05T10:31:07"}'


class TestTracking:
    """motive/ (matmot.meta, matmot.mtv, sync.mat) and Optitrack/*.csv, each reported once."""

    def test_complete_motive_folder_is_one_recording(self, tmp_path: Path) -> None:
        found = recognise(Tracking, tmp_path, [*MOTIVE, ("motive/take.log", "ok")])  # a log: counted only
        assert (found.recordings, found.findings) == ([Recording(
            system="tracking", name="motive", folder="motive",
            files=["motive/matmot.meta", "motive/matmot.mtv", "motive/sync.mat"], n_files=4, details=MOTIVE_META)], [])

    def test_motive_folder_without_sync_mat_is_a_recording_with_a_finding_naming_it(self, tmp_path: Path) -> None:
        found = recognise(Tracking, tmp_path, MOTIVE[:2])  # sync.mat never copied
        assert found.recordings == [Recording(system="tracking", name="motive", folder="motive",
                                              files=["motive/matmot.meta", "motive/matmot.mtv"], n_files=2,
                                              details=MOTIVE_META)]
        assert [(f.code, f.path) for f in found.findings] == [("TRACKING.INCOMPLETE", at("motive"))]
        assert "lacks sync.mat;" in found.findings[0].message

    def test_optitrack_csvs_are_one_recording_and_a_folder_without_csvs_is_none(self, tmp_path: Path) -> None:
        found = recognise(Tracking, tmp_path, [
            ("Optitrack/take_01.csv", "Frame\n"), ("Optitrack/take_02.csv", "Frame\n"),  # the exports
            ("Optitrack/take_01.tak", b"\x00"),  # Motive's own take: counted, not listed
            ("logger/OPTITRACK/notes.txt", "not exported yet"),  # an Optitrack folder with no CSV: nothing
            ("Optitrack/old/take_00.csv", "Frame\n"),  # a subfolder of Optitrack/: not that recording's
        ])
        assert (found.recordings, found.findings) == ([Recording(
            system="tracking", name="optitrack", folder="Optitrack",
            files=["Optitrack/take_01.csv", "Optitrack/take_02.csv"], n_files=3)], [])

    def test_discovery_lists_motive_with_its_finding(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", MOTIVE[1:])  # matmot.meta missing
        candidate, findings = discover(root)
        assert record(candidate) == expected(root, ["tracking"], recordings=[Recording(
            system="tracking", name="motive", folder="motive", files=["motive/matmot.mtv", "motive/sync.mat"],
            n_files=2)], findings=[("TRACKING.INCOMPLETE", at("motive"))])
        assert findings == []


class TestSeveralSystems:
    """One Moser-style session read by every ephys system at once."""

    def test_probes_sortings_motive_and_sessions_txt_in_one_session(self, tmp_path: Path) -> None:
        root = write(tmp_path / "N", [
            *probe("probe_1", "18408403232"), *probe("probe_2", "18408403541"),  # SpikeGLX probes
            *ks("probe_1/ks25"),  # probe_1 sorted
            *ks("probe_2/ks25", ["params.py"]),  # probe_2's sorting still running: incomplete
            *MOTIVE,  # tracking
            ("sessions.txt", "#1, open_field start=30 <RUNNING>\n"),  # the task list
            ("sync_all.mat", b"MATLAB 5.0"),  # the session's sync: no system's
        ])
        candidate, findings = discover(root)
        assert record(candidate) == expected(
            root, ["spikeglx", "kilosort", "tracking", "tasks"],
            probes=[probe_record("probe_1", "18408403232"), probe_record("probe_2", "18408403541")],
            task_hints=[TaskHint(order=1, name="open_field", start_s=30.0, kind="RUNNING")],
            recordings=[Recording(system="tracking", name="motive", folder="motive",
                                  files=["motive/matmot.meta", "motive/matmot.mtv", "motive/sync.mat"], n_files=3,
                                  details=MOTIVE_META)],
            outputs=[Output(kind="kilosort", path="probe_1/ks25", recording="probe_1", files=KS_COMPLETE),
                     Output(kind="kilosort", path="probe_2/ks25", recording="probe_2", files=["params.py"],
                            complete=False)],
            findings=[("KILOSORT.INCOMPLETE", at("probe_2/ks25"))])
        assert findings == []
