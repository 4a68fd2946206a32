"""Every finding code of the catalogue, produced for real, names the place and the fix (issue 17, item 3).

Each code is driven from a real case: trees on disk discovered by the real walk and recording systems,
share roots checked by the real access check, an input file imported, candidates judged by the real
Great Expectations suite, rows refused by the real database. :data:`EXPECTED` says, per code, where
its finding must point and the words of its fix; a code of the catalogue without an entry fails, so a
new code cannot go untested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from mass_ingest import __version__, access
from mass_ingest.candidates import ProbeRecording, SessionCandidate, candidates_to_frame, frame_to_candidates
from mass_ingest.collisions import mark_location_collisions
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.suites import EXPECTATIONS, quality_code
from mass_ingest.expectations.verdicts import failures_as_findings, run_suites
from mass_ingest.findings import CATALOGUE, Finding
from mass_ingest.input_files import InputFile
from mass_ingest.profile import Profile, Share
from tasks.discover import discover_share
from tasks.import_file import import_candidates
from tests.test_discover import BIN_SIZE, make_tree, meta_text

REPO = Path(__file__).resolve().parent.parent
EPHYS = "recordings/s1/2024-01-01_10-00-00"   # one ephys folder holding one problem per probe folder or system
DAY = "recordings/s2/20240105"                 # an imaging day: start read from the files' times
OTHER_DAY = "recordings/s2/20240106"           # an imaging day whose files say another date
LOCKED_TASKS = "recordings/s1/2024-01-09_10-00-00"  # a session whose sessions.txt cannot be read
LOCAL = ZoneInfo("Europe/Oslo")

# code -> (path of its finding, relative to the share root; words of its fix). ACCESS findings are about
# the share itself (path ''): their message names the root. QUALITY findings are on the session folder.
EXPECTED: dict[str, tuple[str, str]] = {
    "ACCESS.MISSING": ("", "mount the share or fix shares[].root"),
    "ACCESS.DENIED": ("", "grant the worker's user read access"),
    "ACCESS.NOT_A_DIRECTORY": ("", "point shares[].root at the share's folder"),
    "ACCESS.SLOW": ("", "raise shares[].access_timeout_s"),
    "DISCOVER.UNREADABLE_DIR": ("recordings/locked", "give the worker's user read access"),
    "DISCOVER.SYMLINK_OUTSIDE": (f"{EPHYS}/outside", "copy the data into the share or add that place as a share"),
    "DISCOVER.SYMLINK_LOOP": (f"{EPHYS}/self", "remove the link if nothing needs it"),
    "DISCOVER.CASE_COLLISION": ("recordings/b26A/2024-01-04_10-00-00", "rename one of them"),
    "DISCOVER.SPECIAL_FILE": (f"{EPHYS}/pipe", "replace it with the real file or remove it"),
    "DISCOVER.BAD_NAME": (EPHYS, "rename it on the share"),
    "DISCOVER.BAD_DATE": ("recordings/s1/2024-02-30_10-00-00", "rename the folder to the layout's format"),
    "DISCOVER.UNMATCHED_FOLDERS": ("recordings", "add a layout for their format"),
    "DISCOVER.START_INFERRED": (f"{DAY}/fov_00001_00001.tif", "confirm it (mass-ingest todo) or rename the folder"),
    "DISCOVER.EXCLUDED": ("recordings/00000/2024-01-03_10-00-00", "change that rule in the profile"),
    "DISCOVER.SUSPICIOUS_COPY": ("recordings/s1/2024-01-02_10-00-00_copy", "exclude it in the profile"),
    "META.EMPTY": (f"{EPHYS}/probe_2/npx.imec.ap.meta", "Copy it again from the acquisition computer"),
    "META.UNREADABLE": (f"{EPHYS}/probe_3/big.imec.ap.meta", "Rename or remove it"),
    "META.MALFORMED": (f"{EPHYS}/probe_4/npx.imec.ap.meta", "compare it with the copy on the acquisition computer"),
    "META.NO_SERIAL": (f"{EPHYS}/probe_4/npx.imec.ap.meta", "Write the probe's serial into the .meta"),
    "META.UNKNOWN_PROBE": (f"{EPHYS}/probe_4/npx.imec.ap.meta", "Add it to the probe labels"),
    "META.BAD_VALUE": (f"{EPHYS}/probe_4/npx.imec.ap.meta", "Check the file against the acquisition computer's copy"),
    "EPHYS.BIN_WITHOUT_META": (f"{EPHYS}/probe_5/npx.imec.ap.bin", "copy the .meta from the acquisition computer"),
    "EPHYS.META_WITHOUT_BIN": (f"{EPHYS}/probe_6/npx.imec.ap.meta", "copy it or remove the .meta"),
    "EPHYS.META_RENAMED": (f"{EPHYS}/probe_7/run_b.imec.ap.meta", "rename run_b.imec.ap.meta to run_a.imec.ap.meta"),
    "EPHYS.AMBIGUOUS_PAIR": (f"{EPHYS}/probe_8", "rename them to <run>.ap.bin / <run>.ap.meta pairs"),
    "EPHYS.CREATE_TIME_MISMATCH": (f"{EPHYS}/probe_1/npx.imec.ap.meta", "check the folder name"),
    "TASKS.MALFORMED_LINE": (f"{EPHYS}/sessions.txt", "correct the line, or enter the task by hand"),
    "TASKS.UNREADABLE": (f"{LOCKED_TASKS}/sessions.txt", "enter the tasks by hand"),
    "KILOSORT.INCOMPLETE": (f"{EPHYS}/probe_1/ks25", "copy them from the sorting computer or sort the probe again"),
    "NEURALYNX.MULTIPLE_NTT": (EPHYS, "move each recording to its own session folder"),
    "NEUROLOGGER.INCOMPLETE": (f"{EPHYS}/logger", "copy the logger's raw data"),
    "TRACKING.INCOMPLETE": (f"{EPHYS}/motive", "copy the missing files from the tracking computer"),
    "IMAGING.BAD_BASENAME": (f"{DAY}/my_fov_00001_00001.tif", "rename the files with a basename without '_'"),
    "IMAGING.COUNTER_GAP": (f"{DAY}/fov_00003_00001.tif", "copy the missing files or confirm"),
    "IMAGING.START_UNKNOWN": (f"{OTHER_DAY}/fov_00001_00001.tif", "rename the folder with its start time"),
    "IMAGING.UNREADABLE_TIFF": (f"{DAY}/fov_00001_00001.tif", "copy it again from the rig"),
    "VIDEO.UNREADABLE": (f"{DAY}/cam.mp4", "copy the video again from the rig"),
    "SUITE2P.INCOMPLETE": (f"{DAY}/suite2p", "rerun suite2p or copy its output"),
    "SUITE2P.EMPTY_PLANE": (f"{DAY}/combined/suite2p/plane0", "rerun suite2p on this plane"),
    "DLC.INCOMPLETE": (f"{DAY}/dlc_cam", "copy the .h5 from the analysis computer or rerun analyze_videos"),
    "DLC.NO_RECORDING": (f"{DAY}/dlc_nothing", "rename it dlc_<recording> or move it"),
    "DLC.AMBIGUOUS": (f"{DAY}/dlc_s2_cam", "rename it dlc_<recording>"),
    "INSERT.SCHEMA_LIMIT": ("recordings/25843/2024-03-02_10-30-58", "rename the folder or file on the share"),
    "INSERT.REFUSED": ("recordings/25843/2024-03-04_10-30-58", "fix the value it names on the share"),
    "IMPORT.NOT_FOUND": ("recordings/s1/2024-05-01_10-00-00", "fix the location"),
    "IMPORT.NO_LAYOUT": ("recordings/s1", "fix the location or add a layout"),
    "IMPORT.SUBJECT_MISMATCH": ("recordings/s3/2024-01-07_10-00-00", "move the session to that subject's file"),
    "IMPORT.PROBE_MISMATCH": ("recordings/s1/2024-01-08_10-00-00/probe_1", "fix probe_association"),
    "IMPORT.NO_CLUSTERING": ("recordings/s1/2024-01-08_10-00-00", "run it, or drop clustering from the file"),
    # The quality suite, on the session folders of :func:`judged` (one failure each).
    **{quality_code(name): (f"recordings/m/{name}", fix) for name, fix in {
        "subject_known": "import it with `mass-ingest subjects import`",
        "session_start_parsed": "rename the folder to its layout's date format",
        "session_start_not_in_future": "fix the date in the folder name",
        "session_start_not_before": "lower the profile's not_before",
        "every_ap_bin_has_meta": "copy the .ap.meta from the acquisition computer",
        "ap_bin_size_matches_meta": "copy the .ap.bin again from the acquisition computer",
        "no_zero_byte_data": "copy the .ap.bin again, or exclude the session",
        "channels_and_rate_plausible": "give this probe type its own bounds in the profile",
        "probe_count_matches_implants": "import the subject's implants",
        "probe_serials_implanted": "import the implant",
        "no_discovery_errors": "Copy it again from the acquisition computer",  # the quoted finding's fix
        "session_key_unique": "give them distinct start times",
        "file_size_plausible": "compare the .ap.meta with the acquisition computer's copy",
        "duration_plausible": "compare the .ap.meta with the acquisition computer's copy",
        "serial_present": "enter it or exclude the session",
        "create_time_plausible": "compare the .ap.meta with the acquisition computer's copy",
        "ap_bin_not_stalled": "copy it again or remove the session",
    }.items()},
}


def local(when: datetime) -> float:
    return when.replace(tzinfo=LOCAL).timestamp()


def dated(path: Path, when: datetime) -> None:
    os.utime(path, (local(when), local(when)))


def profile(root: Path) -> Profile:
    """The lab's mixed share: ephys and imaging folders side by side, a Windows alias (case is ignored)."""
    return Profile.model_validate({
        "name": "findings", "timezone": "Europe/Oslo", "exclude": {"subjects": ["00000"]},
        "shares": [{"name": "N", "root": str(root), "aliases": ["N:/"], "layouts": [
            {"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}", "modality": "ephys"},
            {"template": "recordings/{subject}/{session_date:%Y%m%d}", "modality": "imaging"}]}]})


