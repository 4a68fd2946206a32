"""Reading a file a lab wrote (a profile, an input file) into its model: one way for every kind.

The text is read only from a regular file of sane size, parsed as strict YAML (no silent
duplicate keys, no runaway nesting; see :mod:`mass_ingest.strict_yaml`) or as JSON, and
validated by the kind's pydantic model. Every refusal says '<kind> <file> line N: <key> <what is
wrong> (<fix>)', with the kind named, never another kind's word.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mass_ingest.strict_yaml import MAX_BYTES, Lines, StrictYamlError, line_of, load_strict

Model = TypeVar("Model", bound=BaseModel)

_FIX_BY_TYPE = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
}


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def model_error_message(kind: str, source: str, error: ValidationError, lines: Lines | None = None) -> str:
    """One line per problem: kind, file (and line, when ``lines`` gives it), key, what is wrong and how to fix it."""
    out = []
    for err in error.errors():
        where = _location(err["loc"])
        line = line_of(lines, err["loc"]) if lines else None
        at = f"{source} line {line}" if line else source
        fix = _FIX_BY_TYPE.get(err["type"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"is not a key the {kind} knows"
        elif err["type"] == "string_type":
            msg = "must be text; quote it"
        out.append(f"{kind} {at}: {where} {msg}" + (f" ({fix})" if fix else ""))
    return "\n".join(out)


def read_text_file(path: Path, kind: str, error: type[Exception], where_they_live: str = "") -> str:
    """The UTF-8 text of a lab's file, or ``error`` saying '<kind> <path>: no such file' or why it cannot be read."""
    try:
        # Opened only when it is a regular file: a FIFO would block the command for ever.
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{kind} {path}: is not a regular file ({_kind_of(path)}); give the path of the file itself")
        if info.st_size > MAX_BYTES:
            raise error(f"{kind} {path}: is {info.st_size:,} bytes, more than the {MAX_BYTES:,} it may have; "
                        f"a {kind} is a page of settings: remove what was generated into it")
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        return data.decode("utf-8")
    except FileNotFoundError:
        raise error(f"{kind} {path}: no such file{where_they_live}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{kind} {path}: cannot be read ({exc})") from None


def _kind_of(path: Path) -> str:
    mode = path.stat().st_mode
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a regular file"


def load_model_file(path: str | Path, model: type[Model], *, kind: str, error: type[Exception], top_keys: str,
                    where_they_live: str = "", check_yaml: Callable[[str, str], None] | None = None) -> Model:
    """Read ``path`` (JSON if it ends in .json, else strict YAML) into ``model``; raise ``error`` naming the
    file, the line, the key and the fix.

    Args:
        kind: what the file is to a person ('profile', 'input file'): the first word of every message.
        top_keys: what the top-level mapping holds, for the message when the file is not a mapping.
        check_yaml: ``check_yaml(text, file name)`` raises ``error`` for what this kind refuses beyond the
            model (an input file refuses unquoted values a YAML reader would not read as text).
    """
    path = Path(path)
    source = path.name
    text = read_text_file(path, kind, error, where_they_live)
    lines: Lines | None = None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"{kind} {source}: not valid JSON ({exc}); fix the syntax at the line shown") from None
    else:
        try:
            data, lines = load_strict(text)
        except StrictYamlError as exc:
            at = f"{source} line {exc.line}" if exc.line else source
            raise error(f"{kind} {at}: {exc}") from None
        except yaml.YAMLError as exc:
            raise error(f"{kind} {source}: not valid YAML ({exc}); fix the syntax at the line shown") from None
        if check_yaml is not None:
            check_yaml(text, source)
    if not isinstance(data, dict):
        raise error(f"{kind} {source}: the top level must be a mapping with {top_keys}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(model_error_message(kind, source, exc, lines)) from None
