"""Discovery on real trees in tmp_path: what is a session, what each one holds, and what the tree reports.

Trees are built from (relative path, content) entries, each with a comment saying why it should
or should not be found. Paths ending in '/' are folders. Most trees use the Moser profile
(profiles/moser-ephys.yaml) with its root moved to the tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mass_ingest.candidates import (CANDIDATE_SCHEMA, ProbeRecording, SessionCandidate, TaskHint,
                                    frame_to_candidates)
from mass_ingest.findings import Finding
from mass_ingest.profile import Profile, load_profile
from mass_ingest.spikeglx_writer import probe_meta
from mass_ingest.walk import Walker
from tasks.discover import discover_share

REPO = Path(__file__).resolve().parent.parent
MOSER = REPO / "profiles" / "moser-ephys.yaml"
LAYOUT = "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"
NP1 = "neuropixels 1.0 - 3B"
BIN_SIZE = 385 * 2 * 4  # four samples of 385 int16 channels
CREATED = datetime(2024, 3, 5, 10, 31, 7)

CORPUS_ENV = "MASS_INGEST_CORPUS"
CORPUS_SKIP = f"set {CORPUS_ENV} to ../shared/corpus (a folder holding spikeglx/*.meta) to discover real .meta files"


def meta_text(serial: str, size: int = BIN_SIZE, created: datetime = CREATED) -> str:
    """A minimal valid SpikeGLX .ap.meta for a 1.0 probe whose .bin has ``size`` bytes."""
    return probe_meta(serial, size, created)


def probe(folder: str, serial: str, stem: str = "npx.imec") -> list[tuple[str, str | bytes]]:
    """The two files SpikeGLX writes for one probe's AP band, created 9 s after the session folder's time."""
    return [(f"{folder}/{stem}.ap.meta", meta_text(serial, created=created_for(folder))),
            (f"{folder}/{stem}.ap.bin", b"\x01" * BIN_SIZE)]


def created_for(folder: str) -> datetime:
    """When SpikeGLX would have written a probe of this session folder: 9 s after its start."""
    stamp = re.search(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}", folder)
    try:
        return datetime.strptime(stamp.group(), "%Y-%m-%d_%H-%M-%S") + timedelta(seconds=9)
    except (AttributeError, ValueError):  # no date in the path, or an odd one (a test of bad dates)
        return CREATED


def make_tree(root: Path, entries: list[tuple[str, str | bytes | None]]) -> Path:
    """Write each (relative path, content) below root; a path ending in '/' is an empty folder."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in entries:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def moser(root: Path) -> Profile:
    return load_profile(MOSER).with_root(str(root))


def discover(profile: Profile, share: str = "N") -> tuple[list[SessionCandidate], list[Finding]]:
    frame, findings = discover_share(profile, share)
    assert frame.schema == pl.Schema(CANDIDATE_SCHEMA)
    return [without_bin_mtimes(c) for c in frame_to_candidates(frame)], findings


def without_bin_mtimes(c: SessionCandidate) -> SessionCandidate:
    """The candidate with the .bin modification times cleared: they are the clock's, not the tree's
    (tests/test_completeness.py checks them)."""
    return c.model_copy(update={"probes": [p.model_copy(update={"bin_mtime": None}) for p in c.probes]})


def probe_record(folder: str, serial: str, meta_file: str | None = None, **changes: object) -> ProbeRecording:
    """What discovery reads from one probe written by :func:`probe`."""
    return ProbeRecording(**{
        "folder": folder, "meta_file": meta_file or f"{folder}/npx.imec.ap.meta",
        "bin_file": (meta_file or f"{folder}/npx.imec.ap.meta")[: -len(".meta")] + ".bin", "serial": serial,
        "probe_type": NP1, "part_number": "PRB_1_4_0480_1", "n_saved_chans": 385, "sample_rate": 30000.0,
        "file_size_bytes": BIN_SIZE, "file_time_secs": float(f"{BIN_SIZE / 770 / 30000:.9g}"),
        "file_create_time": CREATED, "bin_size": BIN_SIZE, "has_lf": False, **changes})


def record(c: SessionCandidate) -> dict:
    """A candidate as a whole dict, with findings as (code, path) pairs (their messages are prose)."""
    return {**c.model_dump(exclude={"findings"}), "findings": [(f.code, f.path) for f in c.findings]}