def ephys_probe(folder: str, serial: str = "18408403232", stem: str = "npx.imec",
                created: datetime = datetime(2024, 1, 1, 10, 0, 9)) -> list[tuple[str, str | bytes]]:
    return [(f"{folder}/{stem}.ap.meta", meta_text(serial, created=created)),
            (f"{folder}/{stem}.ap.bin", b"\x01" * BIN_SIZE)]


def write_share(root: Path, outside: Path) -> Path:
    """A share with one case of each discovery finding (see :data:`EXPECTED` for where each one is)."""
    plane = {f"{DAY}/combined/suite2p/plane0/{name}": b"" for name in ("iscell.npy", "ops.npy", "stat.npy")}
    make_tree(root, [
        # EPHYS: probe folders broken one way each, and the other ephys systems incomplete.
        *ephys_probe(f"{EPHYS}/probe_1", created=datetime(2024, 1, 1, 12, 0)),  # two hours after the folder's time
        (f"{EPHYS}/probe_1/ks25/params.py", "n_channels_dat = 385\n"),           # a sorting without spike times
        (f"{EPHYS}/probe_2/npx.imec.ap.meta", b""), (f"{EPHYS}/probe_2/npx.imec.ap.bin", b"\x01" * BIN_SIZE),
        (f"{EPHYS}/probe_3/big.imec.ap.bin", b"\x01" * BIN_SIZE),
        (f"{EPHYS}/probe_4/npx.imec.ap.meta", "this line has no equals sign\n"
         "imDatPrb_pn=XYZ_9\nimDatPrb_type=99\nnSavedChans=abc\nimSampRate=30000\n"
         f"fileSizeBytes={BIN_SIZE}\nfileCreateTime=2024-01-01T10:00:09\n"),     # no serial, odd part, bad value
        (f"{EPHYS}/probe_4/npx.imec.ap.bin", b"\x01" * BIN_SIZE),
        (f"{EPHYS}/probe_5/npx.imec.ap.bin", b"\x01" * BIN_SIZE),                  # no .meta
        (f"{EPHYS}/probe_6/npx.imec.ap.meta", meta_text("18408403541")),            # no .bin
        (f"{EPHYS}/probe_7/run_a.imec.ap.bin", b"\x01" * BIN_SIZE),                # partners by another name
        (f"{EPHYS}/probe_7/run_b.imec.ap.meta", meta_text("18408403542")),
        (f"{EPHYS}/probe_8/x.imec.ap.bin", b"\x01" * BIN_SIZE), (f"{EPHYS}/probe_8/y.imec.ap.bin", b"\x01" * BIN_SIZE),
        (f"{EPHYS}/probe_8/z.imec.ap.meta", meta_text("18408403543")),             # which .bin? cannot tell
        (f"{EPHYS}/sessions.txt", "#1, open_field_1 start=30 <RUNNING>\nnot a task at all\n"),
        (f"{EPHYS}/a.ntt", b"\x00" * 16384), (f"{EPHYS}/b.ntt", b"\x00" * 16384),  # two tetrode files
        (f"{EPHYS}/logger/neurologger_header.mat", b"MATLAB"),                      # no Raw/ beside it
        (f"{EPHYS}/logger/Optitrack/take.csv", "frame,x,y\n"),
        (f"{EPHYS}/motive/matmot.meta", "frameRate=120\n"),                         # no .mtv, no sync.mat
        # DAY: an imaging day whose files give its start (by their times: no TIFF header reads).
        (f"{DAY}/fov_00001_00001.tif", b"not a tiff"), (f"{DAY}/fov_00003_00001.tif", b"not a tiff"),
        (f"{DAY}/my_fov_00001_00001.tif", b"not a tiff"),
        (f"{DAY}/cam.mp4", b"not a video"), (f"{DAY}/s2_cam.mp4", b"not a video"),
        (f"{DAY}/dlc_cam/config.yaml", "Task: cam\n"),                              # set up, never run
        (f"{DAY}/dlc_nothing/nothingDLC_resnet50_x.h5", b"h5"),                     # names no recording
        (f"{DAY}/dlc_s2_cam/s2_camDLC_resnet50_x.h5", b"h5"),                       # fits 's2_cam' and 'cam'
        (f"{DAY}/suite2p/ops1.npy", b""),                                           # no plane folder
        *plane.items(),
        (f"{OTHER_DAY}/fov_00001_00001.tif", b"not a tiff"),
        # Folders that are sessions in name only, or not at all.
        ("recordings/s1/2024-02-30_10-00-00/", None), ("recordings/s1/2024-01-02_10-00-00_copy/", None),
        ("recordings/s1/notes/", None), ("recordings/00000/2024-01-03_10-00-00/", None),
        ("recordings/b26A/2024-01-04_10-00-00/", None), ("recordings/b26a/2024-01-04_10-00-00/", None),
    ])
    with open(root / EPHYS / "probe_3" / "big.imec.ap.meta", "wb") as fh:
        fh.truncate(5_000_000)  # sparse; larger than any SpikeGLX .meta
    np.save(root / DAY / "combined" / "suite2p" / "plane0" / "F.npy", np.zeros((0, 100), dtype=np.float32))
    os.mkfifo(root / EPHYS / "pipe")
    os.mkdir(os.path.join(os.fsencode(root / EPHYS), b"bad\xffname"))
    (root / EPHYS / "outside").symlink_to(outside)
    (root / EPHYS / "self").symlink_to(".")
    for path in (root / DAY).rglob("*"):
        dated(path, datetime(2024, 1, 5, 11, 30))
    dated(root / OTHER_DAY / "fov_00001_00001.tif", datetime(2024, 2, 1, 9, 0))
    return root


