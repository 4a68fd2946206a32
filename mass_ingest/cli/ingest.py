"""Commands that ingest, or say what an ingest would do: demo, run, import, discover, validate, rescan, deploy."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from mass_ingest.cli import render
from mass_ingest.cli.app import ExcludeOpt, JsonOpt, NoteOpt, ProfileArg, RootOpt, ShareOpt, app
from mass_ingest.cli.checkout import flows_module
from mass_ingest.cli.render import fail, print_json
from mass_ingest.errors import InputFileError, MassIngestError, ProfileError


def temporary_server_dies_with_us() -> None:
    """Without PREFECT_API_URL Prefect starts a temporary server: make it stop when this command ends,
    even by SIGKILL (mass_ingest/temporary_server.py)."""
    if not os.environ.get("PREFECT_API_URL"):
        from mass_ingest import temporary_server

        temporary_server.install()


def _waiting_elsewhere(pending, wait: bool, as_json: bool) -> None:
    """Another run of the ingest waits for the decision: say where and how to decide, or wait for it."""
    from mass_ingest.db.decisions import stored_decision

    claim = pending.claim
    render.console.print(f"[yellow]{pending}[/]", highlight=False)
    decision = None
    if wait:
        render.console.print(f"waiting for the decision on ingest {claim.ingest_id} (Ctrl-C stops waiting, not the "
                             "ingest)")
        while (decision := stored_decision(claim.ingest_id)) is None:
            time.sleep(2)
        render.console.print(f"ingest {claim.ingest_id}: {decision.describe()}; flow run {claim.flow_run_id} acts "
                             "on it", highlight=False)
    if as_json:
        print_json({"ingest_id": claim.ingest_id, "waiting_flow_run_id": claim.flow_run_id,
                    "waiting_flow_run_name": claim.flow_run_name,
                    "decision": decision.model_dump(mode="json") if decision else None})


def _selected_profile(profile: Path, shares: list[str] | None, root: Path | None):
    """The profile with only the --share shares and --root's root (:meth:`Profile.selected`)."""
    from mass_ingest.profile import load_profile

    return load_profile(profile).selected(shares, str(root) if root else None)


def _check_run_arguments(profile: Path, approve: bool, exclude: list[str] | None,
                         shares: list[str] | None = None, root: Path | None = None) -> None:
    """A person's mistakes, refused before any flow run exists: a missing or broken profile, an unknown
    --share, --root without the share it replaces, --exclude alone."""
    if exclude and not approve:
        raise typer.BadParameter("--exclude goes with --approve (sessions are left out by the one who approves); "
                                 "without --approve, leave them out in the approval form or with "
                                 "`mass-ingest approve ID --exclude ...`", param_hint="--exclude")
    _selected_profile(profile, shares, root)


def _run_flow(profile: Path, root: Path | None, approval, as_json: bool, title: str,
              input_file: Path | None = None, wait: bool = False, shares: list[str] | None = None) -> None:
    from mass_ingest.db.decisions import DecisionRefused
    from mass_ingest.db.followup import followup_counts, followup_frame
    from mass_ingest.deciding import DecisionPending
    from mass_ingest.session_patterns import PatternError
    from mass_ingest.db.runs import quarantined_rows
    from mass_ingest.prefect_api import stage_seconds

    from mass_ingest import progress

    temporary_server_dies_with_us()
    started = time.perf_counter()
    try:
        state = flows_module("ingest").mass_ingest_from_cli(
            profile_path=str(profile), shares=shares, root=str(root) if root else None, approval=approval,
            input_file=str(input_file.resolve()) if input_file else None, return_state=True)
    finally:
        progress.stop()  # the bars of discovery, quality and insertion stay on screen, complete
    counts = state.result(raise_on_failure=False)
    if isinstance(counts, DecisionPending):
        _waiting_elsewhere(counts, wait, as_json)
        return
    if isinstance(counts, BaseException):
        refused = (ProfileError, InputFileError, DecisionRefused, PatternError)
        fail(counts, code=2 if isinstance(counts, refused) else 1)
    elapsed = time.perf_counter() - started
    if as_json:
        print_json(counts.as_json())
        return
    try:
        stages: dict[str, float] | Exception = stage_seconds(state.state_details.flow_run_id)
    except Exception as exc:  # timings are a courtesy; never fail an ingest over them
        stages = exc
    listing = _listing_command(profile, input_file)
    render.ingest_outcome(counts, title, elapsed, stages)
    render.what_needs_a_person(quarantined_rows(counts.ingest_id),
                               followup_counts(followup_frame(ingest_id=counts.ingest_id)).to_dicts(), listing=listing)
    render.input_file_findings(counts.input_file_findings, listing)


