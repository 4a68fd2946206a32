"""What the pipeline holds and what ingests did: runs, undo, todo, sessions, subjects, db."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Optional

import typer

from mass_ingest.cli.app import JsonOpt, app, db_app, subjects_app
from mass_ingest.cli.render import fail, out, print_json, table
from mass_ingest.errors import MassIngestError


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List ingest runs, newest first.

    Whole ids, profile, status, who approved, sessions inserted, and which wait for a decision.

    \b
    Example: mass-ingest runs --limit 10
    """
    from mass_ingest.db.decisions import waiting_ingests
    from mass_ingest.db.runs import list_runs

    try:
        rows = list_runs(limit)
        waiting = waiting_ingests()
    except MassIngestError as exc:
        fail(exc, code=1)
    rows = [{**r, "waiting_flow_run": waiting[r["ingest_id"]].flow_run_id if r["ingest_id"] in waiting else ""}
            for r in rows]
    if as_json:
        print_json(rows)
        return
    columns = ("ingest_id", "profile_name", "status", "started_at", "approver", "sessions", "waiting_flow_run")
    shown = table("ingest runs, newest first", columns,
                  ([str(row[c] if row[c] is not None else "") for c in columns] for row in rows))
    for column in shown.columns:  # ids are copied whole, never cut
        if column.header in ("ingest_id", "waiting_flow_run"):
            column.no_wrap, column.min_width = True, 36
    out.print(shown)
    for ingest_id, claim in waiting.items():
        out.print(f"ingest {ingest_id} waits for a decision: mass-ingest approve {claim.flow_run_id} "
                  f"(or reject {claim.flow_run_id} --note 'why')", highlight=False)