@pytest.fixture(scope="module")
def discovered(tmp_path_factory) -> list[Finding]:
    """Every finding of one discovery of the share, the case collisions marked as dedup marks them."""
    base = tmp_path_factory.mktemp("share")
    outside = make_tree(base / "elsewhere", [("data.bin", b"x")])
    root = write_share(base / "N", outside)
    frame, share_findings = discover_share(profile(root), "N")
    candidates = frame_to_candidates(mark_location_collisions(frame))
    return share_findings + [f for c in candidates for f in c.findings]


def access_findings(tmp_path: Path, monkeypatch) -> list[Finding]:
    """ACCESS.MISSING, ACCESS.NOT_A_DIRECTORY and ACCESS.SLOW from the real access check."""
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "slow").mkdir()
    def checked(root: Path, **options: object) -> list:
        share = Share(name="N", root=str(root), layouts=[{"template": "{subject}/{session_date:%Y%m%d}"}], **options)
        return access.check_access(Profile(name="p", timezone="Europe/Oslo", shares=[share]))

    found = [*checked(tmp_path / "nowhere"), *checked(tmp_path / "a-file")]
    # A share that answers, slowly: its listing (real, after a wait) takes 2.5 s of the 4 s it is given, more
    # than half (slow) and with room to spare on a loaded machine before the deadline (missing).
    listing = access._list_root
    monkeypatch.setattr(access, "_list_root", lambda root: (time.sleep(2.5), listing(root))[1])
    found += checked(tmp_path / "slow", access_timeout_s=4)
    return [a.finding for a in found if a.finding]


