"""The benchmark scripts still run against the code as it is now (tiny sizes; nothing is timed).

A benchmark that broke with a refactor (the insert benchmark once looked for a renamed
function) tells nothing when someone needs the numbers; these runs keep them working.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run_benchmark(script: str, *args: str, timeout: float = 300) -> str:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], capture_output=True,
                            text=True, timeout=timeout, cwd=REPO, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_discovery_benchmark_prints_its_ratios_to_find(tmp_path):
    out = run_benchmark("discovery.py", "--files", "3000", "--repeats", "1", "--no-scaling", "--root", str(tmp_path))
    assert "x find of recordings/" in out and "sessions/s" in out


def test_dedup_benchmark_prints_candidates_per_second():
    out = run_benchmark("dedup.py", "--rows", "2000", "--repeats", "1")
    assert out.count("candidates/s") == 3  # discovery order, 4 sorted runs, shuffled


def test_insert_benchmark_prints_sessions_per_second_and_prefects_share():
    out = run_benchmark("insert.py", "--sessions", "300", "--chunk-size", "100", "--repeats", "1")
    assert "sessions/s" in out and "Prefect in the task runs" in out and "the flow call as a whole" in out


def test_network_share_benchmark_prints_find_and_discovery_on_the_fuse_mount_or_why_not(tmp_path):
    out = run_benchmark("network_share.py", "--files", "1000", "--delays", "0.2", "--repeats", "1",
                        "--root", str(tmp_path))
    assert "skipped: FUSE is not available here" in out or ("x faster" in out and "load" in out)
    assert not os.path.ismount(tmp_path / "mnt")


def test_commands_benchmark_prints_the_whole_commands_against_find(tmp_path):
    out = run_benchmark("commands.py", "--files", "1000", "--repeats", "1", "--root", str(tmp_path))
    assert "mass-ingest discover --json" in out and "mass-ingest validate --json" in out and "MB of JSON" in out


def test_commands_benchmark_runs_a_baseline_checkout_alternately(tmp_path):
    out = run_benchmark("commands.py", "--files", "1000", "--repeats", "1", "--root", str(tmp_path),
                        "--commands", "discover", "--baseline", str(REPO))
    assert "mass-ingest discover (baseline) --json" in out and "\nmass-ingest discover --json" in out
    assert out.index("discover --json (baseline), run 1/1") < out.index("discover --json, run 1/1")


def test_end_to_end_benchmark_prints_every_stage_insertion_and_dedup(tmp_path):
    # A Prefect server, the embedded database, the subjects import, the flow and dedup, each its own process.
    out = run_benchmark("end_to_end.py", "--sessions", "60", "--dedup-rows", "2000", "--root", str(tmp_path),
                        timeout=900)
    assert "state COMPLETED" in out and "peak RSS of the flow process (ru_maxrss)" in out and "MiB = " in out
    assert "highest in it" in out and "the flow process's CPU" in out
    for stage in ("discover", "deduplicate", "quality", "recheck-share", "insert", "publish-followup"):
        assert f"\n  {stage} " in out, stage
    assert "sessions/s" in out and "Great Expectations:" in out and out.count("candidates/s") == 2
    assert "'inserted': 60" in out  # every generated session passes and goes in
    assert not list(tmp_path.iterdir())  # the temporary folder is removed


def test_the_c_slow_share_serves_the_tree_as_it_is_on_disk(tmp_path):
    # The benchmark's ratio is only the tool's if the C server answers what the disk holds: every name, type,
    # size, link and byte, read-only.
    sys.path.insert(0, str(REPO))
    from benchmarks import slow_share

    why = slow_share.unavailable() or (None if slow_share.c_server() else "gcc or libfuse3's headers are missing")
    if why:
        pytest.skip(f"the C FUSE server cannot run here: {why}")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "x.meta").write_text("imSampRate=30000\n" * 500)
    (tree / "a" / "empty").write_bytes(b"")
    (tree / "a" / "link").symlink_to("b/x.meta")

    def listing(root: Path) -> list:
        return sorted((str(p.relative_to(root)), p.is_symlink(), p.is_dir(),
                       None if p.is_dir() or p.is_symlink() else p.read_bytes()) for p in root.rglob("*"))

    with slow_share.mounted(tree, tmp_path / "mnt", delay_s=0.0002) as mount:
        assert listing(mount) == listing(tree)
        assert os.readlink(mount / "a" / "link") == "b/x.meta"
        with pytest.raises(OSError):
            (mount / "a" / "new").write_text("no")
    assert not os.path.ismount(tmp_path / "mnt")