def where(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def session_record(rel: str, subject: str, start: datetime | None, **changes: object) -> dict:
    """The whole record :func:`record` gives for a session folder; ``root`` is the share root."""
    systems = (["spikeglx"] if changes.get("probes") or changes.get("bins_without_meta") else []) + \
        (["tasks"] if changes.get("task_hints") else [])
    if "probes" in changes:
        changes["probes"] = [p.model_dump() for p in changes["probes"]]
    return {"share": "N", "rel_path": rel, "location": (str(changes.pop("root")) + "/" + rel).lower(),
            "subject": subject, "session_start": start, "start_inferred": False, "start_source": "",
            "modality": "ephys",
            "layout": LAYOUT, "probes": [],
            "bins_without_meta": [], "task_hints": [], "recordings": [], "outputs": [], "systems": systems,
            "projects": [], "experimenter": None, "group": "", "excluded_by": None, "findings": [], **changes}


S1 = "recordings/25843/2024-03-05_10-30-58"
T1 = datetime(2024, 3, 5, 10, 30, 58)


class TestSessionFolders:
    """Which folders are sessions: the layout is walked level by level and never leaves it."""

    def test_moser_layout_finds_sessions_under_recordings_and_never_enters_analysis_or_histology(
            self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_1", "18408403232"),  # a session: recordings/<subject>/<time>/
            ("recordings/26018/2024-04-18_13-15-40/", None),  # a session folder with no recording yet: found
            ("recordings/25843/notes.txt", "implanted 2024-02-27\n"),  # a file at session depth: not a folder
            ("recordings/README.txt", "raw data\n"),  # a file at subject depth: not a folder
            ("Recordings/25843/2024-03-05_10-30-58/", None),  # case differs from the template: not entered
            *probe("analysis/25843/2024-03-05_10-30-58/probe_1", "1"),  # same shape, wrong top folder
            ("histology/25843/2024-03-05_10-30-58/tracks.csv", "probe,shank\n"),  # same shape, wrong top folder
            ("recordings/25843/2024-03-05_10-30-58_extra/deeper/2024-03-05_10-30-58/", None),  # too deep beyond
        ])
        # Tripwires: listing analysis/ or histology/ would report these, so no finding means never entered.
        (root / "histology" / "link").symlink_to("/")
        os.mkdir(os.path.join(os.fsencode(root / "analysis"), b"bad\xff"))
        tripwire = Walker("N", str(root))
        tripwire.subfolders(str(root / "analysis")), tripwire.subfolders(str(root / "histology"))
        assert where(tripwire.findings) == [("DISCOVER.BAD_NAME", "analysis"),
                                            ("DISCOVER.SYMLINK_OUTSIDE", "histology/link")]

        candidates, findings = discover(moser(root))

        assert [record(c) for c in candidates] == [
            session_record(S1, "25843", T1, root=root, probes=[probe_record("probe_1", "18408403232")],
                           projects=["grid-cells"]),
            session_record("recordings/25843/2024-03-05_10-30-58_extra", "25843", None, root=root,
                           projects=["grid-cells"],
                           findings=[("DISCOVER.BAD_DATE", "recordings/25843/2024-03-05_10-30-58_extra")]),
            session_record("recordings/26018/2024-04-18_13-15-40", "26018", datetime(2024, 4, 18, 13, 15, 40),
                           root=root, projects=["grid-cells"]),
        ]
        assert findings == []

    def test_empty_share_gives_an_empty_frame_and_no_findings(self, tmp_path: Path) -> None:
        frame, findings = discover_share(moser(make_tree(tmp_path / "N", [])), "N")
        assert (frame.schema, frame.height, findings) == (pl.Schema(CANDIDATE_SCHEMA), 0, [])

    def test_folder_fitting_two_layouts_is_one_session_of_the_first(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [(f"{S1}/", None)])  # fits both templates below
        profile = Profile.model_validate({"name": "two", "timezone": "Europe/Oslo", "shares": [{
            "name": "N", "root": str(root), "layouts": [
                {"template": LAYOUT}, {"template": "recordings/{subject}/{session_date:%Y-%m-%d_%H-%M-%S}"}]}]})
        candidates, _ = discover(profile)
        assert [(c.rel_path, c.layout) for c in candidates] == [(S1, LAYOUT)]

    def test_unparseable_folder_date_is_a_candidate_with_no_start_and_a_bad_date_finding(
            self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe("recordings/25843/2024-02-30_10-00-00/probe_1", "18408403232"),  # 30 February: no such day
            ("recordings/25843/5-3-2024/", None),  # another order of fields: not this layout's, counted
            ("recordings/26018/20240305/", None),  # an imaging day's format: not this layout's, counted
        ])
        candidates, findings = discover(moser(root))
        assert [(c.rel_path, c.session_start, c.session_id, where(c.findings)) for c in candidates] == [
            ("recordings/25843/2024-02-30_10-00-00", None, "25843/unknown-time",
             [("DISCOVER.BAD_DATE", "recordings/25843/2024-02-30_10-00-00")]),
        ]
        assert candidates[0].probes == [probe_record("probe_1", "18408403232")]
        bad = candidates[0].findings[0]
        assert (bad.severity.name, bad.expected) == ("ERROR", LAYOUT)
        assert "'2024-02-30_10-00-00' does not read as %Y-%m-%d_%H-%M-%S" in bad.message
        # The folders of another format are one INFO finding on the share, never candidates.
        assert [(f.code, f.severity.name, f.path, f.message) for f in findings] == [
            ("DISCOVER.UNMATCHED_FOLDERS", "INFO", "recordings",
             "2 folders under recordings/ match no layout of this profile (e.g. recordings/25843/5-3-2024, "
             "recordings/26018/20240305); they are not ingested: add a layout for their format if they are "
             "sessions")]

    def test_a_longer_format_is_not_a_suffix_of_a_shorter_one(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [("recordings/25843/2024-03-05_10-30-58/", None),  # an ephys folder
                                          ("recordings/25843/2024-03-06/", None),  # a day folder
                                          ("recordings/25843/2024-03-07_old/", None)])  # a day folder's copy
        profile = Profile.model_validate({"name": "days", "timezone": "Europe/Oslo", "shares": [{
            "name": "N", "root": str(root), "layouts": [{"template": "recordings/{subject}/{session_date:%Y-%m-%d}",
                                                          "modality": "imaging"}]}]})
        candidates, findings = discover(profile)
        assert [(c.rel_path, [f.code for f in c.findings]) for c in candidates] == [
            ("recordings/25843/2024-03-06", ["IMAGING.START_UNKNOWN"]),  # empty: no file tells its time
            ("recordings/25843/2024-03-07_old", ["DISCOVER.BAD_DATE", "DISCOVER.SUSPICIOUS_COPY"])]
        assert [(f.code, f.message.split(" (e.g.")[0]) for f in findings] == [
            ("DISCOVER.UNMATCHED_FOLDERS", "1 folder under recordings/ matches no layout of this profile")]

    @pytest.mark.parametrize("subject", ["102_1", "no", "f4fab316a8743038", "00042", "1e5"])
    def test_subject_ids_stay_the_folder_name_text(self, tmp_path: Path, subject: str) -> None:
        root = make_tree(tmp_path / "N", [(f"recordings/{subject}/2024-05-14_15-22-09/", None)])
        candidates, _ = discover(moser(root))
        assert [(c.subject, c.session_id) for c in candidates] == [(subject, f"{subject}/2024-05-14_15-22-09")]


