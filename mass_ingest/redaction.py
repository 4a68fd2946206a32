"""The one place credentials are taken out of text before it leaves the process.

Every message this tool writes or hands to Prefect passes here: log records (through a record
factory, so every logger and handler, Prefect's API log handler included, sees redacted text),
the tool's own exceptions (:class:`mass_ingest.errors.MassIngestError` redacts its message) and
the command line's error lines. Two things are removed:

- the password of any URL, whatever its scheme (``postgresql+psycopg://ingest:pw@host/db``,
  ``mysql://u:p@h``, ``https://u:p@h``), and ``password=...`` / ``pwd=...`` pairs of DSNs;
- the literal values of the password settings (``MASS_INGEST_DATABASE_PASSWORD`` and the password of
  ``MASS_INGEST_DATABASE``, if someone put one there), wherever they appear, also percent-encoded.
"""

from __future__ import annotations

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
# scheme://user:password@ : any scheme (letters, digits, + . -), a user without '/', '@' or white space.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*):(?P<password>[^\s@/]*)@")
_KEY_VALUE = re.compile(r"(?P<head>\b(?:password|passwd|pwd)\s*[=:]\s*)(?P<q>['\"]?)(?P<value>[^\s'\";&]+)(?P=q)",
                        re.IGNORECASE)


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
    text = _KEY_VALUE.sub(lambda m: f"{m.group('head')}{m.group('q')}{MASK}{m.group('q')}", text)
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


def _redacting_excepthook(kind, value, tb) -> None:
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(redact(text))
