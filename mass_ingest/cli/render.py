"""Everything ``mass-ingest`` shows: rich tables on stdout, JSON for machines, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mass_ingest import long_lists
from mass_ingest.candidates import Status
from mass_ingest.redaction import redact

console = Console(stderr=True)
# Piped or logged output gets room for whole column names instead of rich's 80-column guess.
out = Console() if sys.stdout.isatty() else Console(width=120)


def print_json(data: object) -> None:
    # Plain print: rich would wrap long strings at the console width, and machines read this.
    print(json.dumps(data, indent=2, default=str))


def fail(exc: Exception, code: int = 2) -> NoReturn:
    """Exit 2 for bad input (profile, CSV, arguments), 1 for a run that did not complete."""
    # The one redaction point; escaped, so rich takes no "[default: x]" or "[type=...]" of a message for markup.
    console.print(f"[bold red]error:[/] {escape(redact(str(exc)))}", highlight=False)
    raise typer.Exit(code=code)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[str] = ()) -> Table:
    """A left-titled table of text cells; the ``right`` columns (numbers) right-justified. A word longer than
    its column (a location) is folded onto the next line, never cut: a cut path cannot be acted on."""
    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        shown.add_row(*row)
    return shown


def counts_table(counts, title: str) -> Table:
    """An ingest's counts (:class:`tasks.report.IngestCounts`) in one row."""
    columns = ("discovered", "duplicates", "quarantined", "pending", "excluded", "held", "left out", "inserted")
    return table(title, columns, [[str(getattr(counts, c.replace(" ", "_"))) for c in columns]], right=columns)


