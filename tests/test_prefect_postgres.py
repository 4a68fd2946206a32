"""The Prefect server on PostgreSQL instead of SQLite, as docs/scale-out.md describes it.

A throwaway database on this machine's PostgreSQL service (127.0.0.1:5432, user postgres) holds
the Prefect server's state; the demo ingest runs through that server, and its flow and task runs
are read back from PostgreSQL itself. Skips, saying why, when the service does not answer.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.e2e import cli, json_out, prefect_server_process

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def _reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _reachable(), reason=f"no PostgreSQL service on {PG_HOST}:{PG_PORT}")]


def _free_port() -> int:
    # Not conftest's: importing conftest as tests.conftest would run it twice and move PREFECT_API_URL.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sql(database: str, statement: str, *args) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, args)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


@pytest.fixture
def prefect_on_postgres(tmp_path, monkeypatch):
    """A Prefect server on 127.0.0.1 whose database is a new PostgreSQL database; the URL of its API."""
    database = f"mi_prefect_test_{os.getpid()}"
    _sql("postgres", f'DROP DATABASE IF EXISTS "{database}"')
    _sql("postgres", f'CREATE DATABASE "{database}"')
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"}
    try:
        with prefect_server_process(port, env, tmp_path / "server.log") as api:
            monkeypatch.setenv("PREFECT_API_URL", api)  # children started by cli() talk to this server
            yield database
    finally:
        _sql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.usefixtures("clean_database")
def test_an_ingest_through_a_prefect_server_on_postgresql(prefect_on_postgres, tmp_path) -> None:
    database = prefect_on_postgres
    result = cli("demo", "--base", str(tmp_path / "demo"), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json_out(result.stdout)["inserted"] == 5
    # The server kept its state in PostgreSQL: the flow run, completed, and its task runs.
    runs = _sql(database, "SELECT flow_run.id, flow_run.state_type FROM flow_run JOIN flow "
                "ON flow.id = flow_run.flow_id WHERE flow.name = %s", "mass-ingest")
    assert [state for _, state in runs] == ["COMPLETED"]
    deadline = time.monotonic() + 60  # task runs are written from events, a moment later
    while True:
        names = {name for (name,) in _sql(database, "SELECT name FROM task_run WHERE flow_run_id = %s", runs[0][0])}
        if any(n.startswith("insert rows") for n in names) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {"open-ingest", "access-check", "deduplicate", "quality"} <= {n.rsplit("-", 1)[0] for n in names}, names
    assert any(n.startswith("discover N") for n in names) and any(n.startswith("insert rows") for n in names)