class TestProbes:
    """What a session folder holds: one probe per .ap.meta at any depth, and missing halves of pairs."""

    def test_two_probe_folders_give_two_probes_with_serials_and_the_lab_label(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_2", "18408403541"),  # written first, listed second: probes sorted by path
            *probe(f"{S1}/probe_1", "18408403232"),
            (f"{S1}/probe_1/npx.imec.lf.meta", meta_text("18408403232")),  # 1.0 probes save an LF band too
            (f"{S1}/probe_1/npx.imec.lf.bin", b"\x01" * BIN_SIZE),
            (f"{S1}/sync_all.mat", b"MATLAB 5.0"),  # not a probe
            (f"{S1}/motive/matmot.meta", "frameRate=120\n"),  # a .meta that is not .ap.meta: not a probe
            (f"{S1}/motive/matmot.mtv", b""),  # the rest of a complete Motive recording (tracking, not a probe)
            (f"{S1}/motive/sync.mat", b""),
        ])
        [candidate], findings = discover(moser(root))
        assert candidate.probes == [probe_record("probe_1", "18408403232", has_lf=True),
                                    probe_record("probe_2", "18408403541")]
        assert (candidate.findings, candidate.bins_without_meta, findings) == ([], [], [])

    def test_probe_folder_nested_deeper_imec0_style_is_found(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            # SpikeGLX's own naming: <run>_g0/<run>_g0_imec0/<run>_g0_t0.imec0.ap.meta, two levels down.
            *probe(f"{S1}/run_g0/run_g0_imec0", "19122510362", stem="run_g0_t0.imec0"),
            (f"{S1}/run_g0/run_g0_t0.nidq.meta", "typeThis=nidq\n"),  # the NI stream: not a probe
        ])
        [candidate], _ = discover(moser(root))
        assert candidate.probes == [probe_record("run_g0/run_g0_imec0", "19122510362",
                                                 meta_file="run_g0/run_g0_imec0/run_g0_t0.imec0.ap.meta")]

    def test_bin_without_meta_is_listed_with_a_finding(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_1", "18408403232"),
            (f"{S1}/probe_2/npx.imec.ap.bin", b"\x01" * BIN_SIZE),  # its .meta was never copied
        ])
        [candidate], _ = discover(moser(root))
        assert (candidate.probes, candidate.bins_without_meta, where(candidate.findings)) == (
            [probe_record("probe_1", "18408403232")], ["probe_2/npx.imec.ap.bin"],
            [("EPHYS.BIN_WITHOUT_META", f"{S1}/probe_2/npx.imec.ap.bin")])
        assert candidate.findings[0].severity.name == "ERROR"

    def test_meta_without_bin_is_a_probe_with_no_bin_size_and_a_finding(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            (f"{S1}/probe_1/npx.imec.ap.meta", meta_text("18408403232")),  # the .bin was not copied
        ])
        [candidate], _ = discover(moser(root))
        assert (candidate.probes, candidate.bins_without_meta, where(candidate.findings)) == (
            [probe_record("probe_1", "18408403232", bin_size=None, bin_file=None)], [],
            [("EPHYS.META_WITHOUT_BIN", f"{S1}/probe_1/npx.imec.ap.meta")])

    def test_zero_byte_meta_keeps_the_probe_with_no_serial_and_reports_meta_empty(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            (f"{S1}/probe_1/npx.imec.ap.meta", b""),  # a crash during copy left an empty file
            (f"{S1}/probe_1/npx.imec.ap.bin", b"\x01" * BIN_SIZE),
        ])
        [candidate], _ = discover(moser(root))
        assert (candidate.probes, where(candidate.findings)) == (
            [ProbeRecording(folder="probe_1", meta_file="probe_1/npx.imec.ap.meta", bin_file="probe_1/npx.imec.ap.bin",
                            bin_size=BIN_SIZE)],
            [("META.EMPTY", f"{S1}/probe_1/npx.imec.ap.meta")])


