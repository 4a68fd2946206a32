"""Discovery with many listings in flight gives, byte for byte, what one thread gives.

One messy share holds every case the other discovery tests build one at a time (links looping
back, links out of the share, links inside it, names that are not UTF-8, folders that cannot be
listed, odd dates, suspicious copies, empty sessions, a folder two layouts fit), among enough
clean sessions that the pool's threads interleave. It is discovered with ``max_parallel`` 1 (the
walk in one thread) and with several threads, in a child process that cannot read through
``chmod 000`` (tests run as root); the candidate frames are compared as bytes, the share's
findings as whole records.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from mass_ingest.demo import make_demo_campaign
from mass_ingest.discovery import Pace, ordered_map
from mass_ingest.profile import load_profile
from mass_ingest.walk import Walker
from tasks.discover import discover_share
from tests.test_discover import MOSER, REPO, S1, make_tree, probe

IMAGING = REPO / "profiles" / "moser-imaging.yaml"

# In the child: discover each share of the profile with each max_parallel (or, for "pN", in N processes, one
# thread each), and print, per run, the frame as Arrow IPC bytes (hex), the share's findings and the folders listed.
_CHILD = """
import io, json, sys
from mass_ingest import describing
from mass_ingest.discovery import Pace
from mass_ingest.profile import load_profile
from tasks.discover import discover_share
Pace.SAMPLE_CALLS = 0  # the pool from the first call, whether or not this disk makes calls wait
describing.MIN_SLICE = 2  # helpers for these small shares too
profile = load_profile(sys.argv[1])
profile = profile.with_root(sys.argv[2]) if sys.argv[2] else profile
out = {}
for spec in sys.argv[3].split(","):
    threads, processes = (1, int(spec[1:])) if spec.startswith("p") else (int(spec), 1)
    runs = []
    for share in profile.shares:
        listed = []
        frame, findings = discover_share(profile, share.name, max_parallel=threads, on_listed=listed.append,
                                         processes=processes)
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="uncompressed")
        runs.append({"frame": buffer.getvalue().hex(), "rows": frame.height,
                     "session_findings": frame["findings"].list.len().sum() if frame.height else 0,
                     "findings": [f.model_dump(mode="json") for f in findings], "listed": listed})
    out[spec] = runs
