"""The Typer apps of ``mass-ingest``, and the arguments several commands share.

A new command goes in the module of its audience (:mod:`.ingest`, :mod:`.decisions`, :mod:`.ledger`)
as ``@app.command()`` (or ``@db_app.command(...)`` / ``@subjects_app.command(...)``); a new group of
commands is a ``typer.Typer`` here, added with ``app.add_typer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="Bring a whole recording campaign from network shares into the lab's DataJoint pipeline.\n\n"
    "Start with `mass-ingest demo`, which builds a small demo share and ingests it into the embedded "
    "database. For a real campaign: write a profile (profiles/*.yaml), import subjects "
    "(`mass-ingest subjects import`), look at what `mass-ingest discover` finds, then `mass-ingest run`.\n\n"
    "Database: embedded PostgreSQL by default; set MASS_INGEST_DATABASE=postgresql://user@host/db or "
    "mysql://user@host:3306 (password in MASS_INGEST_DATABASE_PASSWORD) for the lab's server.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    # Plain help (click's): rich markup would eat "[default: ...]" and show switches as taking a <bool>,
    # and paragraphs are reflowed; its sub-apps take this setting from here.
    rich_markup_mode=None)
subjects_app = typer.Typer(help="Subjects and their probe implants.", no_args_is_help=True)
app.add_typer(subjects_app, name="subjects")
db_app = typer.Typer(help="The database: which one, and the embedded server's state.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ProfileArg = Annotated[Path, typer.Argument(help="Profile YAML, e.g. profiles/moser-ephys.yaml.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
RootOpt = Annotated[Optional[Path], typer.Option("--root", metavar="FOLDER", help="Use this folder as the root of "
                                                 "the profile's only share, or of the one --share names (a copy "
                                                 "of a share, a test tree).")]
ShareOpt = Annotated[Optional[list[str]], typer.Option("--share", metavar="NAME", help="Only this share of the "
                                                       "profile, by name (repeatable); default: all of them.")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option("--exclude", metavar="PATTERN", help="With --approve: "
                                                         "leave out sessions by id or glob (repeatable).")]
NoteOpt = Annotated[str, typer.Option(help="With --approve: a note stored with the decision.")]