class TestProfileRules:
    """Exclusions and projects from the profile, applied per session."""

    def test_excluded_subject_names_the_rule_and_reports_excluded(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe("recordings/00000/2024-03-01_16-45-20/probe_1", "17131311352"),  # excluded: subjects 00000
            ("recordings/test_rig/2024-03-02_09-00-00/", None),  # excluded: paths '*/test*'
            (f"{S1}/", None),  # kept
        ])
        candidates, _ = discover(moser(root))
        assert [(c.subject, c.excluded_by, where(c.findings)) for c in candidates] == [
            ("00000", "exclude subjects: '00000'",
             [("DISCOVER.EXCLUDED", "recordings/00000/2024-03-01_16-45-20")]),
            ("25843", None, []),
            ("test_rig", "exclude paths: '*/test*'",
             [("DISCOVER.EXCLUDED", "recordings/test_rig/2024-03-02_09-00-00")]),
        ]
        assert candidates[0].findings[0].message == ("excluded by the profile (exclude subjects: '00000'); change that "
                                                     "rule in the profile to ingest it")
        assert candidates[0].probes == [probe_record(  # still described in full
            "probe_1", "17131311352", file_create_time=created_for("recordings/00000/2024-03-01_16-45-20"))]

    def test_project_membership_follows_the_project_rules(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            (f"{S1}/", None),  # grid-cells by subject
            ("recordings/26018/2024-04-01_00-00-00/", None),  # grid-cells by subject; pilot ends before it
            ("recordings/102_1/2024-03-31_23-59-59/", None),  # not grid-cells; pilot by time
            ("recordings/m9/2024-06-03_10-12-44/", None),  # neither
        ])
        data = moser(root).model_dump()
        data["projects"].append({"name": "pilot", "start_after": "2024-03-01T00:00:00",
                                 "start_before": "2024-04-01T00:00:00"})
        candidates, _ = discover(Profile.model_validate(data))
        assert {c.subject: c.projects for c in candidates} == {
            "25843": ["grid-cells", "pilot"], "26018": ["grid-cells"], "102_1": ["pilot"], "m9": []}

    def test_suspicious_folder_name_is_reported_but_kept(self, tmp_path: Path) -> None:
        profile = Profile.model_validate({**moser(tmp_path).model_dump(), "exclude": {}})
        root = make_tree(tmp_path, [("recordings/25843/2024-03-05_10-30-58_copy/", None)])  # name says copy
        profile = profile.with_root(str(root))
        [candidate], _ = discover(profile)
        assert where(candidate.findings) == [
            ("DISCOVER.BAD_DATE", "recordings/25843/2024-03-05_10-30-58_copy"),
            ("DISCOVER.SUSPICIOUS_COPY", "recordings/25843/2024-03-05_10-30-58_copy")]