print(json.dumps(out))
"""


def messy_ephys_share(root: Path, outside: Path) -> list[Path]:
    """The messy Moser ephys share; returns the folders to lock (chmod 000) while discovering."""
    clean = [entry for s in range(12) for d in range(5)
             for entry in probe(f"recordings/{20000 + s}/2024-0{1 + d}-0{1 + s % 9}_10-30-58/probe_1", f"1840{s}{d}")]
    make_tree(root, [
        *clean,
        *probe(f"{S1}/probe_1", "18408403232"),
        *probe(f"{S1}/probe_2", "18408403541"),  # locked below
        *probe("recordings/25843/2024-03-12_14-02-11/probe_1", "18408403999"),
        *probe("moved/probe_3", "18408403777"),  # linked into a session from inside the share
        ("recordings/26018/2024-04-18_13-15-40/", None),  # whole subject locked below
        ("recordings/26019/2024-04-18_13-15-40/", None),  # an empty session
        ("recordings/26019/2024-13-45_99-99-99/sessions.txt", "#1, sleep start=0 <SLEEP>\n"),  # a bad date
        ("recordings/26019/2024-04-19_10-00-00_old/", None),  # a suspicious copy
        ("recordings/00000/2024-04-20_10-00-00/", None),  # an excluded subject
        ("recordings/README.txt", "raw data\n"),
        ("analysis/25843/2024-03-05_10-30-58/x.png", "png"),
    ])
    make_tree(outside, [*probe("probe_9", "99999999999"), ("2024-01-01_00-00-00/", None)])
    (root / S1 / "probe_1" / "again").symlink_to("..")  # a loop back to the session folder
    (root / S1 / "self").symlink_to(".")
    (root / "recordings" / "25843" / "2024-03-12_14-02-11" / "up").symlink_to("..")  # to the subject folder
    (root / S1 / "probe_3").symlink_to(root / "moved" / "probe_3")  # inside the share: followed
    (root / S1 / "probe_9").symlink_to(outside / "probe_9")  # outside: not followed
    (root / "recordings" / "77777").symlink_to(outside)  # outside, at subject depth
    (root / "recordings" / "20001" / "loop").symlink_to(root / "recordings")  # back up, at session depth
    (root / "recordings" / "20002" / "2024-02-03_10-30-58" / "borrowed").symlink_to(  # into another session
        root / "recordings" / "20001" / "2024-02-02_10-30-58" / "probe_1")
    (root / "recordings" / "20009" / "2024-02-01_10-30-58" / "fifo.ap.meta").parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / "recordings" / "20009" / "2024-02-01_10-30-58" / "fifo.ap.meta")  # never opened
    with open(os.path.join(os.fsencode(root / S1), b"bad\xff.txt"), "wb") as fh:
        fh.write(b"x")
    os.makedirs(os.path.join(os.fsencode(root / "recordings"), b"m\xe99", b"2024-01-01_00-00-00"))
    # Share findings from different folders of one level (with recordings/26018 locked), whose order
    # a pool answering out of turn would change.
    for subject in (b"20003", b"20007", b"20011"):
        os.makedirs(os.path.join(os.fsencode(root / "recordings"), subject, b"2024-02-02_\xff"))
    return [root / S1 / "probe_2", root / "recordings" / "26018"]


def discover_in_child(profile: Path, root: Path | None, locked: list[Path], threads: list[int | str]) -> dict:
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing, so chmod 000 cannot be tested")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    for folder in locked:
        folder.chmod(0)
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", _CHILD, str(profile), str(root or ""),
                               ",".join(map(str, threads))], cwd=REPO, capture_output=True, text=True,
                              timeout=240, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        for folder in locked:
            folder.chmod(0o755)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _frame(run: dict) -> pl.DataFrame:
    return pl.read_ipc(bytes.fromhex(run["frame"]))


def assert_same_as_one_thread(runs: dict) -> None:
    one = runs.pop("1")
    for threads, other in runs.items():
        for share, (a, b) in enumerate(zip(one, other)):
            if threads.startswith("p"):  # put together from processes: the same values and types, though
                # polars lays out the strings' buffers in its own way
                assert _frame(b).equals(_frame(a)) and _frame(b).schema == _frame(a).schema, \
                    f"share {share}: the frame in {threads[1:]} processes differs"
            else:
                assert b["frame"] == a["frame"], f"share {share}: the frame with {threads} threads differs"
            assert b["findings"] == a["findings"], f"share {share}: the findings with {threads} threads differ"
            # Every folder listed once, whatever the pool; the count is told in order. Helper processes
            # list their session folders uncounted (the count is the progress line's until sessions are found).
            assert a["listed"] == list(range(1, len(a["listed"]) + 1))
            if threads.startswith("p"):
                assert b["listed"] == a["listed"][:len(b["listed"])] and len(b["listed"]) < len(a["listed"])
            else:
                assert b["listed"] == a["listed"]


def test_messy_ephys_share_gives_the_same_frame_and_findings_with_any_number_of_threads_or_processes(tmp_path: Path) -> None:
    root = tmp_path / "N"
    locked = messy_ephys_share(root, tmp_path / "elsewhere")
    runs = discover_in_child(MOSER, root, locked, [1, 2, 16, "p3"])
    [one] = runs["1"]
    # The tree is as messy as meant: each case left its finding, so equality below is not of empty frames.
    codes = {f["code"] for f in one["findings"]}
    assert {"DISCOVER.UNREADABLE_DIR", "DISCOVER.SYMLINK_OUTSIDE", "DISCOVER.BAD_NAME"} <= codes, codes
    assert len(one["findings"]) >= 6
    # 60 clean sessions and 6 odd ones (what the walker makes of recordings/20001/loop, a link up to
    # recordings/, is tests/test_walk_links.py's to say).
    assert one["rows"] >= 12 * 5 + 6 and one["session_findings"] >= 8
    assert_same_as_one_thread(runs)


def messy_imaging_share(root: Path) -> None:
    """Imaging folders of both layouts; the older rig's (``combined: false``) split per recording."""
    tif = "ScanImage tif"
    make_tree(root, [
        *[(f"{60580 + s}/2024031{d}/fov{k}_0000{a}_0000{p}.tif", tif)
          for s in range(4) for d in range(4) for k in (1, 2) for a in (1, 2) for p in (1, 2)],
        ("60582/2024031x/fov1_00001_00001.tif", tif),  # a bad date, explained by no layout
        *[(f"imaging/{60590 + s}/2024-03-1{d}/{base}_00001_00001.tif", tif)
          for s in range(3) for d in range(3) for base in ("fovA", "fovB", "fovC")],
        ("imaging/60590/2024-03-10/fovA.mp4", "video"),
        ("imaging/60590/2024-03-10/fovB_WHEEL.csv", "wheel"),
        ("imaging/60599/2024-03-10_old/fovA_00001_00001.tif", tif),
    ])
    (root / "60581" / "20240310" / "loop").symlink_to("..")
    os.makedirs(os.path.join(os.fsencode(root / "60581"), b"2024031\xff"))