def _listing_command(profile: Path, input_file: Path | None) -> str:
    """The command that lists every candidate of this run, with the paths as given (to paste as it is)."""
    import shlex

    return f"mass-ingest validate {shlex.quote(str(profile))}" + (
        f" --input-file {shlex.quote(str(input_file))}" if input_file else "")


@app.command()
def demo(
    base: Annotated[Optional[Path], typer.Option(help="Where to build the demo share "
                                                 "[default: $MASS_INGEST_HOME/demo]")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a small demo campaign and ingest it end to end.

    The approval is given on the command line. Run it twice: the second run finds every session
    already in the pipeline and inserts 0.

    \b
    Example: mass-ingest demo
    """
    from mass_ingest import settings
    from mass_ingest.db.runs import command_line_decision
    from mass_ingest.demo import make_demo_campaign
    from mass_ingest.db.subjects import import_subjects_csv

    console = render.console
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
        fail(exc)


@app.command()
def run(
    profile: ProfileArg,
    approve: Annotated[bool, typer.Option("--approve", help="Approve now, on the command line (recorded with "
                                          "your user name); without it the run pauses for approval in the "
                                          "Prefect UI or `mass-ingest approve`.")] = False,
    exclude: ExcludeOpt = None,
    note: NoteOpt = "",
    wait: Annotated[bool, typer.Option("--wait", help="When another run of this ingest already waits for the "
                                       "decision: wait until it is decided (default: say where, and exit).")] = False,
    share: ShareOpt = None,
    root: RootOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest every new session of a profile's shares.

    Access, discovery, dedup, quality, approval, insertion. Running it again after a crash resumes
    the unfinished ingest: finished stages are not redone and no session is inserted twice. An
    ingest already waiting for a decision is not asked again: the run says where it waits and how
    to decide.

    \b
    Example: mass-ingest run profiles/moser-ephys.yaml --share N --approve
    """
    from mass_ingest.db.runs import command_line_decision

    try:
        _check_run_arguments(profile, approve, exclude, share, root)
        approval = command_line_decision(exclude, note) if approve else None
        _run_flow(profile, root, approval, as_json, f"ingest of {profile.name}", wait=wait, shares=share)
    except MassIngestError as exc:
        fail(exc)


@app.command("import")
def import_file(
    input_file: Annotated[Path, typer.Argument(help="A lab's per-subject input file (YAML or JSON) with subject "
                                               "and sessions (location, experimenter, tasks, probe_association, "
                                               "project, clustering).", show_default=False)],
    profile: Annotated[Path, typer.Option("--profile", help="The profile whose shares the locations are on "
                                          "(its roots and aliases, time zone, expectations).")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve now, on the command line; without it the "
                                          "run pauses for approval like `run`.")] = False,
    exclude: ExcludeOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Ingest the sessions a lab's input file lists.

    They go through the same dedup, expectations and approval as `mass-ingest run`. Each listed
    folder is read from the share as discovery reads it; the file's subject, probe serials and
    clustering are checked against it.

    \b
    Example: mass-ingest import 25843.yaml --profile profiles/moser-ephys.yaml
    """
    from mass_ingest.db.runs import command_line_decision
    from mass_ingest.input_files import read_input_file

    try:
        read_input_file(input_file)  # a bad file stops here, before any run starts
        _check_run_arguments(profile, approve, exclude)
        approval = command_line_decision(exclude, note) if approve else None
        _run_flow(profile, None, approval, as_json, f"import of {input_file.name}", input_file=input_file)
    except MassIngestError as exc:
        fail(exc)


@app.command()
def discover(
    profile: ProfileArg,
    share: ShareOpt = None,
    root: RootOpt = None,
    as_json: JsonOpt = False,
    show_all: Annotated[bool, typer.Option("--all", help="Print every session, not the first 50.")] = False,
) -> None:
    """List the candidate sessions on a profile's shares.

    Only the shares are read: the database is not touched.

    \b
    Example: mass-ingest discover profiles/moser-ephys.yaml --share N --all
    """
    from mass_ingest import progress

    def shown(name: str, done: int, total: int | None) -> None:
        progress.report(f"discover-{name}", done, total, f"share {name}", artifact=False,
                        unit="folders listed" if total is None else "session folders read")

    try:
        prof = _selected_profile(profile, share, root)
        head, frames = flows_module("validate").discovery_report(prof, progress=shown)
    except MassIngestError as exc:
        fail(exc)
    finally:
        progress.stop()
    if as_json:  # streamed from the frames by polars: no model or dict per candidate
        from mass_ingest.frame_json import write_document

        write_document(sys.stdout, head, "candidates", frames)
    else:
        render.discovered(prof.name, {**head, "candidates": [row for f in frames for row in f.to_dicts()]}, show_all)
    sys.stdout.flush()
    # All is shown; the exit's collection need not walk every object the imports and the walk made (~0.1 s of
    # a 3 s command on a 1,000,000-file share). Nothing of discovery waits for a finaliser.
    gc.freeze()


@app.command()
def validate(
    profile: ProfileArg,
    share: ShareOpt = None,
    root: RootOpt = None,
    input_file: Annotated[Optional[Path], typer.Option(
        "--input-file", help="Judge the sessions a lab's input file lists, as `mass-ingest import` would, "
        "instead of scanning the shares.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Say what an ingest would do, without inserting or pausing.

    Access, discovery, dedup and quality, as `mass-ingest run` does them: prints what would be
    inserted, what is skipped as a duplicate or copy, and what would be quarantined and why. With
    --json: one object per candidate with its decision and reasons. With --input-file: the same for an
    import of that file.

    \b
    Example: mass-ingest validate profiles/moser-ephys.yaml --share N --json
    """
    from mass_ingest.approval_summary import decision_frame
    from mass_ingest.candidates import status_counts

    try:
        prof = _selected_profile(profile, share, root)
        frame, access, share_findings = flows_module("validate").preview_ingest(
            prof, str(input_file) if input_file else None)
    except MassIngestError as exc:
        fail(exc)
    decisions = decision_frame(frame)
    if as_json:
        from mass_ingest.frame_json import write_document

        write_document(sys.stdout, {"profile": prof.name, "shares": [a.model_dump(mode="json") for a in access],
                                    "share_findings": [f.model_dump(mode="json") for f in share_findings]},
                       "candidates", [decisions])
        return
    rows = decisions.to_dicts()
    render.validated(prof.name, rows, status_counts(frame), access)
    if input_file:
        from mass_ingest.candidates import frame_findings

        render.input_file_findings(frame_findings(frame, "IMPORT."), _listing_command(profile, input_file) + " --json",
                                   shown=frame.height or 1)


@app.command()
def rescan(
    profile: ProfileArg,
    share: ShareOpt = None,
    busy_wait: Annotated[float, typer.Option(help="Seconds to wait for a share another re-scan holds.")] = 30,
    root: RootOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-scan now what the nightly `rescan` deployment scans.

    New sessions and late data since each share's last successful re-scan, one re-scan per share
    at a time. It pauses for approval like `mass-ingest run`, unless the profile sets
    approval.auto_approve_clean.

    \b
    Example: mass-ingest rescan profiles/moser-ephys.yaml --share N
    """
    try:
        _selected_profile(profile, share, root)  # refused here, before a flow run exists
        rescan_flow = flows_module("rescan").rescan
    except MassIngestError as exc:
        fail(exc)
    temporary_server_dies_with_us()
    state = rescan_flow(profile_path=str(profile), shares=share, busy_wait_s=busy_wait,
                        root=str(root) if root else None, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        fail(outcome, code=2 if isinstance(outcome, ProfileError) else 1)
    if as_json:
        print_json(outcome.as_json())
        return
    render.rescanned(outcome)


@app.command()
def deploy(
    name: Annotated[Optional[list[str]], typer.Option("--name", "-n", metavar="NAME", help="Only this deployment "
                                                      "(repeatable); default: every one of prefect.yaml.")] = None,
) -> None:
    """Deploy prefect.yaml to the Prefect server.

    Run it in the checkout the workers run from. This is `prefect deploy --all`, with a bug of
    Prefect 3.8.8's command worked around (it stops after the first deployment against a server of
    the same version).

    \b
    Example: mass-ingest deploy --name rescan
    """
    from mass_ingest.deploy import prefect_deploy

    args = [a for n in name for a in ("--name", n)] if name else ["--all"]
    code = prefect_deploy(args)
    if code:
        raise typer.Exit(code=code)
