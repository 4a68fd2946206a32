"""What the discovery benchmark prints: one share's numbers against ``find``, and memory against size."""

from __future__ import annotations

import os

from benchmarks.harness import Result
from benchmarks.share_tree import FILES_PER_SESSION, IN_SESSION


def report(r: Result) -> None:
    c, b = r.counts, r.best
    least = min(r.runs, key=lambda x: x["cpu"])
    cpu = least["cpu"]
    outside = c.files_outside_sessions
    times = ", ".join(f"{x['seconds']:.2f}" for x in r.runs)
    print(f"""
=== share of about {r.n_files:,} files ===
files                         {r.find_all_count:>12,}  (generated {c.files:,}; {c.dirs:,} folders)
  inside session folders      {c.files_in_sessions:>12,}
  outside session folders     {outside:>12,}  ({outside / c.files:.0%}: analysis/, histology/, notes.txt; never entered)
  under recordings/           {r.find_rec_count:>12,}
session folders               {c.sessions:>12,}  of {c.subjects} subjects (discovery found {b['sessions']:,})
probes read                   {b['probes']:>12,}  ({b['probes_with_serial']:,} with a serial; findings: \
{b['session_findings']} in sessions, {b['share_findings']} on the share)
find -type f, whole tree      {r.find_all:>10.2f} s  (best of {len(r.runs)}, warm; CPU {r.find_all_cpu:.2f} s)
find -type f, recordings/     {r.find_rec:>10.2f} s  (CPU {r.find_rec_cpu:.2f} s, of it {r.find_rec_kernel:.2f} s in the kernel)
discover_share                {b['seconds']:>10.2f} s  (best of {len(r.runs)}: {times}; CPU {b['cpu']:.2f} s, of it \
{b['kernel']:.2f} s in the kernel; imports before it {b['startup_s']:.1f} s)
discovery / find (whole)      {b['seconds'] / r.find_all:>10.1f} x  (by CPU time {cpu / r.find_all_cpu:.1f} x, \
least CPU of either side's runs)
discovery / find (recordings) {b['seconds'] / r.find_rec:>10.1f} x  (by CPU time {cpu / r.find_rec_cpu:.1f} x; \
kernel {least['kernel'] / max(r.find_rec_kernel, 1e-6):.1f} x, user \
{(cpu - least['kernel']) / max(r.find_rec_cpu - r.find_rec_kernel, 1e-6):.1f} x)
sessions/s                    {b['sessions'] / b['seconds']:>12,.0f}
files under sessions/s        {c.files_in_sessions / b['seconds']:>12,.0f}
peak RSS of the child         {r.peak_mb:>10.0f} MB  (after imports {b['rss_before_kb'] / 1024:.0f} MB; discovery added \
{r.discovery_mb:.0f} MB, {r.discovery_mb * 2**20 / max(1, c.sessions):,.0f} B per session)""", flush=True)
    if r.parallel:
        print("discover_share in chunks (Share.chunks), each chunk's part of the share walked at once:")
    for label, runs in r.parallel.items():
        p = min(runs, key=lambda x: x["seconds"])
        parts = ", ".join(f"{x:.2f}" for x in p["parts_seconds"])
        ok = "" if p["sessions"] == c.sessions else f"  (found {p['sessions']:,} sessions!)"
        print(f"""  {label:<28}{p['seconds']:>6.2f} s  ({p['seconds'] / r.find_rec:.1f} x find of recordings/, \
{b['seconds'] / p['seconds']:.2f} x as fast as one; parts {parts} s; peak RSS {p['peak_kb'] / 1024:.0f} MB \
per process){ok}""", flush=True)
    busy = max(r.load) > 0.5 * (os.cpu_count() or 1)
    print(f"load average                  {r.load[0]:>10.1f} before, {r.load[1]:.1f} after, on {os.cpu_count()} CPUs"
          + ("  (busy: other processes shared the CPUs; compare CPU times, or run again)" if busy else ""))
    print(f"code                          {b['code']}", flush=True)


def scaling(small: Result, big: Result) -> None:
    m_ratio = big.discovery_mb / max(small.discovery_mb, 1e-9)
    per_big = big.discovery_mb * 2**20 / big.counts.sessions
    per_small = small.discovery_mb * 2**20 / small.counts.sessions
    marginal = (big.discovery_mb - small.discovery_mb) * 2**20 / max(1, big.counts.sessions - small.counts.sessions)
    print(f"""
=== peak memory against size ===
sessions x{big.counts.sessions / small.counts.sessions:.0f}, files x{big.counts.files / small.counts.files:.0f}: \
memory added by discovery x{m_ratio:.1f} ({small.discovery_mb:.0f} MB -> {big.discovery_mb:.0f} MB)
per session: {per_small:,.0f} B at {small.counts.sessions:,} sessions, {per_big:,.0f} B at {big.counts.sessions:,}; \
marginal {marginal:,.0f} B per added session""")
    walk = max((r["walk_rss"] for r in big.runs), key=len)
    if len(walk) >= 2:
        (n0, kb0), (n1, kb1) = walk[0], walk[-1]
        grows = (kb1 - kb0) * 1024 / (n1 - n0)
        end = max(r["peak_kb"] for r in big.runs) - kb1
        print(f"""while walking: RSS grows {grows:,.0f} B per session read (sessions {n0:,} to {n1:,}); \
after the walk (building the frame) the peak rises {end / 1024:,.0f} MB more.
Both trees hold {FILES_PER_SESSION} files per session ({IN_SESSION} inside the folder), so files and sessions grow
together here; for scale, one session's file list as FileEntry objects is ~{IN_SESSION * 330:,} B.""",
              flush=True)