def test_demo_and_imaging_shares_give_the_same_frames_with_any_number_of_threads(tmp_path: Path) -> None:
    campaign = make_demo_campaign(tmp_path / "demo")
    runs = discover_in_child(campaign.profile_path, None, [], [1, 8])  # the profile names its shares' roots
    assert sum(r["rows"] for r in runs["1"]) > 5
    assert_same_as_one_thread(runs)
    messy_imaging_share(tmp_path / "I")
    runs = discover_in_child(IMAGING, tmp_path / "I", [], [1, 3, 16, "p2"])
    [one] = runs["1"]
    assert one["rows"] > 4 * 4 + 3 * 3  # the older rig's folders split per recording
    assert {f["code"] for f in one["findings"]} >= {"DISCOVER.BAD_NAME"}
    assert_same_as_one_thread(runs)


def test_listing_progress_counts_each_folder_once(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "N", [*probe(f"{S1}/probe_1", "1"), *probe(f"{S1}/probe_2", "2")])
    listed: list[int] = []
    frame, _ = discover_share(load_profile(MOSER).with_root(str(root)), "N", max_parallel=4, on_listed=listed.append)
    # root, recordings/, the subject, the session and its two probe folders
    assert frame.height == 1 and listed == [1, 2, 3, 4, 5, 6]
    walker = Walker("N", str(root))
    walker.fork().files_below(str(root / S1))
    assert walker.folders_listed == 3


def test_calls_that_wait_go_to_the_pool_after_the_first_few_and_keep_their_order() -> None:
    """A share whose listings wait (here: a sleep, as a network round trip) gets the pool; the results
    keep the order of the items either way."""
    calls: list[tuple[int, str]] = []

    def listing(item: int) -> int:
        time.sleep(0.005)  # the round trip, with the GIL released
        calls.append((item, threading.current_thread().name))
        return item * 2

    with ThreadPoolExecutor(4, thread_name_prefix="pool") as pool:
        pace = Pace(pool)
        assert list(ordered_map(pace, listing, range(40), 8)) == [i * 2 for i in range(40)]
    in_this_thread = {item for item, thread in calls if not thread.startswith("pool")}
    assert in_this_thread == set(range(Pace.SAMPLE_CALLS)) and pace.pool is pool and pace.waiting > 0.5


def test_max_parallel_is_bounded_in_the_profile() -> None:
    profile = load_profile(MOSER)
    assert profile.shares[0].max_parallel == 16
    with pytest.raises(Exception, match="max_parallel"):
        profile.shares[0].model_validate({**profile.shares[0].model_dump(), "max_parallel": 0})
    assert pl.__version__  # polars wrote the frames compared above