_LOCKED_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from mass_ingest.access import check_share_access
from mass_ingest.candidates import frame_to_candidates
from mass_ingest.profile import Profile
from tasks.discover import discover_share
def share(root):
    return Profile.model_validate({"name": "p", "timezone": "Europe/Oslo", "shares": [
        {"name": "N", "root": root,
         "layouts": [{"template": "recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"}]}]})
frame, findings = discover_share(share(sys.argv[1]), "N")
findings += [f for c in frame_to_candidates(frame) for f in c.findings]
denied = check_share_access(share(sys.argv[2]).share("N"), "p", ThreadPoolExecutor(2)).finding
print(json.dumps([f.model_dump(mode="json") for f in [*findings, denied]]))
"""


def locked_findings(tmp_path: Path) -> list[Finding]:
    """DISCOVER.UNREADABLE_DIR, TASKS.UNREADABLE and ACCESS.DENIED, in a child that cannot read past chmod 000
    (root can; as tests/test_discover.py does, the child drops the capabilities that let it)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing, so chmod 000 cannot be tested")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    root = make_tree(tmp_path / "N", [("recordings/locked/2024-01-01_10-00-00/", None),
                                      (f"{LOCKED_TASKS}/sessions.txt", "#1, sleep start=0 <SLEEP>\n")])
    locked_root = make_tree(tmp_path / "L", [("x/", None)])
    locked = [root / "recordings" / "locked", root / LOCKED_TASKS / "sessions.txt", locked_root]
    for place in locked:
        place.chmod(0)
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", _LOCKED_SCRIPT, str(root), str(locked_root)], cwd=REPO,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        for place in locked:
            place.chmod(0o755)
    assert done.returncode == 0, done.stderr
    return [Finding.model_validate(f) for f in json.loads(done.stdout.strip().splitlines()[-1])]