class TestTaskHints:
    """sessions.txt beside the probes: ordered task hints, and a finding per line that is not one."""

    def test_hints_are_ordered_by_start_and_a_malformed_line_is_reported(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [(f"{S1}/sessions.txt", (
            "#2,    sleep    start=1200    <SLEEP>\n"
            "#1,    open_field_1    start=30    <RUNNING>\n"
            "\n"  # blank lines are not tasks and not problems
            "open field without a number\n"  # line 4: malformed
            "#3, linear_track start=6300.5\n"  # no <TYPE>: still a task
        ))])
        [candidate], _ = discover(moser(root))
        assert candidate.task_hints == [TaskHint(order=1, name="open_field_1", start_s=30.0, kind="RUNNING"),
                                        TaskHint(order=2, name="sleep", start_s=1200.0, kind="SLEEP"),
                                        TaskHint(order=3, name="linear_track", start_s=6300.5, kind="")]
        assert where(candidate.findings) == [("TASKS.MALFORMED_LINE", f"{S1}/sessions.txt")]
        assert "line 4 'open field without a number'" in candidate.findings[0].message

    def test_a_name_or_type_too_long_to_store_is_a_finding_not_a_failed_insert(self, tmp_path: Path) -> None:
        longest, too_long = "a" * 128, "b" * 129
        root = make_tree(tmp_path / "N", [(f"{S1}/sessions.txt", (
            f"#1, {longest} start=1 <{'R' * 64}>\n"
            f"#2, {too_long} start=2 <SLEEP>\n"
            f"#3, sleep start=3 <{'S' * 65}>\n"))])
        [candidate], _ = discover(moser(root))
        assert [(h.name, h.kind) for h in candidate.task_hints] == [(longest, "R" * 64)]
        assert [f.message.split("'")[0] for f in candidate.findings] == ["line 2 ", "line 3 "]

    def test_sessions_txt_below_the_session_folder_is_not_read(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [(f"{S1}/logs/sessions.txt", "#1, sleep start=1 <SLEEP>\n")])
        [candidate], _ = discover(moser(root))
        assert (candidate.task_hints, candidate.findings) == ([], [])


