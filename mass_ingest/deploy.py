"""``mass-ingest deploy``: Prefect's own ``prefect deploy`` of prefect.yaml, with one Prefect 3.8.8 bug fixed.

After creating a deployment, ``prefect deploy`` asks the server for the work pool's online
workers (to print a hint) and sends ``"limit": null``; the server of the same version, on
FastAPI 0.154, answers 422, so the command fails after its first deployment and never reaches
the next (``--all``). Everything else is Prefect's: the same YAML, steps, schedules and checks.
"""

from __future__ import annotations

import functools
import sys

_LIMIT = 200


def _with_explicit_page(method):
    @functools.wraps(method)
    def call(self, work_pool_name, worker_filter=None, offset=None, limit=None):
        return method(self, work_pool_name, worker_filter, offset or 0, limit or _LIMIT)
    return call


def patch_worker_listing() -> None:
    """Make the Prefect client always send an offset and a limit when it lists a pool's workers."""
    from prefect.client.orchestration._work_pools.client import WorkPoolAsyncClient, WorkPoolClient

    for cls in (WorkPoolAsyncClient, WorkPoolClient):
        if not getattr(cls.read_workers_for_work_pool, "_mass_ingest_patched", False):
            cls.read_workers_for_work_pool = _with_explicit_page(cls.read_workers_for_work_pool)
            cls.read_workers_for_work_pool._mass_ingest_patched = True


def prefect_deploy(args: list[str]) -> int:
    """Run ``prefect --no-prompt deploy ARGS`` in this process (from the current directory); its exit code."""
    from prefect.cli import app

    patch_worker_listing()
    argv, sys.argv = sys.argv, ["prefect", "--no-prompt", "deploy", *args]  # Prefect's app reads sys.argv
    try:
        app()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = argv
    return 0


if __name__ == "__main__":  # python -m mass_ingest.deploy --all
    sys.exit(prefect_deploy(sys.argv[1:]))
