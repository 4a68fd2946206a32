#!/usr/bin/env python
"""Discovery against ``find`` on a network share: the generated share behind a FUSE mount that waits
DELAY before answering each file-system operation (``slow_share.py``), for 0.2, 1 and 5 ms.

For each delay, on the same mount in the same run: ``find -type f`` over the whole share and over
``recordings/``, then ``discover_share`` with the share's default ``max_parallel`` (listings and
reads in flight) and with ``max_parallel: 1`` (one folder at a time, as discovery walked before),
each discovery in a fresh process timed from after its imports. Every number is printed with the
load average at the time. The mount is read-only and unmounted afterwards; the kernel keeps names
and attributes for 1 s, so each run meets the delay on nearly every operation. The generated tree
is the one ``discovery.py`` makes (``share_tree.py``), 100 files per session, on local disk.

Where FUSE cannot be used (no /dev/fuse, no fusermount3, no libfuse3 or mfusepy), it says why and
exits 0 without numbers. Nothing is asserted.

    .venv/bin/python benchmarks/network_share.py                      # 10,000 files; 0.2, 1 and 5 ms
    .venv/bin/python benchmarks/network_share.py --files 30000 --delays 1 --keep
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import slow_share  # noqa: E402
from benchmarks.harness import load_average, run_discovery, time_find  # noqa: E402
from benchmarks.share_tree import FILES_PER_SESSION, MARKER, check_disk, ensure_tree, remove_tree  # noqa: E402

DEFAULT_ROOT = os.path.join(tempfile.gettempdir(), "mass-ingest-bench-network")


def _load() -> str:
    one, five, _ = load_average()
    return f"load {one:.1f}/{five:.1f}"


def measure_delay(share: Path, mountpoint: Path, delay_ms: float, repeats: int, sequential: bool,
                  max_parallel: int | None) -> dict:
    """find and discovery on ``share`` mounted at ``mountpoint`` with ``delay_ms`` per operation."""
    row: dict = {"delay_ms": delay_ms}
    with slow_share.mounted(share, mountpoint, delay_ms / 1000) as mount:
        runs = []
        for i in range(repeats):
            find_all = time_find(mount)
            find_rec = time_find(mount / "recordings")
            found = run_discovery(mount, None, max_parallel=max_parallel)
            runs.append((find_all, find_rec, found, _load()))
            print(f"  {delay_ms:g} ms, run {i + 1}/{repeats}: find {find_all[0]:.2f} s (recordings/ "
                  f"{find_rec[0]:.2f} s), discovery {found['seconds']:.2f} s, {runs[-1][3]}", flush=True)
        if sequential:
            one = run_discovery(mount, None, max_parallel=1)
            row["one_thread"] = (one, _load())
            print(f"  {delay_ms:g} ms: discovery one folder at a time {one['seconds']:.2f} s, {_load()}", flush=True)
    best = min(runs, key=lambda r: r[2]["seconds"])
    row.update(find_all=min(r[0][0] for r in runs), find_rec=min(r[1][0] for r in runs), files=runs[0][0][2],
               discovery=best[2], load=best[3], find_load=min(runs, key=lambda r: r[1][0])[3])
    return row


def report(rows: list[dict], sessions: int, max_parallel: int | None) -> None:
    pool = f"max_parallel {max_parallel}" if max_parallel else "the profile's default max_parallel"
    print(f"\n=== discovery against find on a FUSE share, {rows[0]['files']:,} files, {sessions:,} sessions "
          f"({os.cpu_count()} CPUs; server: {slow_share.server()}) ===")
    print(f"{'delay':>7}  {'find (whole)':>12}  {'find recordings/':>16}  {'discovery':>10}  {'find / discovery':>16}"
          f"  {'one at a time':>13}  load average")
    for r in rows:
        d = r["discovery"]
        one = f"{r['one_thread'][0]['seconds']:>11.2f} s" if "one_thread" in r else f"{'-':>13}"
        print(f"{r['delay_ms']:>5g} ms  {r['find_all']:>10.2f} s  {r['find_rec']:>14.2f} s  {d['seconds']:>8.2f} s  "
              f"{r['find_rec'] / d['seconds']:>7.1f}x faster  {one}  {r['load']} (find: {r['find_load']})")
        if d["sessions"] != sessions:
            print(f"         discovery found {d['sessions']:,} sessions, not {sessions:,}!")
    print(f"discovery: {pool}; 'find / discovery' is find over recordings/ (what discovery walks) divided by "
          "discovery's time, best of the runs; 'one at a time' is max_parallel 1.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, metavar="N",
                        help="about how many files the share holds (default 10,000; ~100 per session)")
    parser.add_argument("--delays", default="0.2,1,5", help="milliseconds per operation (default 0.2,1,5)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per delay, the best is reported (default 2)")
    parser.add_argument("--max-parallel", type=int, help="discovery's max_parallel (default: the profile's)")
    parser.add_argument("--no-sequential", action="store_true", help="skip discovery with max_parallel 1")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR", help=f"where to generate (default {DEFAULT_ROOT})")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree for the next run")
    args = parser.parse_args()
    if args.files < FILES_PER_SESSION * 10:
        parser.error(f"--files must be at least {FILES_PER_SESSION * 10}")

    why = slow_share.unavailable()
    if why:
        print(f"skipped: FUSE is not available here: {why}")
        return
    base = Path(args.root).resolve()
    created_base = not base.exists()
    check_disk(base, [args.files])
    base.mkdir(parents=True, exist_ok=True)
    tree = base / f"files-{args.files}"
    try:
        share, counts = ensure_tree(base, args.files, min(4, os.cpu_count() or 1))
        rows = []
        for delay in (float(d) for d in args.delays.split(",")):
            print(f"\nmounting {share} with {delay:g} ms per operation ...", flush=True)
            started = time.monotonic()
            rows.append(measure_delay(share, base / "mnt", delay, args.repeats, not args.no_sequential,
                                      args.max_parallel))
            print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
        report(rows, counts.sessions, args.max_parallel)
    finally:
        if not args.keep and (tree / MARKER).exists():
            remove_tree(tree)
        if (base / "mnt").is_dir() and not os.path.ismount(base / "mnt"):
            (base / "mnt").rmdir()
            (base / "mnt.fuse.log").unlink(missing_ok=True)
        if created_base and base.exists() and not any(base.iterdir()):
            base.rmdir()


if __name__ == "__main__":
    main()