def ingest_outcome(counts, title: str, elapsed: float, stages: dict[str, float] | Exception) -> None:
    """What a run did: its counts, its decision and time, seconds per stage, shares left out, its findings file."""
    out.print(counts_table(counts, title))
    out.print(f"ingest {counts.ingest_id}: {counts.decision}; this run inserted {counts.inserted_by_this_run} "
              f"of the {counts.inserted} sessions the ingest inserted; {elapsed:.1f} s in all")
    if isinstance(stages, Exception):
        console.print(f"(stage timings unavailable: {stages})")
    else:
        out.print("seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    if counts.unreadable_shares:
        out.print(f"[yellow]shares not scanned this run: {', '.join(counts.unreadable_shares)}[/]")
    from mass_ingest.findings_file import findings_path  # here: it imports Prefect, which the CLI sets up first

    findings = findings_path(counts.ingest_id)
    if findings.exists():
        out.print(f"every finding of this ingest, one JSON object a line: {findings}", markup=False, highlight=False)


def _flagged(label: str, text: str) -> None:
    """``label`` in yellow, then ``text`` as written: a path or reason holding '[...]' is not rich markup."""
    out.print(Text.assemble((label, "yellow"), " " + text), highlight=False)


def what_needs_a_person(quarantined: list[dict], needs: list[dict], shown: int = 10,
                        listing: str = "mass-ingest validate PROFILE") -> None:
    """After a run: why sessions were quarantined, and what the inserted ones still need entered by hand.
    ``listing``: the command that lists every candidate of this run (for an import, it names the input file)."""
    for row in quarantined[:shown]:
        # Reasons end with their fix after a ';': ' | ' parts one reason from the next.
        _flagged("quarantined", f"{row['share']}:{row['rel_path']}: {' | '.join(row['reasons'])}")
    if len(quarantined) > shown:
        out.print(f"... and {len(quarantined) - shown} more quarantined (`{listing}` lists all)", markup=False,
                  highlight=False)
    if needs:
        out.print("still needs a person: " + ", ".join(f"{r['need']} {r['len']} ({r['sessions']} sessions)"
                                                        for r in needs) + "; `mass-ingest todo` lists them")


def input_file_findings(findings: list, listing: str, shown: int = 10) -> None:
    """What an import's input file says that its folders do not (IMPORT.* findings), one line each, as the
    quarantined sessions are shown: the place, the code and the sentence with its fix."""
    for f in findings[:shown]:
        _flagged("input file", f"{f.share}:{f.path}: {f.severity.name} {f.code}: {f.message}")
    if len(findings) > shown:
        out.print(f"... and {len(findings) - shown} more about the input file (`{listing}` lists all)", markup=False,
                  highlight=False)


def discovered(profile_name: str, result: dict, show_all: bool = False) -> None:
    """``mass-ingest discover``: the candidates (problems first), each share's findings, then the totals."""
    def kind(c: dict) -> str:
        if c["excluded_by"]:
            return "excluded"
        return "with findings" if any(f["severity"] != "INFO" for f in c["findings"]) else "clean"

    # Problems first: a long list is cut, and what needs a person must not be what is cut.
    order = {"with findings": 0, "clean": 1, "excluded": 2}
    candidates = sorted(result["candidates"], key=lambda c: (order[kind(c)], c["share"], c["rel_path"]))
    rows, more = long_lists.shown(candidates, show_all)
    out.print(table(f"sessions found by profile {profile_name}",
                    ("session", "share", "folder", "probes", "findings", "excluded"),
                    ([c["session_id"], c["share"], c["rel_path"], str(len(c["probes"])),
                      "\n".join(f"{f['code']}" for f in c["findings"]), c["excluded_by"] or ""]
                     for c in rows)))
    share_findings = [(entry["share"], f) for entry in result["shares"] for f in entry["findings"]]
    lines, more_findings = long_lists.shown(share_findings, show_all)
    for name, f in lines:
        out.print(f"{name}: {f['severity']} {f['code']} {f['path']}: {f['message']}")
    for line in (more, more_findings):
        if line:
            out.print(line)
    out.print(long_lists.totals("sessions", (kind(c) for c in candidates))
              + f" on {len(result['shares'])} share(s); {len(share_findings):,} findings about the shares")


def validated(profile_name: str, rows: list[dict], counts: dict[Status, int], access: list) -> None:
    """``mass-ingest validate``: what would happen to each candidate and why, then the counts."""
    out.print(table(f"what an ingest of {profile_name} would do", ("session", "share", "decision", "why"),
                    ([row["session_id"], row["share"], "insert" if row["status"] == Status.READY else row["status"],
                      "\n".join(row["reasons"])] for row in rows)))
    out.print(f"would insert {counts[Status.READY]}; {counts[Status.DUPLICATE]} already in the pipeline, "
              f"{counts[Status.COPY]} copies, {counts[Status.MOVED]} moved since ingested, "
              f"{counts[Status.UPDATE]} with new data since ingested, {counts[Status.QUARANTINED]} quarantined, "
              f"{counts[Status.PENDING]} pending (still arriving; looked at again next run), "
              f"{counts[Status.EXCLUDED]} excluded, {counts[Status.HELD]} held by a person (`mass-ingest release`)")
    for a in access:
        if a.finding:
            out.print(f"[yellow]{a.finding}[/]")


def rescanned(outcome) -> None:
    """``mass-ingest rescan``: the ingest's counts, each share's watermark, shares left to another re-scan."""
    if outcome.counts:
        out.print(f"ingest {outcome.counts['ingest_id']}: {outcome.counts['decision']}; "
                  f"inserted {outcome.counts['inserted']}, updates {outcome.counts['updates']}, "
                  f"pending {outcome.counts['pending']}, quarantined {outcome.counts['quarantined']}")
    for name, mark in outcome.watermarks.items():
        out.print(f"share {name}: last successful re-scan {mark.scanned_at or 'never'}"
                  + (f", {len(mark.pending)} folder(s) still arriving" if mark.pending else ""))
    if outcome.busy_shares:
        out.print(f"[yellow]being re-scanned by another run, left to it: {', '.join(outcome.busy_shares)}[/]")
