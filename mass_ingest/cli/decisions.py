"""A person's decision on a run paused for approval: approve, reject."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer

from mass_ingest.cli.app import app
from mass_ingest.cli.render import fail, out
from mass_ingest.errors import MassIngestError


def _resume(flow_run_id: str, approve: bool, exclude: list[str] | None, approver: str | None, note: str) -> None:
    from uuid import UUID

    from prefect.flow_runs import resume_flow_run

    run_input = {"approve": approve, "exclude": exclude or [], "approver": approver or getpass.getuser(),
                 "note": note, "via": "cli"}
    try:
        resume_flow_run(UUID(flow_run_id), run_input=run_input)
    except ValueError:
        fail(MassIngestError(f"'{flow_run_id}' is not a flow-run id; copy it from the Prefect UI or the run's log"))
    except Exception as exc:
        fail(MassIngestError(f"flow run {flow_run_id} could not be resumed ({exc}); is it paused?"))
    out.print(f"flow run {flow_run_id} {'approved' if approve else 'rejected'} by {run_input['approver']}")


@app.command()
def approve(
    flow_run_id: Annotated[str, typer.Argument(help="The paused flow run's id (shown in its log and the UI).")],
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Leave out sessions by id or glob.")] = None,
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Stored with the decision.")] = "",
) -> None:
    """Approve a run paused for approval."""
    _resume(flow_run_id, True, exclude, approver, note)


@app.command()
def reject(
    flow_run_id: Annotated[str, typer.Argument(help="The paused flow run's id.")],
    approver: Annotated[Optional[str], typer.Option(help="Your name [default: your user name].")] = None,
    note: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
) -> None:
    """Reject a run paused for approval: it inserts nothing."""
    _resume(flow_run_id, False, None, approver, note)