def test_helper_processes_tell_progress_and_a_lost_helper_loses_no_session(tmp_path: Path, monkeypatch) -> None:
    from mass_ingest import describing

    root = tmp_path / "N"
    make_tree(root, [entry for s in range(6) for d in range(4)
                     for entry in probe(f"recordings/{20000 + s}/2024-0{1 + d}-01_10-30-58/probe_1", f"1840{s}{d}")])
    profile = load_profile(MOSER).with_root(str(root))
    listed_alone: list = []
    alone, _ = discover_share(profile, "N", max_parallel=1, listings=listed_alone)
    monkeypatch.setattr(describing, "MIN_SLICE", 2)
    told: list[tuple[int, int]] = []
    listed_helped: list = []
    helped, _ = discover_share(profile, "N", max_parallel=1, processes=3, progress=lambda *a: told.append(a),
                               listings=listed_helped)
    assert helped.equals(alone) and alone.height == 24
    assert listed_helped[0].equals(listed_alone[0]) and listed_alone[0]["files"].list.len().min() == 3
    assert told[-1] == (24, 24) and all(a < b for a, b in zip(told, told[1:]))  # each count once: one "(done)"

    started = describing.Helpers.__init__

    def start_and_lose(self, count: int) -> None:
        started(self, count)
        for process in self._processes:  # killed before it is given its slice
            process.kill()
            process.wait()

    monkeypatch.setattr(describing.Helpers, "__init__", start_and_lose)
    lost, _ = discover_share(profile, "N", max_parallel=1, processes=3)
    assert lost.equals(alone)


def test_a_helper_pauses_the_collector_only_while_it_works(tmp_path: Path) -> None:
    """The helper's loop, run here: the collector is off while it describes and on again after, also when
    it was given no work (gc_paused, not a gc.disable() that outlives the call)."""
    import gc
    import io
    import pickle

    from mass_ingest import describing

    assert gc.isenabled()
    describing._helper_main(io.BytesIO(b""), io.BytesIO())  # the parent needed no help
    assert gc.isenabled()
    root = tmp_path / "N"
    make_tree(root, probe("recordings/20000/2024-01-01_10-30-58/probe_1", "18400"))
    profile = load_profile(MOSER).with_root(str(root))
    alone, _ = discover_share(profile, "N", max_parallel=1)
    share = profile.share("N")
    seen = []
    describe = describing.describe_one

    def watched(*args):
        seen.append(gc.isenabled())
        return describe(*args)

    from mass_ingest.describe import folder_start
    from mass_ingest.layouts import LayoutTemplate

    layout = share.layouts[0]
    template = LayoutTemplate.compile(layout.template)
    path = str(root / "recordings/20000/2024-01-01_10-30-58")
    fields = {"subject": "20000", "session_time": "2024-01-01_10-30-58"}
    todo = [("recordings/20000/2024-01-01_10-30-58", layout, template, path, fields, folder_start(fields, template))]
    out = io.BytesIO()
    describing.describe_one, saved = watched, describing.describe_one
    try:
        describing._helper_main(io.BytesIO(pickle.dumps((profile, "N", share.root, [path], False, False, todo))
                                              + pickle.dumps((0, 1))), out)
    finally:
        describing.describe_one = saved
    assert seen == [False] and gc.isenabled()
    out.seek(0)
    assert pickle.load(out) == ("ready", None)
    kind, (start, keys, ipc, _) = pickle.load(out)
    assert kind == "done" and start == 0 and keys == [todo[0][0]]
    assert pl.from_arrow(pa.ipc.open_stream(ipc).read_all()).equals(alone)


def test_where_switches_are_not_counted_per_thread_wall_time_alone_decides(monkeypatch) -> None:
    """No per-thread count of context switches (not Linux): every timed call counts as one that blocked, so
    waits on the share get the pool and calls that only compute do not."""
    from mass_ingest import discovery

    monkeypatch.setattr(discovery, "_RUSAGE_THREAD", None)
    with ThreadPoolExecutor(2) as pool:
        waiting, computing = Pace(pool), Pace(pool)
        for item in range(Pace.SAMPLE_CALLS):
            waiting.timed(time.sleep, 0.002)
            computing.timed(lambda n: sum(range(20_000 + n)), item)
        assert waiting.blocked == computing.blocked == Pace.SAMPLE_CALLS
        assert waiting.decided and waiting.pool is pool
        assert computing.decided and computing.pool is None
        again = Pace(pool)  # a count of its own, not one carried on from other paces
        again.timed(time.sleep, 0.001)
        assert again.blocked == 1


