"""The ``mass-ingest`` command, one module per audience.

- :mod:`.environment`: what must be set before Prefect is imported (imported first, here).
- :mod:`.app`: the Typer apps and the options several commands share.
- :mod:`.ingest`: the ingest itself (demo, run, import, discover, validate, rescan, deploy).
- :mod:`.decisions`: a person's decision on a paused run (approve, reject).
- :mod:`.ledger`: what the pipeline holds and did (runs, undo, todo, subjects, db).
- :mod:`.status`: what waits for a person now, and one session folder's history (status, history).
- :mod:`.render`: every table, JSON print and error message the commands show.
- :mod:`.checkout`: the flows and stages, imported from the repository checkout (not installed).

Commands read and write the database only through :mod:`mass_ingest.db`.
"""

from mass_ingest.cli import environment  # noqa: F401  first: before anything imports Prefect
from mass_ingest.cli.app import app
# Each registers its commands on `app`; their order is the order of `mass-ingest --help`.
from mass_ingest.cli import ingest  # noqa: F401,E402,I001
from mass_ingest.cli import decisions  # noqa: F401,E402
from mass_ingest.cli import ledger  # noqa: F401,E402
from mass_ingest.cli import status  # noqa: F401,E402

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - entry point
    from mass_ingest import temporary_server

    temporary_server.stop_leftover_servers()  # a killed command's temporary Prefect server, if one is left
    app(prog_name="mass-ingest")  # `python -m mass_ingest.cli` too: the usage lines show what to type
