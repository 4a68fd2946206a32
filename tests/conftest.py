"""One embedded database and one Prefect server for the whole test session.

Everything the tool writes goes below one temporary MASS_INGEST_HOME / PREFECT_HOME, set
here before Prefect is imported, so the tests never touch a user's ~/.prefect or database.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="mass-ingest-tests-"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PREFECT_PORT = _free_port()
os.environ.update({
    "MASS_INGEST_HOME": str(_SESSION_DIR / "home"),
    "MASS_INGEST_SCHEMA_PREFIX": f"mi_test_{os.getpid()}",
    "PREFECT_HOME": str(_SESSION_DIR / "prefect"),
    "PREFECT_API_URL": f"http://127.0.0.1:{_PREFECT_PORT}/api",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
})
# The default run is on the embedded database. `make test` with MASS_INGEST_TEST_BACKENDS=postgresql,mysql
# runs the `backends` tests once more per server, naming it in MASS_INGEST_TEST_BACKEND.
TEST_SERVERS = {"postgresql": "postgresql://postgres@127.0.0.1:5432/postgres", "mysql": "mysql://root@127.0.0.1:3306"}
_server = os.environ.get("MASS_INGEST_TEST_BACKEND", "")
if _server:
    os.environ["MASS_INGEST_DATABASE"] = os.environ.get(f"MASS_INGEST_TEST_{_server.upper()}_URL",
                                                        TEST_SERVERS.get(_server, _server))
else:
    os.environ.pop("MASS_INGEST_DATABASE", None)

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect server on 127.0.0.1 for flows of this process and of child processes."""
    from tests.e2e import prefect_server_process

    with prefect_server_process(_PREFECT_PORT, os.environ.copy(), _SESSION_DIR / "prefect-server.log", 240) as api:
        assert api == os.environ["PREFECT_API_URL"]
        yield api


@pytest.fixture(scope="session")
def deployments(prefect_server):
    """prefect.yaml deployed to the session's server, and a process worker serving its pool."""
    from tests.deployment import deploy_all, start_worker, stop

    deploy_all()
    worker = start_worker(_SESSION_DIR / "prefect-worker.log")
    yield _SESSION_DIR / "prefect-worker.log"
    stop(worker)


@pytest.fixture(scope="session")
def database():
    """The embedded PostgreSQL with this session's schemas; dropped and stopped at the end."""
    from mass_ingest.db import connection, schema

    prefix = schema.activate()
    yield prefix
    schema.drop_all(prefix)
    connection.stop_embedded()


@pytest.fixture
def clean_database(database):
    """The database emptied of sessions, runs, subjects and projects before the test."""
    from mass_ingest.db import schema

    # delete() cascades to everything downstream (sessions, parts, quarantine, implants).
    for table in (schema.IngestRun, schema.Subject, schema.Probe, schema.Project):
        table.delete()
    return database


def pytest_report_header(config):
    return [f"mass-ingest test home: {_SESSION_DIR}",
            f"database: {os.environ.get('MASS_INGEST_DATABASE', 'embedded')}",
            f"corpus: {os.environ.get('MASS_INGEST_CORPUS') or 'not set (corpus tests skip)'}"]


def pytest_sessionfinish(session, exitstatus):
    # A passing run leaves nothing behind; a failing one keeps its logs and database to look at.
    if exitstatus == 0:
        import shutil

        shutil.rmtree(_SESSION_DIR, ignore_errors=True)