def test_helpers_start_during_the_listing_only_where_they_will_be_used(tmp_path: Path, monkeypatch) -> None:
    """No helper process for a share of a few folders or a share whose calls wait (a network share); for a
    share worth sharing, they start while the share is still being listed, so their imports overlap it."""
    from mass_ingest import describing, discovery
    from mass_ingest.mounts import NETWORK

    root = tmp_path / "N"
    make_tree(root, [entry for s in range(6) for d in range(4)
                     for entry in probe(f"recordings/{20000 + s}/2024-0{1 + d}-01_10-30-58/probe_1", f"1840{s}{d}")])
    profile = load_profile(MOSER).with_root(str(root))
    alone, _ = discover_share(profile, "N", max_parallel=1)
    started_at: list[int] = []
    listed: list[int] = []
    start = describing.Helpers.__init__

    def counted(self, count: int) -> None:
        started_at.append(len(listed))
        start(self, count)

    monkeypatch.setattr(describing.Helpers, "__init__", counted)
    tiny, _ = discover_share(profile, "N", max_parallel=1, processes=3)  # 24 folders: not worth a process
    assert started_at == [] and tiny.equals(alone)
    monkeypatch.setattr(describing, "MIN_SLICE", 2)
    monkeypatch.setattr(discovery, "mount_kind", lambda root: NETWORK)  # calls wait: threads, not processes
    waiting, _ = discover_share(profile, "N", max_parallel=4, processes=3)
    assert started_at == [] and waiting.equals(alone)
    monkeypatch.setattr(discovery, "mount_kind", lambda root: "local")
    helped, _ = discover_share(profile, "N", max_parallel=1, processes=3, on_listed=listed.append)
    # Started once 4 session folders were found (2 * MIN_SLICE): when the root, recordings/ and the first subject
    # folder had been listed, of the walk's 8 listings (the 6 subjects').
    assert started_at == [3] and listed[:8] == list(range(1, 9)) and helped.equals(alone)


def test_helpers_run_this_code_whatever_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    """Run inside another checkout (its own mass_ingest/ in the working directory), the helpers still import
    this process's code, not that one."""
    from mass_ingest import describing

    root = tmp_path / "N"
    make_tree(root, [entry for s in range(3) for d in range(4)
                     for entry in probe(f"recordings/{20000 + s}/2024-0{1 + d}-01_10-30-58/probe_1", f"1840{s}{d}")])
    profile = load_profile(MOSER).with_root(str(root))
    alone, _ = discover_share(profile, "N", max_parallel=1)
    other = tmp_path / "other-checkout"
    (other / "mass_ingest").mkdir(parents=True)
    imported = tmp_path / "imported-the-other-checkout"
    (other / "mass_ingest" / "__init__.py").write_text(f"open({str(imported)!r}, 'w').close()\n")
    monkeypatch.chdir(other)
    monkeypatch.setattr(describing, "MIN_SLICE", 2)
    answered: list = []
    feed = describing._feed

    def counted(process, header, spans, results, *rest):
        feed(process, header, spans, results, *rest)
        answered.append(len(results))

    monkeypatch.setattr(describing, "_feed", counted)
    helped, _ = discover_share(profile, "N", max_parallel=1, processes=2)
    assert helped.equals(alone) and not imported.exists() and answered and answered[0] > 0


def test_a_helper_answer_that_does_not_read_loses_no_session(tmp_path: Path, monkeypatch) -> None:
    """An answer this process cannot read (here: arrow refuses it) is a lost helper: its spans are described
    here, the frame is whole."""
    from mass_ingest import describing

    root = tmp_path / "N"
    make_tree(root, [entry for s in range(4) for d in range(4)
                     for entry in probe(f"recordings/{20000 + s}/2024-0{1 + d}-01_10-30-58/probe_1", f"1840{s}{d}")])
    profile = load_profile(MOSER).with_root(str(root))
    alone, _ = discover_share(profile, "N", max_parallel=1)
    monkeypatch.setattr(describing, "MIN_SLICE", 2)

    def unreadable(*args):
        raise pa.ArrowTypeError("not the candidates' schema")  # a TypeError, not an OSError or ValueError

    monkeypatch.setattr(describing.pa.ipc, "open_stream", unreadable)
    helped, _ = discover_share(profile, "N", max_parallel=1, processes=2)
    assert helped.equals(alone) and alone.height == 16
