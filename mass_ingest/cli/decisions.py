"""A person's decision on an ingest waiting for it: approve, reject; and release of held sessions."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer

from mass_ingest.cli.app import app
from mass_ingest.cli.render import console, fail, out, table
from mass_ingest.errors import MassIngestError

IdArg = Annotated[str, typer.Argument(help="The ingest: its id, the id or name of its flow run, or a unique prefix "
                                      "of one (`mass-ingest runs` and the paused run's log print them).",
                                      show_default=False)]


def _decide(ref: str, approve: bool, exclude: list[str] | None, approver: str | None, note: str) -> None:
    from mass_ingest.deciding import decide_from_terminal

    try:
        done = decide_from_terminal(ref, approve, exclude or [], approver or getpass.getuser(), note)
    except MassIngestError as exc:
        fail(exc)
    out.print(f"ingest {done.target.ingest_id} {done.decision.describe()}", highlight=False)
    if done.resumed:
        out.print(f"flow run {done.waiting.flow_run_id} resumed; it {'inserts' if done.decision.approved else 'ends'} "
                  "now", highlight=False)
    else:
        console.print(f"[yellow]{done.problem}[/]", highlight=False)


@app.command()
def approve(
    ref: IdArg,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", metavar="PATTERN", help="Leave out sessions by "
                                                         "id, glob or folder path (repeatable); they are held until "
                                                         "released.")] = None,
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Stored with the decision.")] = "",
) -> None:
    """Approve an ingest waiting for a decision.

    The first decision on an ingest is final.

    \b
    Example: mass-ingest approve 3f2a9c --exclude '26018/*' --note 'no arena'
    """
    _decide(ref, True, exclude, approver, note)


@app.command()
def reject(
    ref: IdArg,
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
) -> None:
    """Reject an ingest waiting for a decision: it inserts nothing.

    Its sessions are held until released (`mass-ingest release`). The first decision on an ingest
    is final.

    \b
    Example: mass-ingest reject 3f2a9c --note 'the share was half copied'
    """
    _decide(ref, False, None, approver, note)


@app.command()
def release(
    patterns: Annotated[Optional[list[str]], typer.Argument(metavar="PATTERN", help="Held sessions by id, glob or "
                                                            "folder path.", show_default=False)] = None,
    note: Annotated[str, typer.Option(help="Why they may go in now (required).")] = "",
    by: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    list_held: Annotated[bool, typer.Option("--list", help="List the sessions held now, and why; release "
                                            "nothing.")] = False,
) -> None:
    """Return held sessions to the queue: the next run offers them.

    Sessions are held when left out at approval, in a rejected ingest, or undone; --list lists them.

    \b
    Example: mass-ingest release '25843/2024-03-*' --note 'subject imported'
    """
    from mass_ingest.db.held import held_frame, held_label, release_sessions

    try:
        if list_held:
            held = held_frame()
            out.print(table(f"held sessions ({held.height}), newest first", ("session", "share", "folder", "held"),
                            held.select("session_id", "share", "rel_path", held_label(held)).iter_rows()))
            return
        if not patterns:
            raise MassIngestError("name the held sessions to release, by id, glob or folder path; "
                                  "`mass-ingest release --list` lists them")
        released = release_sessions(patterns, by or getpass.getuser(), note)
    except MassIngestError as exc:
        fail(exc)
    for row in released.iter_rows(named=True):
        out.print(f"released {row['session_id']} ({row['share']}:{row['rel_path']}), held since "
                  f"{row['held_at']:%Y-%m-%d} ({row['reason']} by {row['held_by']})", highlight=False)
    out.print(f"{released.height} session(s) released; the next run offers them again")