def imported_findings(tmp_path: Path) -> list[Finding]:
    """The IMPORT.* findings of an input file that disagrees with the share in every way it can."""
    root = make_tree(tmp_path / "N", [
        *ephys_probe("recordings/s3/2024-01-07_10-00-00/probe_1", created=datetime(2024, 1, 7, 10, 0, 9)),
        *ephys_probe("recordings/s1/2024-01-08_10-00-00/probe_1", created=datetime(2024, 1, 8, 10, 0, 9)),
    ])
    data = InputFile.model_validate({"subject": "s1", "sessions": [
        {"location": "N:/recordings/s1/2024-05-01_10-00-00", "experimenter": "anna"},   # not on the share
        {"location": "N:/recordings/s1", "experimenter": "anna"},                       # not a session folder
        {"location": "N:/recordings/s3/2024-01-07_10-00-00", "experimenter": "anna"},  # another subject's
        {"location": "N:/recordings/s1/2024-01-08_10-00-00", "experimenter": "anna",
         "probe_association": {"probe_1": "19000000000_s1_1"}, "clustering": "kilosort2.5"},
    ]})
    return [f for c in import_candidates(profile(root), data, "s1.yaml") for f in c.findings
            if f.code.startswith("IMPORT.")]


NOW = datetime(2025, 6, 1, 12, 0)
CONTEXT = QualityContext(implanted_probes={"m1": 1, "m2": 2}, implanted_serials={"m2": ["18301", "18302"]},
                         now=NOW, now_epoch=NOW.timestamp(), not_before=datetime(2015, 1, 1))