@app.command()
def undo(
    ref: Annotated[str, typer.Argument(help="The ingest: its id, the id or name of one of its flow runs, or a "
                                       "unique prefix (see `mass-ingest runs`).", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    note: Annotated[str, typer.Option(help="Why; stored with the sessions it holds.")] = "",
) -> None:
    """Delete what an ingest inserted, listing it first.

    Refused when something already depends on it. Its sessions are held: no later run inserts them
    again until `mass-ingest release`.

    \b
    Example: mass-ingest undo 3f2a9c --note 'inserted from the wrong share'
    """
    from mass_ingest.db.undo import plan_undo, undo_ingest
    from mass_ingest.deciding import resolve_ingest

    try:
        run_id = resolve_ingest(ref).ingest_id
        plan = plan_undo(run_id)
    except MassIngestError as exc:
        fail(exc, code=1)
    out.print(table(f"undo of ingest {run_id} ({plan.status}) would delete", ("table", "rows"),
                    ([name, str(n)] for name, n in plan.deleted.items()), right=("rows",)))
    if plan.restored_locations:
        out.print(f"and put {plan.restored_locations} moved session(s) back at their previous place")
    if plan.blockers:
        fail(MassIngestError(f"ingest {run_id} cannot be undone:\n- " + "\n- ".join(plan.blockers)), code=1)
    if not yes and not typer.confirm("delete these rows?", default=False):
        out.print("nothing deleted")
        raise typer.Exit(code=1)
    try:
        undo_ingest(run_id, getpass.getuser(), note)
    except MassIngestError as exc:
        fail(exc, code=1)
    out.print(f"ingest {run_id} undone; the ledger keeps the record")


todo_app = typer.Typer(invoke_without_command=True)  # its help is the docstring of todo() below
app.add_typer(todo_app, name="todo")


@todo_app.callback()
def todo(
    ctx: typer.Context,
    subject: Annotated[Optional[str], typer.Option(help="Only this subject.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="Only what this ingest inserted.")] = None,
    as_json: JsonOpt = False,
    show_all: Annotated[bool, typer.Option("--all", help="Print every item, not the first 50.")] = False,
) -> None:
    """What still needs manual entry, per session.

    Tasks and arenas, inferred starts, clustering details, probes, new subjects. Each item has an
    id; `mass-ingest todo done ID [--value V]` records that a person did it.

    \b
    Example: mass-ingest todo --subject 25843
    """
    if ctx.invoked_subcommand is not None:
        return
    from mass_ingest import long_lists
    from mass_ingest.db.followup import followup_frame

    try:
        frame = followup_frame(ingest_id=run_id, subject=subject)
    except MassIngestError as exc:
        fail(exc, code=1)
    if as_json:
        print_json(frame.to_dicts())
        return
    columns = ("id", "session_id", "need", "item", "detail")
    rows, more = long_lists.shown([(item_id[:8], *rest) for item_id, *rest
                                   in frame.select("item_id", *columns[1:]).iter_rows()], show_all)
    out.print(table(f"to enter by hand ({frame.height} items)", columns, rows))
    if more:
        out.print(more)
    out.print(long_lists.totals("items to enter by hand", frame["need"].to_list())
              + f", in {frame['session_id'].n_unique():,} sessions")
    if frame.height:
        out.print("mark one done: `mass-ingest todo done ID [--value VALUE] [--by NAME]`")


@todo_app.command("done")
def todo_done(
    item: Annotated[str, typer.Argument(help="The item's id from `mass-ingest todo` (its first characters will do).",
                                        show_default=False)],
    value: Annotated[str, typer.Option(help="What to enter: an arena's name; a clustering's 'CURATOR, "
                                       "YYYY-MM-DD HH:MM'; a probe's name; a subject's details; the session's "
                                       "tasks. Not for a task's timing or a start time, which are confirmed.")] = "",
    by: Annotated[Optional[str], typer.Option("--by", help="Who did it [default: your user name].")] = None,
    subject: Annotated[Optional[str], typer.Option(help="Look the id up among this subject's items only.")] = None,
) -> None:
    """Record that a person did a follow-up item.

    Who, when and the value are stored, and the value is put in the pipeline.

    \b
    Example: mass-ingest todo done 1a2b3c --value 'open field 1' --by ada
    """
    from mass_ingest.db.followup import complete_item

    try:
        row = complete_item(item, by or getpass.getuser(), value, subject=subject)
    except MassIngestError as exc:
        fail(exc)
    entered = f": {value}" if value else ""
    out.print(f"done: {row['session_id']} {row['need']} {row['item']}{entered} (by {by or getpass.getuser()})")


@app.command()
def sessions(
    subject: Annotated[Optional[str], typer.Option(help="Only this subject.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What the pipeline holds per session.

    Its recordings, outputs, tasks, projects and ingest.

    \b
    Example: mass-ingest sessions --subject 25843 --json
    """
    from mass_ingest.db.session_view import session_records

    try:
        records = session_records(subject)
    except MassIngestError as exc:
        fail(exc, code=1)
    if as_json:
        print_json(records)
        return
    # The ingest and projects are in --json: the table keeps room for the recordings.
    columns = ("session_id", "modality", "start", "recordings", "outputs", "tasks")
    rows = ([r["session_id"], r["modality"], _start(r),
             ", ".join(f"{x['system']} {x['name']}" for x in r["recordings"]),
             ", ".join(f"{o['kind']} {o['path'] or '.'}" + (" *" if o["preferred"] else "") for o in r["outputs"]),
             str(len(r["tasks"]))] for r in records)
    out.print(table(f"sessions in the pipeline ({len(records)}); * preferred output", columns, rows))


def _start(record: dict) -> str:
    """Where a session's start came from, and whether a person confirmed an inferred one."""
    if not record["start_inferred"]:
        return "from folder"
    confirmed = [e["done_by"] for e in record["entered"] if e["need"] == "start time"]
    return f"inferred, confirmed by {confirmed[0]}" if confirmed else "inferred, to confirm"


@subjects_app.command("import")
def subjects_import(
    csv_file: Annotated[Path, typer.Argument(help="CSV with header subject,probe_name,serial,probe_type,"
                                             "insertion_time; one row per implanted probe.")],
) -> None:
    """Make subjects and their probe implants known.

    The same file twice changes nothing.

    \b
    Example: mass-ingest subjects import subjects.csv
    """
    from mass_ingest.db.subjects import import_subjects_csv

    try:
        report = import_subjects_csv(csv_file)
    except MassIngestError as exc:
        fail(exc)
    out.print(f"{report.rows} rows: {report.subjects_added} subjects, {report.probes_added} probes, "
              f"{report.insertions_added} implants added")


@db_app.command("status")
def db_status() -> None:
    """Say which database is configured, and count what it holds.

    \b
    Example: mass-ingest db status
    """
    from mass_ingest import settings
    from mass_ingest.db import schema

    try:
        target = settings.database_target()
        prefix = schema.activate()
        held = schema.holdings()
    except MassIngestError as exc:
        fail(exc, code=1)
    where = (f"embedded PostgreSQL in {settings.home() / 'pgdata'}" if target.backend == "embedded"
             else f"{target.backend}://{target.user}@{target.host}:{target.port or ''}")
    out.print(f"database: {where}; schemas {prefix}_reference, {prefix}_acquisition, {prefix}_ingest")
    out.print(f"subjects {held['subjects']}, sessions {held['sessions']}, "
              f"ingest runs {held['ingest runs']}, quarantine rows (all time) {held['quarantine rows']}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL.

    It keeps running between commands so they start fast; the next command starts it again.

    \b
    Example: mass-ingest db stop
    """
    from mass_ingest import settings
    from mass_ingest.db.connection import stop_embedded

    if settings.database_target().backend != "embedded":
        fail(MassIngestError("MASS_INGEST_DATABASE names a server; only the embedded database is stopped here"))
    stop_embedded()
    out.print("embedded PostgreSQL stopped; the next command starts it again")
