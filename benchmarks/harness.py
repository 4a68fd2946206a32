"""Timing discovery against ``find``: each discovery run in a fresh child process of ``discovery.py``.

:func:`time_find` times ``find -type f | wc -l``; :func:`run_discovery` starts child processes that
import everything, say they are ready, and run ``discover_share`` when all are (wall, CPU and kernel
time, peak RSS, RSS while walking); :func:`measure` puts both together for one share.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.share_tree import SHARE, TreeCounts, bench_profile

DISCOVERY_SCRIPT = Path(__file__).resolve().parent / "discovery.py"  # runs the children below


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15-minute load averages (``uptime``'s), to print beside every number."""
    return os.getloadavg()


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _kernel(who: int) -> float:
    return resource.getrusage(who).ru_stime


def time_find(path: Path) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds (find, wc and bash), file count and kernel CPU seconds of
    ``find PATH -type f | wc -l``."""
    cpu, kernel = _cpu(resource.RUSAGE_CHILDREN), _kernel(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(["bash", "-c", f"find {shlex.quote(str(path))} -type f | wc -l"],
                         check=True, capture_output=True, text=True).stdout
    return (time.perf_counter() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu, int(out.strip()),
            _kernel(resource.RUSAGE_CHILDREN) - kernel)


def run_child(mode: str, share: Path, code: str | None) -> dict | str:
    """One child process start to end (used for the profile)."""
    cmd = [sys.executable, str(DISCOVERY_SCRIPT), mode, str(share)]
    if code:
        cmd += ["--code", code]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"discovery child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def run_discovery(share: Path, code: str | None, parts: int = 1, threads: bool = False,
                  max_parallel: int | None = None) -> dict:
    """``discover_share`` in ``parts`` child processes at once, each walking its chunk (i, parts),
    or with ``threads`` in one child process running the ``parts`` chunks in as many threads.
    ``max_parallel``: the share's listings in flight (the profile's default unless given).

    Each child imports everything, says it is ready, and starts only when all are: the time is from
    that common start to the end of the slowest part, without interpreter start-up and imports.
    """
    base = [sys.executable, str(DISCOVERY_SCRIPT), "--child-discover", str(share)] + (
        ["--code", code] if code else []) + (["--max-parallel", str(max_parallel)] if max_parallel else [])
    if threads:
        cmds = [base + ["--threads", str(parts)]]
    else:
        cmds = [base + ["--chunk", f"{i}/{parts}"] for i in range(parts)]
    procs = []
    for cmd in cmds:
        err = tempfile.TemporaryFile(mode="w+")
        procs.append((subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                       text=True), err))
    started = time.perf_counter()
    for proc, err in procs:
        if proc.stdout.readline().strip() != "ready":
            proc.wait()
            err.seek(0)
            sys.exit(f"discovery child failed ({proc.returncode}):\n{err.read()[-4000:]}")
    imports = time.perf_counter() - started
    for proc, _ in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc, err in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"discovery child failed ({proc.returncode}):\n{err.read()[-4000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
        err.close()
    merged = dict(results[0])
    merged["seconds"] = max(r["end"] for r in results) - min(r["go"] for r in results)
    for key in ("sessions", "probes", "probes_with_serial", "session_findings", "share_findings"):
        merged[key] = sum(r[key] for r in results)
    merged["cpu"] = sum(r["cpu"] for r in results)
    merged["kernel"] = sum(r["kernel"] for r in results)
    merged["peak_kb"] = max(r["peak_kb"] for r in results)  # per process: the bound that matters for a worker
    merged["parts_seconds"] = [r["end"] - r["go"] for r in results]
    merged["startup_s"] = imports
    return merged



def _rss_now_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child_discover(share: str, chunk: tuple[int, int], threads: int, max_parallel: int | None = None) -> None:
    """One discovery run in this (fresh) process, started by a line on stdin; prints a JSON line.

    With ``threads`` > 1 the share is walked as that many chunks in as many threads, as the flow's
    default (thread pool) task runner runs a share's ``chunks`` tasks.
    """
    from concurrent.futures import ThreadPoolExecutor

    import mass_ingest
    import polars as pl
    from tasks.discover import discover_share

    profile = bench_profile(share, max_parallel)
    walk_rss: list[tuple[int, int]] = []  # (sessions read, RSS kB) while walking

    def sample(n: int, total: int | None = None) -> None:  # progress(done, total); older code gave done only
        if n % 100 == 0:
            walk_rss.append((n, _rss_now_kb()))

    print("ready", flush=True)
    sys.stdin.readline()
    go = time.time()
    rss_before = _rss_now_kb()
    cpu, kernel = _cpu(resource.RUSAGE_SELF), _kernel(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda i: discover_share(profile, SHARE, chunk=(i, threads)), range(threads)))
        frame = pl.concat([f for f, _ in parts])
        findings = [x for _, fs in parts for x in fs]
    elif chunk != (0, 1):
        frame, findings = discover_share(profile, SHARE, chunk=chunk)
    else:  # no chunk argument, so that code from before chunks can be measured too
        frame, findings = discover_share(profile, SHARE, progress=sample)
    seconds = time.perf_counter() - started
    end = time.time()
    cpu = _cpu(resource.RUSAGE_SELF) - cpu
    kernel = _kernel(resource.RUSAGE_SELF) - kernel
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    probes = int(frame["probes"].list.len().sum()) if frame.height else 0
    with_serial = int(frame["probes"].explode().struct.field("serial").is_not_null().sum()) if probes else 0
    n_findings = int(frame["findings"].list.len().sum()) if frame.height else 0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "kernel": kernel, "go": go, "end": end, "sessions": frame.height, "probes": probes,
                      "probes_with_serial": with_serial, "session_findings": n_findings,
                      "share_findings": len(findings), "rss_before_kb": rss_before, "peak_kb": peak, "walk_rss": walk_rss,
                      "code": str(Path(mass_ingest.__file__).parent.parent)}))


def child_profile(share: str) -> None:
    import cProfile
    import io
    import pstats

    from tasks.discover import discover_share

    profile = bench_profile(share)
    prof = cProfile.Profile()
    prof.enable()
    frame, _ = discover_share(profile, SHARE)
    prof.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(15)
        text = out.getvalue()
        print(f"--- cProfile of one discovery run ({frame.height:,} sessions), top 15 by {order} ---")
        print(text[text.find("   ncalls"):].rstrip() + "\n")


@dataclass
class Result:
    n_files: int
    counts: TreeCounts
    find_all: float
    find_rec: float
    find_all_cpu: float
    find_rec_cpu: float
    find_all_count: int
    find_rec_count: int
    runs: list[dict]
    parallel: dict[str, list[dict]]  # "in K processes" / "in K threads" -> runs
    load: tuple[float, float]  # 1-minute load average before and after
    find_rec_kernel: float = 0.0  # of find_rec_cpu, in the kernel

    @property
    def best(self) -> dict:
        return min(self.runs, key=lambda r: r["seconds"])

    @property
    def peak_mb(self) -> float:
        return max(r["peak_kb"] for r in self.runs) / 1024

    @property
    def discovery_mb(self) -> float:
        # peak during discovery above what the imports left resident
        return max(r["peak_kb"] - r["rss_before_kb"] for r in self.runs) / 1024


def measure(share: Path, counts: TreeCounts, n_files: int, repeats: int, code: str | None, parts: int,
            max_parallel: int | None = None) -> Result:
    print(f"\nmeasuring {share} ...", flush=True)
    load_before = os.getloadavg()[0]
    time_find(share)  # warm the page cache (dentries and inodes) for both sides
    finds_all = [time_find(share) for _ in range(repeats)]
    finds_rec = [time_find(share / "recordings") for _ in range(repeats)]
    runs = []
    for i in range(repeats):
        runs.append(run_discovery(share, code, max_parallel=max_parallel))
        print(f"  discovery run {i + 1}/{repeats}: {runs[-1]['seconds']:.2f} s (load {os.getloadavg()[0]:.1f})",
              flush=True)
    parallel: dict[str, list[dict]] = {}
    if parts > 1:
        for threads in (True, False):
            label = f"in {parts} threads (flow default)" if threads else f"in {parts} processes"
            parallel[label] = []
            for i in range(repeats):
                parallel[label].append(run_discovery(share, code, parts, threads=threads, max_parallel=max_parallel))
                print(f"  discovery, {label}, run {i + 1}/{repeats}: {parallel[label][-1]['seconds']:.2f} s",
                      flush=True)
    least_rec = min(finds_rec, key=lambda f: f[1])
    return Result(n_files, counts, min(f[0] for f in finds_all), min(f[0] for f in finds_rec),
                  min(f[1] for f in finds_all), least_rec[1],
                  finds_all[0][2], finds_rec[0][2], runs, parallel, (load_before, os.getloadavg()[0]), least_rec[3])