def judged() -> list[Finding]:
    """The QUALITY.* findings of the real suite on one candidate per expectation, each failing it."""
    def probe(n: int, **changes: object) -> ProbeRecording:
        return ProbeRecording(**{
            "folder": f"probe_{n}", "meta_file": f"probe_{n}/npx.imec.ap.meta",
            "bin_file": f"probe_{n}/npx.imec.ap.bin", "serial": f"1830{n}", "n_saved_chans": 385,
            "sample_rate": 30000.0, "file_size_bytes": 3080, "bin_size": 3080, "file_time_secs": 3080 / 770 / 30000,
            "file_create_time": datetime(2024, 3, 1, 10, 0, 9), "bin_mtime": NOW.timestamp() - 3600, **changes})

    def case(name: str, subject: str = "m1", start: datetime | None = datetime(2024, 3, 1, 10, 0),
             probes: list[ProbeRecording] | None = None, **fields: object) -> SessionCandidate:
        rel = f"recordings/m/{name}"
        return SessionCandidate(share="N", rel_path=rel, location=f"/mnt/n/{rel}", subject=subject,
                                session_start=start, probes=probes if probes is not None else [probe(1)], **fields)

    empty_meta = Finding(code="META.EMPTY", severity="ERROR", stage="discover", share="N",
                         path="recordings/m/no_discovery_errors/probe_1/npx.imec.ap.meta",
                         message="The .meta file is empty (0 bytes, no text), so the probe and recording cannot be "
                         "identified. Copy it again from the acquisition computer, or exclude the session.")
    same_start = datetime(2024, 3, 2, 10, 0)
    cases = [
        case("subject_known", subject="m9"),
        case("session_start_parsed", start=None),
        case("session_start_not_in_future", start=datetime(2031, 1, 1, 3, 0)),
        case("session_start_not_before", start=datetime(2009, 12, 31, 23, 59)),
        case("every_ap_bin_has_meta", bins_without_meta=["probe_2/npx.imec.ap.bin"]),
        case("ap_bin_size_matches_meta", probes=[probe(1, bin_size=3850)]),
        case("no_zero_byte_data", probes=[probe(1, bin_size=0, bin_mtime=NOW.timestamp() - 3 * 86400)]),
        case("channels_and_rate_plausible", probes=[probe(1, n_saved_chans=5000, file_size_bytes=10000,
                                                          bin_size=10000, file_time_secs=10000 / 10000 / 30000)]),
        case("probe_count_matches_implants", probes=[probe(1), probe(2)]),
        case("probe_serials_implanted", subject="m2", probes=[probe(1), probe(9)]),
        case("no_discovery_errors", findings=[empty_meta]),
        case("session_key_unique", start=same_start),
        case("session_key_unique_too", start=same_start),
        case("file_size_plausible", probes=[probe(1, file_size_bytes=3081, bin_size=3081)]),
        case("duration_plausible", probes=[probe(1, file_time_secs=999.0)]),
        case("serial_present", probes=[probe(1, serial=None)]),
        case("create_time_plausible", probes=[probe(1, file_create_time=datetime(2031, 1, 1))]),
        case("ap_bin_not_stalled", probes=[probe(1, bin_size=770, bin_mtime=NOW.timestamp() - 3 * 86400)]),
    ]
    checked = run_suites(candidates_to_frame(cases), CONTEXT)[0]
    return [f for row in checked.iter_rows(named=True) for f in failures_as_findings(row)]