def run_with_deadline(function, seconds: float):
    """Call function in a daemon thread; fail (instead of hanging the run) if it takes too long."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return result[0]


class TestTreeProblems:
    """Links, odd names and unreadable folders: findings, never exceptions, and other sessions still found."""

    def test_symlink_loop_inside_a_session_is_reported_and_not_followed(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        (root / S1 / "probe_1" / "again").symlink_to("..")  # back to the session folder itself
        (root / S1 / "self").symlink_to(".")
        [candidate], findings = run_with_deadline(lambda: discover(moser(root)), 10)
        assert candidate.probes == [probe_record("probe_1", "18408403232")]
        # Problems inside a session folder are the session's findings, not the share's.
        assert (sorted(where(candidate.findings)), findings) == (
            [("DISCOVER.SYMLINK_LOOP", f"{S1}/probe_1/again"), ("DISCOVER.SYMLINK_LOOP", f"{S1}/self")], [])

    def test_link_to_the_parent_of_the_session_does_not_pull_in_other_sessions(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_1", "18408403232"),
            *probe("recordings/25843/2024-03-12_14-02-11/probe_1", "18408403541"),  # a sibling session
        ])
        (root / S1 / "up").symlink_to("..")  # recordings/25843: contains this session and its sibling
        candidates, findings = run_with_deadline(lambda: discover(moser(root)), 10)
        assert [c.probes for c in candidates] == [[probe_record("probe_1", "18408403232")],
                                                  [probe_record("probe_1", "18408403541", file_create_time=created_for(
                                                      "recordings/25843/2024-03-12_14-02-11"))]]
        assert ([where(c.findings) for c in candidates], findings) == (
            [[("DISCOVER.SYMLINK_LOOP", f"{S1}/up")], []], [])

    def test_symlink_outside_the_share_root_is_reported_and_not_followed(self, tmp_path: Path) -> None:
        outside = make_tree(tmp_path / "elsewhere", [*probe("probe_9", "99999999999"),
                                                     ("2024-01-01_00-00-00/", None)])
        root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "18408403232")])
        (root / S1 / "probe_9").symlink_to(outside / "probe_9")  # inside a session
        (root / "recordings" / "77777").symlink_to(outside)  # at subject depth
        candidates, findings = discover(moser(root))
        assert [(c.rel_path, c.probes) for c in candidates] == [(S1, [probe_record("probe_1", "18408403232")])]
        assert where(candidates[0].findings) == [("DISCOVER.SYMLINK_OUTSIDE", f"{S1}/probe_9")]  # the session's
        assert where(findings) == [("DISCOVER.SYMLINK_OUTSIDE", "recordings/77777")]  # the share's
        assert all(str(outside) in f.message for f in [*findings, *candidates[0].findings])

    def test_symlink_inside_the_share_root_is_followed(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe("moved/probe_2", "18408403541"),  # moved out of the session, linked back in
            *probe(f"{S1}/probe_1", "18408403232"),
        ])
        (root / S1 / "probe_2").symlink_to(root / "moved" / "probe_2")
        [candidate], findings = discover(moser(root))
        assert (candidate.probes, findings) == (
            [probe_record("probe_1", "18408403232"), probe_record("probe_2", "18408403541")], [])

    def test_non_utf8_names_are_reported_and_everything_else_is_found(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_1", "18408403232"),
            ("recordings/26018/2024-04-18_13-15-40/", None),
        ])
        session = os.fsencode(root / S1)
        with open(os.path.join(session, b"bad\xff.txt"), "wb") as fh:  # a file in a session folder
            fh.write(b"x")
        os.makedirs(os.path.join(os.fsencode(root / "recordings"), b"m\xe99", b"2024-01-01_00-00-00"))  # a subject
        candidates, findings = discover(moser(root))
        assert [(c.rel_path, c.probes) for c in candidates] == [
            (S1, [probe_record("probe_1", "18408403232")]), ("recordings/26018/2024-04-18_13-15-40", [])]
        assert where(findings) == [("DISCOVER.BAD_NAME", "recordings")]
        assert where(candidates[0].findings) == [("DISCOVER.BAD_NAME", S1)]
        assert "'bad\ufffd.txt' is not valid UTF-8" in candidates[0].findings[0].message

    def test_unreadable_folders_are_reported_and_other_sessions_still_found(self, tmp_path: Path) -> None:
        # Root reads through chmod 000, so discovery runs in a child that lost the capabilities that
        # bypass permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). Dropping to uid 65534 instead is not
        # possible here: the interpreter lives below /root (mode 700).
        prefix: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and setpriv (util-linux) is missing, so chmod 000 cannot be tested")
            prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        root = make_tree(tmp_path / "N", [
            *probe(f"{S1}/probe_1", "18408403232"),
            *probe(f"{S1}/probe_2", "18408403541"),  # locked below: this probe is not seen
            ("recordings/26018/2024-04-18_13-15-40/", None),  # locked below: the whole subject
            ("recordings/102_1/2024-05-14_15-22-09/", None),
        ])
        locked = [root / S1 / "probe_2", root / "recordings" / "26018"]
        for folder in locked:
            folder.chmod(0)
        script = ("import json, sys\n"
                  "from mass_ingest.profile import load_profile\n"
                  "from mass_ingest.candidates import frame_to_candidates\n"
                  "from tasks.discover import discover_share\n"
                  "frame, findings = discover_share(load_profile(sys.argv[1]).with_root(sys.argv[2]), 'N')\n"
                  "print(json.dumps({'sessions': {c.rel_path: [p.serial for p in c.probes] "
                  "for c in frame_to_candidates(frame)}, 'findings': [[f.code, f.path] for f in findings],\n"
                  " 'session_findings': [[f.code, f.path] for c in frame_to_candidates(frame) for f in c.findings]}))\n")
        try:
            done = subprocess.run([*prefix, sys.executable, "-c", script, str(MOSER), str(root)], cwd=REPO,
                                  capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
        finally:
            for folder in locked:
                folder.chmod(0o755)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == {
            "sessions": {S1: ["18408403232"], "recordings/102_1/2024-05-14_15-22-09": []},
            "findings": [["DISCOVER.UNREADABLE_DIR", "recordings/26018"]],
            # On the session, so that quality stops it instead of taking one probe for all of it.
            "session_findings": [["DISCOVER.UNREADABLE_DIR", f"{S1}/probe_2"]],
        }


@pytest.fixture
def corpus() -> Path:
    root = os.environ.get(CORPUS_ENV)
    if not root or not (Path(root) / "spikeglx").is_dir():
        pytest.skip(CORPUS_SKIP)
    return Path(root) / "spikeglx"


def copy_real_probe(corpus: Path, name: str, session: Path, rel: str) -> int:
    """Copy a real .meta to session/rel and write its .bin, sparse, with the size the .meta gives."""
    meta = session / rel
    meta.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(corpus / name, meta)
    size = next(int(line.split("=", 1)[1]) for line in meta.read_text(encoding="latin-1").splitlines()
                if line.startswith("fileSizeBytes="))
    with open(meta.with_name(meta.name.removesuffix(".meta") + ".bin"), "wb") as fh:
        fh.truncate(size)  # sparse: no blocks written, however large
    return size


@pytest.mark.corpus
class TestRealMetaFiles:
    """Real SpikeGLX .meta files (SpikeInterface/probeinterface tests/data/spikeglx/, MIT) in a session tree."""

    def test_discovery_reports_the_real_serials_and_labels(self, corpus: Path, tmp_path: Path) -> None:
        root = tmp_path / "N"
        session = root / S1
        # phase3a.imec.ap.meta (probeinterface): Phase 3A prototype, serial only in imProbeSN.
        copy_real_probe(corpus, "phase3a.imec.ap.meta", session, "probe_1/npx.imec.ap.meta")
        # NP2_4_shanks.imec0.ap.meta (probeinterface): NP2010, type 24, four shanks.
        copy_real_probe(corpus, "NP2_4_shanks.imec0.ap.meta", session, "probe_2/npx.imec.ap.meta")
        # Noise_g0_t0.imec0.ap.meta (probeinterface): a 1.0 probe in SpikeGLX's own nested folders.
        copy_real_probe(corpus, "Noise_g0_t0.imec0.ap.meta", session,
                        "Noise_g0/Noise_g0_imec0/Noise_g0_t0.imec0.ap.meta")
        [candidate], findings = discover(moser(root))
        assert candidate.probes == [
            ProbeRecording(folder="Noise_g0/Noise_g0_imec0",
                           meta_file="Noise_g0/Noise_g0_imec0/Noise_g0_t0.imec0.ap.meta",
                           bin_file="Noise_g0/Noise_g0_imec0/Noise_g0_t0.imec0.ap.bin", serial="18194809281", probe_type=NP1, part_number="PRB_1_4_0480_1", n_saved_chans=385,
                           sample_rate=30000.0, file_size_bytes=121625350, file_time_secs=5.2651666666666666,
                           file_create_time=datetime(2020, 11, 3, 10, 35, 10), bin_size=121625350),
            ProbeRecording(folder="probe_1", meta_file="probe_1/npx.imec.ap.meta", bin_file="probe_1/npx.imec.ap.bin",
                           serial="262720641",
                           probe_type="neuropixels 1.0 - 3A", part_number=None, n_saved_chans=385,
                           sample_rate=30000.0, file_size_bytes=4483321920, file_time_secs=194.0832,
                           file_create_time=datetime(2018, 10, 18, 0, 54, 51), bin_size=4483321920),
            ProbeRecording(folder="probe_2", meta_file="probe_2/npx.imec.ap.meta", bin_file="probe_2/npx.imec.ap.bin",
                           serial="19122510362",
                           probe_type="neuropixels 2.0 - MS", part_number="NP2010", n_saved_chans=385,
                           sample_rate=30000.0, file_size_bytes=23598960, file_time_secs=1.0216,
                           file_create_time=datetime(2021, 9, 20, 14, 13, 34), bin_size=23598960),
        ]
        # Real files recorded years before this test's folder date: the cross-check says so, per probe.
        assert ([(f.code, f.path.rsplit("/", 1)[-1]) for f in candidate.findings], findings) == ([
            ("EPHYS.CREATE_TIME_MISMATCH", "Noise_g0_t0.imec0.ap.meta"),
            ("EPHYS.CREATE_TIME_MISMATCH", "npx.imec.ap.meta"),
            ("EPHYS.CREATE_TIME_MISMATCH", "npx.imec.ap.meta")], [])

    def test_one_probe_recorded_in_four_sessions_has_one_serial_in_each(self, corpus: Path, tmp_path: Path) -> None:
        # NP1110_*_g0_t0.imec0.ap.meta (probeinterface): four recordings of one switchable NP Ultra probe.
        root = tmp_path / "N"
        names = sorted(p.name for p in corpus.glob("NP1110_*.meta"))
        sizes = [copy_real_probe(corpus, name, root / f"recordings/25843/2024-03-0{n}_10-00-00", f"probe_1/{name}")
                 for n, name in enumerate(names, 1)]
        candidates, _ = discover(moser(root))
        assert [[(p.serial, p.probe_type, p.bin_size) for p in c.probes] for c in candidates] == [
            [("21144116901", "neuropixels ultra - switchable", size)] for size in sizes]
        assert sizes == [172529280, 378673680, 151333490, 226269120]


class TestStartTimeCrossCheck:
    """The folder name gives the start; each probe's .meta fileCreateTime is a cross-check."""

    def test_create_time_within_tolerance_gives_no_finding(self, tmp_path: Path) -> None:
        root = make_tree(tmp_path / "N", probe(f"{S1}/probe_1", "18408403232"))  # created 9 s after the folder time
        [candidate], _ = discover(moser(root))
        assert [f for f in candidate.findings if f.code == "EPHYS.CREATE_TIME_MISMATCH"] == []

    def test_create_time_far_from_the_folder_time_is_a_finding_on_that_probe(self, tmp_path: Path) -> None:
        # The folder says 10:30:58 but the .meta was written at 14:30:58: a mistyped folder name, or
        # another session's data copied in.
        late = meta_text("18408403232").replace("fileCreateTime=2024-03-05T10:31:07",
                                                "fileCreateTime=2024-03-05T14:30:58")
        assert late != meta_text("18408403232")
        root = make_tree(tmp_path / "N", [(f"{S1}/probe_1/npx.imec.ap.meta", late),
                                          (f"{S1}/probe_1/npx.imec.ap.bin", b"\x01" * BIN_SIZE)])
        [candidate], _ = discover(moser(root))
        [mismatch] = [f for f in candidate.findings if f.code == "EPHYS.CREATE_TIME_MISMATCH"]
        assert (mismatch.path, mismatch.severity.name, mismatch.expected) == (
            f"{S1}/probe_1/npx.imec.ap.meta", "WARNING", "within 900 s of the folder's start")
        assert "is +240 min from the folder's start 2024-03-05 10:30:58" in mismatch.message


