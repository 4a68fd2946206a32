"""Where this tool keeps its state, read from the environment (never from profiles).

| variable | default | meaning |
|---|---|---|
| MASS_INGEST_HOME | ~/.local/share/mass-ingest | embedded database, stage results, run reports |
| MASS_INGEST_DATABASE | embedded | `embedded`, or `postgresql://user@host:port/dbname`, or `mysql://user@host:port` |
| MASS_INGEST_DATABASE_PASSWORD | (none) | password for a lab server; or name a Prefect Secret block below |
| MASS_INGEST_DATABASE_PASSWORD_BLOCK | (none) | name of a Prefect Secret block holding the password |
| MASS_INGEST_SCHEMA_PREFIX | mass_ingest | schemas are `<prefix>_reference`, `<prefix>_acquisition`, `<prefix>_ingest` |
| MASS_INGEST_CHUNK_SIZE | 2000 | sessions per insert transaction (one cached task each; fewer, larger task runs: Prefect costs ~20 ms a task run) |
| MASS_INGEST_TASK_RUNNER | threads | where discovery chunks run: `threads[:N]`, `processes[:N]`, `dask[:N]` (a local Dask cluster of N worker processes) or `dask:tcp://host:8786` (a running Dask scheduler) |
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mass_ingest.errors import ConfigError, DatabaseError
from mass_ingest.redaction import has_password, redact


class DatabaseTarget(BaseModel):
    """Which database to talk to. Passwords are looked up at connect time, never stored here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str  # "embedded", "postgresql" or "mysql"
    host: str = ""
    port: int | None = None
    user: str = ""
    name: str | None = None  # PostgreSQL database name


class Environment(BaseSettings):
    """The MASS_INGEST_* variables (the table above), read afresh on each call: tests and the CLI set them
    while running. Values that need a message naming the variable and its fix are parsed by the functions
    below; the password is a secret that no repr or log shows."""

    model_config = SettingsConfigDict(env_prefix="MASS_INGEST_", extra="ignore", frozen=True)

    home: Path | None = None
    database: str = "embedded"
    database_password: SecretStr | None = None
    database_password_block: str | None = None
    schema_prefix: str = "mass_ingest"
    chunk_size: str = "2000"
    task_runner: str = "threads"


@functools.lru_cache(maxsize=8)
def _environment(variables: tuple[tuple[str, str], ...]) -> Environment:
    return Environment()


def environment() -> Environment:
    """The settings as the environment holds them now (read again only when a MASS_INGEST_* variable
    changed: reading them costs milliseconds, and the schema asks on every activation)."""
    return _environment(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MASS_INGEST_"))))


def home() -> Path:
    chosen = environment().home
    if chosen is None:
        chosen = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "mass-ingest"
    return Path(chosen).expanduser()


def schema_prefix() -> str:
    return environment().schema_prefix


def database_target() -> DatabaseTarget:
    """Parse MASS_INGEST_DATABASE; a URL with a password in it is refused (use the env or a Secret block)."""
    raw = environment().database.strip()
    if raw in ("", "embedded"):
        return DatabaseTarget(backend="embedded")
    # The password check comes first and never echoes the URL: whatever the scheme, a URL with a
    # password in it is refused before any message could quote it.
    if has_password(raw):
        raise DatabaseError("MASS_INGEST_DATABASE must not contain a password (it is not shown here); put it in "
                            "MASS_INGEST_DATABASE_PASSWORD or a Prefect Secret block named by "
                            "MASS_INGEST_DATABASE_PASSWORD_BLOCK, and write the URL without it "
                            "(postgresql://user@host:5432/dbname)")
    try:
        url = urlparse(raw)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        url = None
    scheme = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql"}.get(url.scheme) if url else None
    if scheme is None or not url.hostname:
        raise DatabaseError(f"MASS_INGEST_DATABASE='{redact(raw)}' is not 'embedded' or a URL like "
                            "postgresql://user@host:5432/dbname or mysql://user@host:3306")
    if url.password:
        raise DatabaseError("MASS_INGEST_DATABASE must not contain a password (it is not shown here); put it in "
                            "MASS_INGEST_DATABASE_PASSWORD or a Prefect Secret block named by "
                            "MASS_INGEST_DATABASE_PASSWORD_BLOCK")
    return DatabaseTarget(backend=scheme, host=url.hostname, port=url.port,
                          user=unquote(url.username or ("root" if scheme == "mysql" else "postgres")),
                          name=url.path.lstrip("/") or None)


def database_password() -> str:
    settings = environment()
    if settings.database_password is not None:
        return settings.database_password.get_secret_value()
    block = settings.database_password_block
    if block:
        from prefect.blocks.system import Secret  # only when asked for: loading it talks to the API

        return str(Secret.load(block).get())
    return ""


def insert_chunk_size() -> int:
    """Sessions per insert transaction. Changing it mid-ingest is safe: chunks re-check what exists."""
    raw = environment().chunk_size.strip()
    if not raw.isdigit() or int(raw) < 1:
        raise DatabaseError(f"MASS_INGEST_CHUNK_SIZE='{raw}' is not a positive whole number; unset it for 2000")
    return int(raw)


class TaskRunnerChoice(BaseModel):
    """Where the flow's parallel tasks (discovery chunks) run, from MASS_INGEST_TASK_RUNNER."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str  # "threads", "processes" or "dask"
    workers: int | None = None  # None: the runner's default (cores, or threads for I/O)
    address: str | None = None  # dask only: a running scheduler, e.g. tcp://10.0.0.5:8786


def task_runner_choice() -> TaskRunnerChoice:
    """Parse MASS_INGEST_TASK_RUNNER (default ``threads``)."""
    raw = environment().task_runner.strip() or "threads"
    kind, _, arg = raw.partition(":")
    kind = kind.lower()
    if kind not in ("threads", "processes", "dask"):
        raise ConfigError(f"MASS_INGEST_TASK_RUNNER='{raw}': '{kind}' is not a task runner; write threads, "
                          "processes, dask, dask:4 or dask:tcp://scheduler-host:8786")
    if not arg:
        return TaskRunnerChoice(kind=kind)
    if kind == "dask" and "://" in arg:
        return TaskRunnerChoice(kind=kind, address=arg)
    if not arg.isdigit() or int(arg) < 1:
        raise ConfigError(f"MASS_INGEST_TASK_RUNNER='{raw}': '{arg}' is not a number of workers (1 or more)"
                          + (" or a scheduler address like tcp://host:8786" if kind == "dask" else ""))
    return TaskRunnerChoice(kind=kind, workers=int(arg))
