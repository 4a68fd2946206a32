"""Insertion locks: two runs on the same share never insert the same session.

An insert chunk holds one database lock per share its sessions come from while its transaction
runs. A second run on the same share waits for the first one's chunk to commit; its own
re-check inside the transaction then finds those sessions and skips them. The locks are taken
before the transaction opens (MySQL fixes a transaction's snapshot when it starts) and in
sorted order (two runs never deadlock). They are session-level advisory locks (PostgreSQL
``pg_try_advisory_lock``, MySQL ``GET_LOCK``), so the server drops them with the connection of
a process that dies: a killed run never leaves a share locked. The tables' unique keys stay the
last line (a session's key, a directory's location hash) for runs that name one folder by two
share names.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from contextlib import contextmanager

import datajoint as dj

from mass_ingest import settings
from mass_ingest.errors import DatabaseError

WAIT_S = 600  # a chunk commits in seconds; waiting longer means the other run is stuck
_POLL_S = 0.05


def lock_name(share: str) -> str:
    """The lock of one share under this schema prefix (hashed: MySQL allows 64 characters)."""
    digest = hashlib.sha256(f"{settings.schema_prefix()}\0insert\0{share}".encode()).hexdigest()
    return f"mass-ingest:{digest[:40]}"


def _pg_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _acquire(connection: dj.Connection, name: str, wait_s: float) -> bool:
    if connection.adapter.backend == "mysql":
        return connection.query("SELECT GET_LOCK(%s, %s)", args=(name, int(wait_s))).fetchone()[0] == 1
    deadline = time.monotonic() + wait_s
    while not connection.query("SELECT pg_try_advisory_lock(%s)", args=(_pg_key(name),)).fetchone()[0]:
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _release(connection: dj.Connection, name: str) -> None:
    if connection.adapter.backend == "mysql":
        connection.query("SELECT RELEASE_LOCK(%s)", args=(name,))
    else:
        connection.query("SELECT pg_advisory_unlock(%s)", args=(_pg_key(name),))


@contextmanager
def share_locks(connection: dj.Connection, shares: Iterable[str], wait_s: float = WAIT_S):
    """Hold the insertion lock of each of ``shares`` for the body (wrap the chunk's transaction)."""
    held: list[str] = []
    try:
        for share in sorted(set(shares)):
            if not _acquire(connection, lock_name(share), wait_s):
                raise DatabaseError(f"share {share}: another ingest has been inserting into it for more than "
                                    f"{wait_s:.0f} s; check `mass-ingest db status` and the Prefect UI for a "
                                    "stuck run, then run again")
            held.append(share)
        yield
    finally:
        for share in reversed(held):
            try:
                _release(connection, lock_name(share))
            except Exception:  # the connection is gone, and the server released the lock with it
                pass