class TestChunks:
    """A share walked in n interleaved parts gives exactly the sessions of one walk."""

    def test_parts_cover_every_session_once(self, tmp_path: Path) -> None:
        subjects = ["25843", "26018", "102_1", "m9", "no"]
        root = make_tree(tmp_path / "N", [(f"recordings/{s}/2024-0{i + 1}-01_10-00-00/", None)
                                          for i, s in enumerate(subjects)])
        whole, _ = discover_share(moser(root), "N")
        parts = [discover_share(moser(root), "N", chunk=(i, 2))[0] for i in range(2)]
        assert [p.height for p in parts] == [3, 2]
        assert sorted(pl.concat(parts)["rel_path"].to_list()) == sorted(whole["rel_path"].to_list())
        assert set(parts[0]["subject"]).isdisjoint(set(parts[1]["subject"]))


class TestFastPaths:
    """The shortcuts discovery takes for speed give what the plain way gives, on real files."""

    def test_file_list_answers_like_a_scan_of_every_file(self, tmp_path: Path) -> None:
        # 'a', 'a-b' and 'a/sub' sort differently as folders than as paths; names differ in case.
        names = ["a/x.AP.meta", "a/x.ap.bin", "a/sub/y.ap.meta", "a-b/z.ap.meta", "a-b/Set1.SET", "top.set",
                 "a/sub/deeper/w.Ntt", "b/readme", "sessions.txt", "a/sub/notes.txt"]
        root = make_tree(tmp_path / "N", [(f"s/{n}", "x") for n in names] + [("s/empty/", None)])
        files = Walker("N", str(root)).files_below(str(root / "s"))
        every = sorted(names)
        assert [e.rel for e in files] == every and len(files) == len(every)
        assert all(e.path == str(root / "s" / e.rel) and e.name == e.rel.rpartition("/")[2] for e in files)
        for suffixes in [(".ap.meta",), (".set", ".ntt"), ("readme",), (".txt",), (".mesc",), ("x.ap.bin",)]:
            assert [e.rel for e in files.with_suffix(*suffixes)] == [
                n for n in every if n.rpartition("/")[2].lower().endswith(suffixes)]
            assert [e.rel for e in files.with_suffix(*suffixes, exact_case=True)] == [
                n for n in every if n.rpartition("/")[2].endswith(suffixes)]
        first_seen = list(dict.fromkeys(n.rpartition("/")[0] for n in every))
        assert [folder for folder, _ in files.folder_items()] == first_seen
        assert files.names_in("a") == ["x.AP.meta", "x.ap.bin"] and files.names_in("empty") == []

    @pytest.mark.parametrize("fmt", ["%Y-%m-%d_%H-%M-%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%d", "%d.%m.%Y", "%Y-%m-%d %H:%M",
                                     "%y%m%d", "%Y-%b-%d", "%Y-%m-%dk%H"])
    def test_dates_read_as_strptime_reads_them(self, fmt: str) -> None:
        from mass_ingest.layouts import parse_time

        samples = ["2019-01-07_08-00-00", "2019-1-7_8-0-0", "2019-13-07_08-00-00", "2019-02-30_08-00-00",
                   "2019-01-07_24-00-00", "0000-01-07_08-00-00", "2019-10-08T11:48:45", "2019-10-08t11:48:45",
                   "20190107", "07.01.2019", "2019-01-07 08:00", "2019-01-07  08:00", "190107", "2019-Jan-07",
                   "\u0662\u0660\u0661\u0669" "0107", "2019-01-07\n", "2019-01-07k08", "2019-01-07\u212a08", ""]

        def outcome(parse) -> tuple:
            try:
                return ("ok", parse())
            except ValueError as exc:
                return ("error", str(exc))

        for text in samples:
            assert outcome(lambda: parse_time(text, fmt)) == outcome(lambda: datetime.strptime(text, fmt)), text

    def test_read_head_reads_what_the_file_holds_up_to_the_limit(self, tmp_path: Path) -> None:
        from mass_ingest.readers import read_head

        for size in (0, 1, 65535, 65536, 65537, 200_000):
            data = os.urandom(size)
            (tmp_path / "f").write_bytes(data)
            for limit in (None, 1, 65536, 65537, 4_000_001):
                assert read_head(tmp_path / "f", limit) == (data if limit is None else data[:limit])
        with pytest.raises(IsADirectoryError):
            read_head(tmp_path)

    def test_collector_is_switched_back_on_after_discovery_even_when_it_fails(self, tmp_path: Path) -> None:
        import gc

        root = make_tree(tmp_path / "N", [(f"{S1}/", None)])
        assert gc.isenabled()
        discover_share(moser(root), "N")
        assert gc.isenabled()
        with pytest.raises(Exception, match="nowhere"):
            discover_share(moser(root), "nowhere")
        assert gc.isenabled()

    def test_frame_is_in_path_order_where_the_walk_order_differs(self, tmp_path: Path) -> None:
        # The walk goes folder level by level ('a' before 'a-b'); as paths, 'a-b/...' sorts before 'a/...'.
        root = make_tree(tmp_path / "N", [(f"recordings/{s}/2024-03-05_10-30-58/", None) for s in ("a", "a-b", "b")])
        frame, _ = discover_share(moser(root), "N")
        assert frame["subject"].to_list() == ["a-b", "a", "b"]
        assert frame["rel_path"].to_list() == sorted(frame["rel_path"].to_list())