def refused_at_insertion() -> list[tuple[str, str, str]]:
    """(code, share:path, reason) of the sessions the database refused: a value longer than its column, and
    a rule only the database knows (a CHECK constraint, as a lab's DBA might add). On the real database."""
    from mass_ingest.db import schema
    from tests.test_isolation import approved, candidate
    from mass_ingest.db.insertion import insert_isolated

    schema.Subject.insert1({"subject": "25843"})
    schema.IngestRun.insert1({"ingest_id": "run-1", "profile_name": "test", "profile_hash": "0" * 16,
                              "status": "approved", "started_at": datetime(2024, 6, 1)})
    table = schema.Session.Directory.full_table_name
    schema.Session.connection.query(f"ALTER TABLE {table} ADD CONSTRAINT no_day_4 "
                                    "CHECK (strpos(rel_path, '2024-03-04') = 0)")
    try:
        outcome = insert_isolated(approved([candidate(2, folder="p" * 300), candidate(4)]),
                                  timezone="Europe/Oslo", ingest_id="run-1")
    finally:
        schema.Session.connection.query(f"ALTER TABLE {table} DROP CONSTRAINT no_day_4")
    return [(reason.split(":", 1)[0], f"{q.share}:{q.rel_path}", reason)
            for q in outcome.quarantined for reason in q.reasons]


@pytest.fixture(scope="module")
def produced(discovered, tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    """code -> (path, what a person reads: str(finding), its severity, code, place and message) of each finding."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        found = [*discovered, *access_findings(tmp_path_factory.mktemp("access"), monkeypatch),
                 *locked_findings(tmp_path_factory.mktemp("locked")),
                 *imported_findings(tmp_path_factory.mktemp("import")), *judged()]
    finally:
        monkeypatch.undo()
    out: dict[str, list[tuple[str, str]]] = {}
    for f in found:
        out.setdefault(f.code, []).append((f.path, str(f)))
    return out


def test_every_code_of_the_catalogue_has_a_case() -> None:
    assert sorted(EXPECTED) == sorted(CATALOGUE)
    assert {quality_code(name) for name in EXPECTATIONS} <= set(CATALOGUE)


@pytest.mark.parametrize("code", sorted(c for c in CATALOGUE if not c.startswith("INSERT.")))
def test_the_finding_names_its_place_and_its_fix(code: str, produced: dict) -> None:
    path, fix = EXPECTED[code]
    shown = [text for where, text in produced.get(code, []) if where == path]
    assert shown, f"no {code} finding at {path!r}; found at {[w for w, _ in produced.get(code, [])]}"
    for text in shown:
        assert f" N:{path}: " in text if path else " N: " in text, text
        assert fix in text, text
        if code.startswith("ACCESS."):  # about the share itself: the message names its root
            assert "root '" in text, text


def test_a_session_the_database_refuses_is_named_with_its_place_and_the_fix(clean_database: str) -> None:
    refused = refused_at_insertion()
    for code in ("INSERT.SCHEMA_LIMIT", "INSERT.REFUSED"):
        path, fix = EXPECTED[code]
        reasons = [reason for c, where, reason in refused if c == code]
        assert reasons and all(where == f"N:{path}" for c, where, _ in refused if c == code), refused
        assert all(fix in reason for reason in reasons), reasons


def test_a_finding_names_a_known_stage_and_the_release_that_made_it() -> None:
    made = Finding(code="META.EMPTY", severity="ERROR", stage="discover", share="N", message="empty")
    assert (made.stage, made.origin) == ("discover", f"mass-ingest {__version__}")
    with pytest.raises(ValueError, match="stage"):
        Finding(code="META.EMPTY", severity="ERROR", stage="discovery", share="N", message="empty")
