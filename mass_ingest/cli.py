"""The ``mass-ingest`` command."""

from __future__ import annotations

import os

# Before Prefect is imported: no phoning home (labs' workers often have no internet).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A first start on a fresh PREFECT_HOME runs database migrations, which can exceed the 20 s default.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import getpass  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from typing import Annotated, Optional  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from mass_ingest.errors import InputFileError, MassIngestError, ProfileError  # noqa: E402

warnings.filterwarnings("ignore", message="No datajoint.json found")
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

app = typer.Typer(
    help="Bring a whole recording campaign from network shares into the lab's DataJoint pipeline.\n\n"
    "Start with `mass-ingest demo`, which builds a small demo share and ingests it into the embedded "
    "database. For a real campaign: write a profile (profiles/*.yaml), import subjects "
    "(`mass-ingest subjects import`), look at what `mass-ingest discover` finds, then `mass-ingest run`.\n\n"
    "Database: embedded PostgreSQL by default; set MASS_INGEST_DATABASE=postgresql://user@host/db or "
    "mysql://user@host:3306 (password in MASS_INGEST_DATABASE_PASSWORD) for the lab's server.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
subjects_app = typer.Typer(help="Subjects and their probe implants.", no_args_is_help=True)
app.add_typer(subjects_app, name="subjects")
db_app = typer.Typer(help="The database: which one, and the embedded server's state.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)
# Piped or logged output gets room for whole column names instead of rich's 80-column guess.
out = Console() if sys.stdout.isatty() else Console(width=120)

ProfileArg = Annotated[Path, typer.Argument(help="Profile YAML, e.g. profiles/moser-ephys.yaml.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
RootOpt = Annotated[Optional[Path], typer.Option("--root", help="Replace the root of the profile's share "
                                                 "(its only share, or the one named by --share).")]


def _print_json(data: object) -> None:
    # Plain print: rich would wrap long strings at the console width, and machines read this.
    print(json.dumps(data, indent=2, default=str))


def _fail(exc: Exception, code: int = 2) -> None:
    """Exit 2 for bad input (profile, CSV, arguments), 1 for a run that did not complete."""
    console.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(code=code)


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[str] = ()) -> Table:
    """A left-titled table of text cells; the ``right`` columns (numbers) right-justified."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*row)
    return table


def _counts_table(counts, title: str) -> Table:
    columns = ("discovered", "duplicates", "quarantined", "pending", "excluded", "held", "left out", "inserted")
    return _table(title, columns, [[str(getattr(counts, c.replace(" ", "_"))) for c in columns]], right=columns)


def _stage_times(flow_run_id) -> dict[str, float]:
    """Seconds spent in each stage of a flow run, read back from Prefect."""
    from mass_ingest.prefect_api import task_runs_of

    times: dict[str, float] = {}
    for run in task_runs_of(flow_run_id):
        name = run.name.split("-")[0] if run.name.startswith(("insert", "discover")) else run.name.rsplit("-", 1)[0]
        times[name] = times.get(name, 0.0) + (run.total_run_time.total_seconds() if run.total_run_time else 0.0)
    return times


def _waiting_elsewhere(pending, wait: bool, as_json: bool) -> None:
    """Another run of the ingest waits for the decision: say where and how to decide, or wait for it."""
    from mass_ingest.db.decisions import stored_decision

    claim = pending.claim
    console.print(f"[yellow]{pending}[/]", highlight=False)
    decision = None
    if wait:
        console.print(f"waiting for the decision on ingest {claim.ingest_id} (Ctrl-C stops waiting, not the ingest)")
        while (decision := stored_decision(claim.ingest_id)) is None:
            time.sleep(2)
        console.print(f"ingest {claim.ingest_id}: {decision.describe()}; flow run {claim.flow_run_id} acts on it")
    if as_json:
        _print_json({"ingest_id": claim.ingest_id, "waiting_flow_run_id": claim.flow_run_id,
                     "waiting_flow_run_name": claim.flow_run_name,
                     "decision": decision.model_dump(mode="json") if decision else None})


def _check_run_arguments(profile: Path, approve: bool, exclude: list[str] | None) -> None:
    """A person's mistakes, refused before any flow run exists: a missing or broken profile, --exclude alone."""
    from mass_ingest.profile import load_profile

    if exclude and not approve:
        raise typer.BadParameter("--exclude goes with --approve (sessions are left out by the one who approves); "
                                 "without --approve, leave them out in the approval form or with "
                                 "`mass-ingest approve ID --exclude ...`", param_hint="--exclude")
    load_profile(profile)


def _run_flow(profile: Path, root: Path | None, approval, as_json: bool, title: str,
              input_file: Path | None = None, wait: bool = False) -> None:
    from flows.mass_ingest import mass_ingest_from_cli as mass_ingest

    from mass_ingest.db.decisions import DecisionRefused
    from mass_ingest.session_patterns import PatternError
    from mass_ingest.deciding import DecisionPending

    started = time.perf_counter()
    state = mass_ingest(profile_path=str(profile), root=str(root) if root else None, approval=approval,
                        input_file=str(input_file.resolve()) if input_file else None, return_state=True)
    counts = state.result(raise_on_failure=False)
    if isinstance(counts, DecisionPending):
        _waiting_elsewhere(counts, wait, as_json)
        return
    if isinstance(counts, BaseException):
        refused = (ProfileError, InputFileError, DecisionRefused, PatternError)
        _fail(counts, code=2 if isinstance(counts, refused) else 1)
    elapsed = time.perf_counter() - started
    if as_json:
        _print_json(counts.as_json())
        return
    out.print(_counts_table(counts, title))
    out.print(f"ingest {counts.ingest_id}: {counts.decision}; {elapsed:.1f} s in all")
    try:
        stages = _stage_times(state.state_details.flow_run_id)
        out.print("seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    except Exception as exc:  # timings are a courtesy; never fail an ingest over them
        console.print(f"(stage timings unavailable: {exc})")
    if counts.unreadable_shares:
        out.print(f"[yellow]shares not scanned this run: {', '.join(counts.unreadable_shares)}[/]")
    _print_what_needs_a_person(counts.ingest_id)


def _print_what_needs_a_person(ingest_id: str, shown: int = 10) -> None:
    """After a run: why sessions were quarantined, and what the inserted ones still need entered by hand."""
    from mass_ingest.db import schema
    from tasks.followup import followup_counts, followup_frame

    quarantined = (schema.Quarantine & {"ingest_id": ingest_id}).to_dicts(order_by="session_id")
    for row in quarantined[:shown]:
        out.print(f"[yellow]quarantined[/] {row['share']}:{row['rel_path']}: {'; '.join(row['reasons'])}")
    if len(quarantined) > shown:
        out.print(f"... and {len(quarantined) - shown} more quarantined (`mass-ingest validate PROFILE` lists all)")
    todo = followup_frame(ingest_id=ingest_id)
    if not todo.is_empty():
        needs = ", ".join(f"{r['need']} {r['len']} ({r['sessions']} sessions)"
                          for r in followup_counts(todo).iter_rows(named=True))
        out.print(f"still needs a person: {needs}; `mass-ingest todo` lists them")


@app.command()
def demo(
    base: Annotated[Optional[Path], typer.Option(help="Where to build the demo share "
                                                 "[default: $MASS_INGEST_HOME/demo]")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a small demo campaign and ingest it end to end (approval given on the command line).

    Run it twice: the second run finds every session already in the pipeline and inserts 0.
    """
    from mass_ingest import settings
    from mass_ingest.demo import make_demo_campaign
    from mass_ingest.subjects import import_subjects_csv
    from tasks.approve import command_line_decision

    try:
        base = base or settings.home() / "demo"
        with console.status("building the demo share"):
            campaign = make_demo_campaign(base)
        console.print(f"demo shares: {', '.join(f'{k}={v}' for k, v in campaign.shares.items())}")
        with console.status("starting the database and importing subjects"):
            report = import_subjects_csv(campaign.subjects_csv)
        console.print(f"subjects: {report.subjects_added} added, {report.rows} rows read from {campaign.subjects_csv}")
        _run_flow(campaign.profile_path, None, command_line_decision(note="demo"), as_json, "demo ingest")
    except MassIngestError as exc:
        _fail(exc)


@app.command()
def run(
    profile: ProfileArg,
    approve: Annotated[bool, typer.Option("--approve", help="Approve now, on the command line (recorded with "
                                          "your user name); without it the run pauses for approval in the "
                                          "Prefect UI or `mass-ingest approve`.")] = False,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="With --approve: leave out sessions "
                                                         "by id or glob (repeatable).")] = None,
    note: Annotated[str, typer.Option(help="With --approve: a note stored with the decision.")] = "",
    wait: Annotated[bool, typer.Option("--wait", help="When another run of this ingest already waits for the "
                                       "decision: wait until it is decided (default: say where, and exit).")] = False,
    root: RootOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest every new session of a profile: access, discovery, dedup, quality, approval, insertion.

    Running it again after a crash resumes the unfinished ingest: finished stages are not redone
    and no session is inserted twice. An ingest already waiting for a decision is not asked again:
    the run says where it waits and how to decide.
    """
    from tasks.approve import command_line_decision

    try:
        _check_run_arguments(profile, approve, exclude)
        approval = command_line_decision(exclude, note) if approve else None
        _run_flow(profile, root, approval, as_json, f"ingest of {profile.name}", wait=wait)
    except MassIngestError as exc:
        _fail(exc)


@app.command("import")
def import_file(
    input_file: Annotated[Path, typer.Argument(help="A lab's per-subject input file (YAML or JSON) with subject "
                                               "and sessions (location, experimenter, tasks, probe_association, "
                                               "project, clustering).", show_default=False)],
    profile: Annotated[Path, typer.Option("--profile", help="The profile whose shares the locations are on "
                                          "(its roots and aliases, time zone, expectations).")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve now, on the command line; without it the "
                                          "run pauses for approval like `run`.")] = False,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="With --approve: leave out sessions "
                                                         "by id or glob (repeatable).")] = None,
    note: Annotated[str, typer.Option(help="With --approve: a note stored with the decision.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Ingest the sessions a lab's input file lists, through the same dedup, expectations and approval.

    Each listed folder is read from the share as discovery reads it; the file's subject, probe
    serials and clustering are checked against it.
    """
    from mass_ingest.input_files import read_input_file
    from tasks.approve import command_line_decision

    try:
        read_input_file(input_file)  # a bad file stops here, before any run starts
        _check_run_arguments(profile, approve, exclude)
        approval = command_line_decision(exclude, note) if approve else None
        _run_flow(profile, None, approval, as_json, f"import of {input_file.name}", input_file=input_file)
    except MassIngestError as exc:
        _fail(exc)


@app.command()
def discover(
    profile: ProfileArg,
    root: RootOpt = None,
    share: Annotated[Optional[str], typer.Option(help="Only this share (by name).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the candidate sessions on the profile's shares, without touching the database."""
    from mass_ingest.candidates import frame_to_candidates
    from mass_ingest.profile import load_profile
    from tasks.access import check_access
    from tasks.discover import discover_share

    try:
        prof = load_profile(profile)
        if root:
            prof = prof.with_root(str(root), share)
    except MassIngestError as exc:
        _fail(exc)
    result = {"profile": prof.name, "shares": [], "candidates": []}
    for access in check_access(prof):
        if share and access.share != share:
            continue
        entry = {"share": access.share, "root": access.root, "readable": access.readable, "findings": []}
        if access.finding:
            entry["findings"].append(access.finding.model_dump(mode="json"))
        if access.readable:
            started = time.perf_counter()
            frame, findings = discover_share(prof, access.share)
            entry["seconds"] = round(time.perf_counter() - started, 3)
            entry["findings"] += [f.model_dump(mode="json") for f in findings]
            for candidate in frame_to_candidates(frame):
                result["candidates"].append({"session_id": candidate.session_id,
                                             **candidate.model_dump(mode="json")})
        result["shares"].append(entry)
    if as_json:
        _print_json(result)
        return
    out.print(_table(f"sessions found by profile {prof.name}",
                     ("session", "share", "folder", "probes", "findings", "excluded"),
                     ([c["session_id"], c["share"], c["rel_path"], str(len(c["probes"])),
                       "\n".join(f"{f['code']}" for f in c["findings"]), c["excluded_by"] or ""]
                      for c in result["candidates"])))
    for entry in result["shares"]:
        for f in entry["findings"]:
            out.print(f"{entry['share']}: {f['severity']} {f['code']} {f['path']}: {f['message']}")


@app.command()
def validate(
    profile: ProfileArg,
    root: RootOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Say what an ingest would do, without inserting or pausing: access, discovery, dedup, quality.

    Prints what would be inserted, what is skipped as a duplicate or copy, and what would be
    quarantined and why. With --json: one object per candidate with its decision and reasons.
    """
    from mass_ingest.candidates import Status, status_counts
    from mass_ingest.preview import decision_rows, preview_ingest
    from mass_ingest.profile import load_profile

    try:
        prof = load_profile(profile)
        if root:
            prof = prof.with_root(str(root))
        frame, access, share_findings = preview_ingest(prof)
    except MassIngestError as exc:
        _fail(exc)
    rows = decision_rows(frame)
    if as_json:
        _print_json({
            "profile": prof.name,
            "shares": [a.model_dump(mode="json") for a in access],
            "share_findings": [f.model_dump(mode="json") for f in share_findings],
            "candidates": rows})
        return
    out.print(_table(f"what an ingest of {prof.name} would do", ("session", "share", "decision", "why"),
                     ([row["session_id"], row["share"], "insert" if row["status"] == Status.READY else row["status"],
                       "\n".join(row["reasons"])] for row in rows)))
    counts = status_counts(frame)
    out.print(f"would insert {counts[Status.READY]}; {counts[Status.DUPLICATE]} already in the pipeline, "
              f"{counts[Status.COPY]} copies, {counts[Status.MOVED]} moved since ingested, "
              f"{counts[Status.UPDATE]} with new data since ingested, {counts[Status.QUARANTINED]} quarantined, "
              f"{counts[Status.PENDING]} pending (still arriving; looked at again next run), "
              f"{counts[Status.EXCLUDED]} excluded, {counts[Status.HELD]} held by a person (`mass-ingest release`)")
    for a in access:
        if a.finding:
            out.print(f"[yellow]{a.finding}[/]")


@app.command()
def rescan(
    profile: ProfileArg,
    share: Annotated[Optional[list[str]], typer.Option("--share", help="Only this share (repeatable).")] = None,
    busy_wait: Annotated[float, typer.Option(help="Seconds to wait for a share another re-scan holds.")] = 30,
    root: RootOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-scan now what the nightly `rescan` deployment scans: new sessions and late data since each
    share's last successful re-scan, one re-scan per share at a time.

    It pauses for approval like `run`, unless the profile sets approval.auto_approve_clean.
    """
    from flows.rescan import rescan as rescan_flow

    state = rescan_flow(profile_path=str(profile), shares=share, busy_wait_s=busy_wait,
                        root=str(root) if root else None, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        _fail(outcome, code=2 if isinstance(outcome, ProfileError) else 1)
    if as_json:
        _print_json(outcome.as_json())
        return
    if outcome.counts:
        out.print(f"ingest {outcome.counts['ingest_id']}: {outcome.counts['decision']}; "
                  f"inserted {outcome.counts['inserted']}, updates {outcome.counts['updates']}, "
                  f"pending {outcome.counts['pending']}, quarantined {outcome.counts['quarantined']}")
    for name, mark in outcome.watermarks.items():
        out.print(f"share {name}: last successful re-scan {mark.scanned_at or 'never'}"
                  + (f", {len(mark.pending)} folder(s) still arriving" if mark.pending else ""))
    if outcome.busy_shares:
        out.print(f"[yellow]being re-scanned by another run, left to it: {', '.join(outcome.busy_shares)}[/]")


@app.command()
def deploy(
    name: Annotated[Optional[list[str]], typer.Option("--name", "-n", help="Only this deployment (repeatable); "
                                                      "default: every deployment of prefect.yaml.")] = None,
) -> None:
    """Deploy prefect.yaml to the Prefect server (run it in the checkout the workers run from).

    This is `prefect deploy --all`, with a bug of Prefect 3.8.8's command worked around (it stops
    after the first deployment against a server of the same version).
    """
    from mass_ingest.deploy import prefect_deploy

    args = [a for n in name for a in ("--name", n)] if name else ["--all"]
    code = prefect_deploy(args)
    if code:
        raise typer.Exit(code=code)


@subjects_app.command("import")
def subjects_import(
    csv_file: Annotated[Path, typer.Argument(help="CSV with header subject,probe_name,serial,probe_type,"
                                             "insertion_time; one row per implanted probe.")],
) -> None:
    """Make subjects and their probe implants known (the same file twice changes nothing)."""
    from mass_ingest.subjects import import_subjects_csv

    try:
        report = import_subjects_csv(csv_file)
    except MassIngestError as exc:
        _fail(exc)
    out.print(f"{report.rows} rows: {report.subjects_added} subjects, {report.probes_added} probes, "
              f"{report.insertions_added} implants added")


@db_app.command("status")
def db_status() -> None:
    """Say which database is configured, and count what the pipeline holds."""
    from mass_ingest import settings
    from mass_ingest.db import schema

    try:
        target = settings.database_target()
        prefix = schema.activate()
    except MassIngestError as exc:
        _fail(exc, code=1)
    where = (f"embedded PostgreSQL in {settings.home() / 'pgdata'}" if target.backend == "embedded"
             else f"{target.backend}://{target.user}@{target.host}:{target.port or ''}")
    out.print(f"database: {where}; schemas {prefix}_reference, {prefix}_acquisition, {prefix}_ingest")
    out.print(f"subjects {len(schema.Subject())}, sessions {len(schema.Session())}, "
              f"ingest runs {len(schema.IngestRun())}, quarantined {len(schema.Quarantine())}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (it keeps running between commands so they start fast)."""
    from mass_ingest import settings
    from mass_ingest.db.connection import stop_embedded

    if settings.database_target().backend != "embedded":
        _fail(MassIngestError("MASS_INGEST_DATABASE names a server; only the embedded database is stopped here"))
    stop_embedded()
    out.print("embedded PostgreSQL stopped; the next command starts it again")


IdArg = Annotated[str, typer.Argument(help="The ingest: its id, the id or name of its flow run, or a unique prefix "
                                      "of one (`mass-ingest runs` and the paused run's log print them).",
                                      show_default=False)]


def _decide(ref: str, approve: bool, exclude: list[str] | None, approver: str | None, note: str) -> None:
    from mass_ingest.deciding import decide_from_terminal

    try:
        done = decide_from_terminal(ref, approve, exclude or [], approver or getpass.getuser(), note)
    except MassIngestError as exc:
        _fail(exc)
    out.print(f"ingest {done.target.ingest_id} {done.decision.describe()}", highlight=False)
    if done.resumed:
        out.print(f"flow run {done.waiting.flow_run_id} resumed; it {'inserts' if done.decision.approved else 'ends'} "
                  "now", highlight=False)
    else:
        console.print(f"[yellow]{done.problem}[/]", highlight=False)


@app.command()
def approve(
    ref: IdArg,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Leave out sessions by id, glob or folder "
                                                         "path (repeatable); they are held until released.")] = None,
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Stored with the decision.")] = "",
) -> None:
    """Approve an ingest waiting for a decision (the first decision on an ingest is final)."""
    _decide(ref, True, exclude, approver, note)


@app.command()
def reject(
    ref: IdArg,
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
) -> None:
    """Reject an ingest waiting for a decision: it inserts nothing, and its sessions are held until released."""
    _decide(ref, False, None, approver, note)


@app.command()
def release(
    patterns: Annotated[list[str], typer.Argument(help="Held sessions by id, glob or folder path.", show_default=False)],
    note: Annotated[str, typer.Option(help="Why they may go in now (required).")] = "",
    by: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
) -> None:
    """Return held sessions (left out, rejected or undone) to the queue: the next run offers them again."""
    from mass_ingest.db.held import release_sessions

    try:
        released = release_sessions(patterns, by or getpass.getuser(), note)
    except MassIngestError as exc:
        _fail(exc)
    for row in released.iter_rows(named=True):
        out.print(f"released {row['session_id']} ({row['share']}:{row['rel_path']}), held since "
                  f"{row['held_at']:%Y-%m-%d} ({row['reason']} by {row['held_by']})", highlight=False)
    out.print(f"{released.height} session(s) released; the next run offers them again")


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List ingest runs: whole ids, profile, status, who approved, sessions inserted, and which wait for a decision."""
    from mass_ingest.db.decisions import waiting_ingests
    from mass_ingest.db.runs import list_runs

    try:
        rows = list_runs(limit)
        waiting = waiting_ingests()
    except MassIngestError as exc:
        _fail(exc, code=1)
    rows = [{**r, "waiting_flow_run": waiting[r["ingest_id"]].flow_run_id if r["ingest_id"] in waiting else ""}
            for r in rows]
    if as_json:
        _print_json(rows)
        return
    columns = ("ingest_id", "profile_name", "status", "started_at", "approver", "sessions", "waiting_flow_run")
    table = _table("ingest runs, newest first", columns,
                   ([str(row[c] if row[c] is not None else "") for c in columns] for row in rows))
    for column in table.columns:  # ids are copied whole, never cut
        if column.header in ("ingest_id", "waiting_flow_run"):
            column.no_wrap, column.min_width = True, 36
    out.print(table)
    for ingest_id, claim in waiting.items():
        out.print(f"ingest {ingest_id} waits for a decision: mass-ingest approve {claim.flow_run_id} "
                  f"(or reject {claim.flow_run_id} --note 'why')", highlight=False)


@app.command()
def undo(
    ref: IdArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    note: Annotated[str, typer.Option(help="Why; stored with the sessions it holds.")] = "",
) -> None:
    """Delete what an ingest inserted (listing it first), unless something already depends on it.

    Its sessions are held: no later run inserts them again until `mass-ingest release`.
    """
    from mass_ingest.db.undo import plan_undo, undo_ingest
    from mass_ingest.deciding import resolve_ingest

    try:
        run_id = resolve_ingest(ref).ingest_id
        plan = plan_undo(run_id)
    except MassIngestError as exc:
        _fail(exc, code=1)
    out.print(_table(f"undo of ingest {run_id} ({plan.status}) would delete", ("table", "rows"),
                     ([name, str(n)] for name, n in plan.deleted.items()), right=("rows",)))
    if plan.restored_locations:
        out.print(f"and put {plan.restored_locations} moved session(s) back at their previous place")
    if plan.blockers:
        _fail(MassIngestError(f"ingest {run_id} cannot be undone:\n- " + "\n- ".join(plan.blockers)), code=1)
    if not yes and not typer.confirm("delete these rows?", default=False):
        out.print("nothing deleted")
        raise typer.Exit(code=1)
    try:
        undo_ingest(run_id, getpass.getuser(), note)
    except MassIngestError as exc:
        _fail(exc, code=1)
    out.print(f"ingest {run_id} undone; the ledger keeps the record")


@app.command()
def todo(
    subject: Annotated[Optional[str], typer.Option(help="Only this subject.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="Only what this ingest inserted.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What still needs manual entry per session: tasks to confirm, arenas, clustering details, probes."""
    from tasks.followup import followup_frame

    try:
        frame = followup_frame(ingest_id=run_id, subject=subject)
    except MassIngestError as exc:
        _fail(exc, code=1)
    if as_json:
        _print_json(frame.to_dicts())
        return
    columns = ("session_id", "need", "item", "detail")
    out.print(_table(f"to enter by hand ({frame.height} items)", columns, frame.select(columns).iter_rows()))


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":
    sys.exit(main())
