#!/usr/bin/env python
"""Discovery speed and memory against ``find``, on a generated share of about N files.

What it does, in one run:

1. Generates (or reuses, when a marker says the same N and generator version made it) a share
   in the lab's layout, ``recordings/<subject>/<YYYY-MM-DD_HH-MM-SS>/``, with two Neuropixels
   1.0 probes per session (``npx.imec.ap.meta`` with realistic SpikeGLX text, a sparse
   ``npx.imec.ap.bin`` of exactly ``fileSizeBytes``, the LF pair), a Kilosort folder per probe,
   ``sessions.txt``, ``sync_all.mat``, ``logs/``, ``motive/``, and ``analysis/`` + ``histology/``
   trees beside ``recordings/`` that a pruning walker never enters. About 100 files per
   session; 70 of them inside the session folder. A second share of N/10 files is generated
   too, to see how discovery's peak memory grows.
2. For each share: warms the page cache with ``find -type f | wc -l``, times ``find`` over the
   whole tree and over ``recordings/`` (best of 3), then times ``discover_share`` (best of 3),
   each repetition in a fresh child process that also reports its CPU time and peak RSS; then
   the share in ``--parts`` chunks (``Share.chunks``), in as many threads and in as many processes.
3. Prints files, session folders, wall and CPU times, the discovery/find ratios, sessions/s and
   peak RSS; ``--profile`` adds a cProfile of one discovery run (top 15 by cumulative and by own time).

Nothing is asserted: timings depend on the machine. The page cache is not dropped (the machine
may be shared, and it would slow both sides alike), so ``find`` and discovery both run warm: this
measures the CPU cost of the walk and of reading the session files, which is what a warm re-run
or a fast local disk sees. On a network share both get slower by the server's round trips.
On a busy machine wall times swing; the CPU-time ratio is steadier.

The tree is made by ``share_tree.py``, the runs timed by ``harness.py`` and printed by ``report.py``.

Examples::

    .venv/bin/python benchmarks/discovery.py                      # 1,000,000 files, then deleted
    .venv/bin/python benchmarks/discovery.py --files 100000 --keep --profile
    .venv/bin/python benchmarks/discovery.py --code /tmp/patched  # benchmark a patched copy of the code
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import child_discover, child_profile, measure, run_child  # noqa: E402
from benchmarks.report import report, scaling  # noqa: E402
from benchmarks.share_tree import (DEFAULT_ROOT, FILES_PER_SESSION, MARKER, TreeCounts, check_disk,  # noqa: E402
                                   ensure_tree, fstype, remove_tree)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Time mass-ingest discovery against `find` on a generated share of about N files "
        "(and of N/10, for memory scaling). Prints numbers; asserts nothing.",
        epilog="The tree is reused when a marker says it was made for the same N; it is deleted at the end "
        "unless --keep. Disk needed: about 5 GB per million files (sparse .bin files).")
    parser.add_argument("--files", type=int, default=1_000_000, metavar="N",
                        help="about how many files the share holds (default 1,000,000; ~100 per session)")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help=f"where to generate, on a local disk (default {DEFAULT_ROOT})")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees for the next run")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one discovery run of the N tree with cProfile (top 15)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions, best is reported (default 3)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the N/10 tree")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes generating the tree (default: CPUs, at most 4)")
    parser.add_argument("--parts", type=int, default=min(2, os.cpu_count() or 1), metavar="K",
                        help="also time discovery split into K chunks (Share.chunks), run in K threads of one "
                        "process (as the flow's default task runner does) and in K processes (default: 2 "
                        "when there are 2 CPUs; 1 skips this)")
    parser.add_argument("--code", metavar="DIR",
                        help="import mass_ingest and tasks from DIR instead of this repository "
                        "(to benchmark a patched copy)")
    parser.add_argument("--child-discover", metavar="SHARE", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", metavar="SHARE", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--max-parallel", type=int, metavar="K",
                        help="the share's max_parallel: listings and reads in flight (default: the profile's; 1: "
                        "one folder at a time)")
    args = parser.parse_args()

    sys.path.insert(0, args.code or str(REPO))
    if args.child_discover:
        index, count = map(int, args.chunk.split("/"))
        return child_discover(args.child_discover, (index, count), args.threads, args.max_parallel)
    if args.child_profile:
        return child_profile(args.child_profile)

    if args.files < FILES_PER_SESSION * 10:
        parser.error(f"--files must be at least {FILES_PER_SESSION * 10}")
    base = Path(args.root).resolve()
    sizes = ([args.files // 10] if not args.no_scaling else []) + [args.files]
    created_base = not base.exists()
    check_disk(base, sizes)
    base.mkdir(parents=True, exist_ok=True)
    print(f"{sys.executable} on {os.cpu_count()} CPUs; trees under {base} ({fstype(base)})", flush=True)
    trees = []
    try:
        results = []
        for n in sizes:
            trees.append(base / f"files-{n}")
            ensure_tree(base, n, args.workers)
        for n, tree in zip(sizes, trees):
            counts = TreeCounts(**json.loads((tree / MARKER).read_text())["counts"])
            result = measure(tree / "share", counts, n, args.repeats, args.code, args.parts, args.max_parallel)
            report(result)
            results.append(result)
        if len(results) == 2:
            scaling(*results)
        if args.profile:
            print(f"\nprofiling one discovery run on {trees[-1] / 'share'} ...", flush=True)
            print(run_child("--child-profile", trees[-1] / "share", args.code))
    finally:
        if not args.keep:
            for tree in trees:
                if (tree / MARKER).exists():
                    print(f"deleting {tree}", flush=True)
                    remove_tree(tree)
            if created_base and base.exists() and not any(base.iterdir()):
                base.rmdir()


if __name__ == "__main__":
    main()
