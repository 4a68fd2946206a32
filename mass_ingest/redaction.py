"""The one place credentials are taken out of text before it leaves the process.

Every message this tool writes or hands to Prefect passes here: log records (through a record
factory, so every logger and handler, Prefect's API log handler included, sees redacted text),
the tool's own exceptions (:class:`mass_ingest.errors.MassIngestError` redacts its message), any
other exception a task or flow raises, before Prefect makes it a Failed or Crashed state (whose
message Prefect stores, and whose exception it pickles into its result storage), and the command
line's error lines. Two things are removed:

- the password of any URL, whatever its scheme (``postgresql+psycopg://ingest:pw@host/db``,
  ``mysql://u:p@h``, ``https://u:p@h``), unencoded ``/``, ``@`` or spaces and all, and ``password=...`` /
  ``pwd=...`` pairs of DSNs;
- the literal values of the password settings (``MASS_INGEST_DATABASE_PASSWORD`` and the password of
  ``MASS_INGEST_DATABASE``, if someone put one there), wherever they appear, also percent-encoded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import logging
import os
import re
import sys
import threading
import traceback
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
_SECRET_VARIABLES = ("MASS_INGEST_DATABASE_PASSWORD",)
_URL_VARIABLES = ("MASS_INGEST_DATABASE",)
# scheme://user:password@ : any scheme (letters, digits, + . -), a user without '/', '@' or white space, and
# the password up to the last '@' before the next white space: a pasted password may hold '/' or '@' unencoded
# (a generated one often does), and masking a little more than the password is the safe way to be wrong.
_URL_HEAD = r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*)"
_URL_PASSWORD = re.compile(_URL_HEAD + r":(?P<password>\S*)@")
# ... and a password pasted with a space in it (invalid in a URL, but typed into a note all the same): up to the
# line's last '@' within reach, once the pattern above has found no password there.
_URL_PASSWORD_WITH_SPACES = re.compile(_URL_HEAD + r":(?P<password>(?!\*\*\*@)[^\n]{0,200}?[ \t][^\n]{0,200})@")
# password=... of a DSN: quoted (white space and all, as libpq allows), or up to white space or a separator.
_KEY_VALUE = re.compile(r"(?P<head>\b(?:password|passwd|pwd)\s*[=:]\s*)"
                        r"(?:(?P<q>['\"])(?:\\.|(?!(?P=q)).)*(?P=q)|[^\s'\";&,)]+)", re.IGNORECASE)


def _secret_values() -> list[str]:
    values = []
    for name in _SECRET_VARIABLES:
        if os.environ.get(name):
            values.append(os.environ[name])
    for name in _URL_VARIABLES:
        raw = os.environ.get(name, "")
        try:
            password = urlsplit(raw.strip()).password
        except ValueError:
            password = None
        if password:
            values += [password, unquote(password)]
    out = set()
    for value in values:
        if len(value) >= 3:  # a one- or two-character "password" would mask every such letter pair
            out |= {value, quote(value, safe=""), quote(value)}
    return sorted(out, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every credential it holds replaced by ``***``."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    text = _URL_PASSWORD_WITH_SPACES.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group('head')}{m.group('q') or ''}{MASK}{m.group('q') or ''}", text)
    for value in _secret_values():
        text = text.replace(value, MASK)
    return text


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password (any scheme), told without echoing it."""
    return _URL_PASSWORD.search(url) is not None


_installed = False
_lock = threading.Lock()


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent).

    A record factory, not a handler filter: handlers are added later by Prefect (per run, the API
    handler that sends logs to the server), and a factory sees every record before any of them.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it for logging to report as it would
                return record
            cleaned = redact(message)
            if cleaned != message or record.exc_info:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            return record

        logging.setLogRecordFactory(factory)
        if sys.excepthook is sys.__excepthook__:  # an uncaught exception's traceback, printed on stderr
            sys.excepthook = _redacting_excepthook
        _installed = True


def redact_exception(exc: BaseException | None) -> BaseException | None:
    """``exc`` with the credentials taken out of it in place (its arguments, an OSError's file names and
    text), and out of the exceptions it was raised from; the same object, so its type still tells callers
    (a retry condition, ``state.result()``) what happened."""
    seen: set[int] = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            current.args = tuple(redact(a) if isinstance(a, str) else a for a in current.args)
        except Exception:  # an exception type whose args cannot be set keeps them
            pass
        for name in ("errno", "strerror", "filename", "filename2"):  # an OSError shows these, not its args
            value = getattr(current, name, None)
            if isinstance(value, str) and redact(value) != value:
                try:
                    setattr(current, name, redact(value))
                except Exception:
                    pass
        current = current.__cause__ or current.__context__
    return exc


# Where Prefect turns an exception into a state: its task and flow engines, which call these by name.
_PREFECT_ENGINES = ("prefect.task_engine", "prefect.flow_engine")
_STATE_BUILDERS = ("exception_to_failed_state", "exception_to_failed_state_sync", "exception_to_crashed_state",
                   "exception_to_crashed_state_sync")


def _redacting(build):
    """``build`` (one of :data:`_STATE_BUILDERS`) taking the credentials out of its exception first."""
    if inspect.iscoroutinefunction(build):
        async def redacting_build(exc=None, *args, **kwargs):
            return await build(redact_exception(exc if exc is not None else sys.exc_info()[1]), *args, **kwargs)
    else:
        def redacting_build(exc=None, *args, **kwargs):
            return build(redact_exception(exc if exc is not None else sys.exc_info()[1]), *args, **kwargs)
    redacting_build.redacts = True
    return redacting_build


def _patch_engine(module) -> None:
    for name in _STATE_BUILDERS:
        build = getattr(module, name, None)
        if build is not None and not getattr(build, "redacts", False):
            setattr(module, name, _redacting(build))


class _PatchEngineOnImport(importlib.abc.MetaPathFinder):
    """Patches a Prefect engine module right after it is first imported (see :func:`install_prefect_redaction`)."""

    def find_spec(self, name, path, target=None):
        if name not in _PREFECT_ENGINES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _patch_engine(module)

        spec.loader.exec_module = exec_module
        return spec


_prefect_installed = False


def install_prefect_redaction() -> None:
    """Redact every exception Prefect makes a Failed or Crashed state of, in this process (idempotent).

    Prefect puts ``str(exc)`` in the state's message (stored by the server, sent in its events) and
    pickles the exception into its result storage; neither passes through logging. The engines are
    patched when first imported, not imported here: ``mass-ingest discover`` never loads Prefect, and
    a worker process (process pool, Dask) that imports this package is covered whenever it runs a task.
    """
    global _prefect_installed
    with _lock:
        if _prefect_installed:
            return
        for name in _PREFECT_ENGINES:
            if name in sys.modules:
                _patch_engine(sys.modules[name])
        sys.meta_path.insert(0, _PatchEngineOnImport())
        _prefect_installed = True


def _redacting_excepthook(kind, value, tb) -> None:
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(redact(text))
