"""A lab's per-subject mass-ingest input file (YAML or JSON): the sessions it lists, validated.

The pipeline's labs already keep one such file per subject::

    subject: '102_1'
    sessions:
      - location: 'N:\\recordings\\102_1\\2024-03-05_10-30-58'
        experimenter: anna
        tasks: [open_field, sleep]
        probe_association: {probe_1: '19122519371'}
        project: grid_remapping
        clustering: kilosort2.5

``mass-ingest import FILE --profile P`` turns its sessions into candidates (see
``tasks/import_file.py``) that go through the same dedup, expectations and approval as
discovered ones. Ids are text: an unquoted ``102_1``, ``no``, ``0123`` or ``1e5`` that some YAML
reader would turn into a number, a boolean or a date is refused with the line and the fix,
so the file means the same thing to every tool that reads it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.errors import InputFileError
from mass_ingest.lab_files import load_model_file
from mass_ingest.profile import Profile
from mass_ingest.strict_yaml import TextScalarLoader


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # strict: 1021 is not silently the text '1021'


class InputSession(_Strict):
    """One session of the subject, as the lab wrote it down."""

    location: str = Field(description="The session folder, in any spelling of a profile share's root or alias "
                          "(N:\\\\recordings\\\\..., /mnt/N/recordings/...).", min_length=1)
    experimenter: str = Field(description="Who recorded it (user name); stored with the session "
                              "(Session.Experimenter).", max_length=128)
    tasks: list[str] = Field(default_factory=list, description="Tasks run in the session, in order.")
    probe_association: dict[str, str] = Field(
        default_factory=dict, description="Probe folder in the session -> the probe recorded there: its serial "
        "or the lab's probe name '<serial>_<subject>_<n>'.")
    project: str | None = Field(None, description="The project the session belongs to.",
                                pattern=r"^[A-Za-z0-9_. -]{1,64}$")
    clustering: str | None = Field(None, description="The spike sorter whose output is in the folder, "
                                   "e.g. 'kilosort2.5'.")


class InputFile(_Strict):
    """A per-subject input file."""

    subject: str = Field(min_length=1, description="The subject id, as text (quote ids like '102_1').")
    sessions: list[InputSession] = Field(min_length=1)


# What some YAML reader makes of an unquoted scalar that is not text: YAML 1.1 (PyYAML and the
# pipeline's loaders) resolves booleans, ints (102_1, 0123), floats and dates; YAML 1.2 readers
# also take 1e5 as a number.
_YAML11 = yaml.SafeLoader("")
_YAML12_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NON_TEXT_TAGS = {"tag:yaml.org,2002:bool": "a boolean", "tag:yaml.org,2002:int": "a number",
                  "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:timestamp": "a date"}


def _key(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def _ambiguous_scalars(node: yaml.Node, path: tuple[str | int, ...] = ()):
    """(key path, line, text, what a YAML reader makes of it) for every unquoted value that is not text to one."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield from _ambiguous_scalars(value_node, (*path, key_node.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _ambiguous_scalars(item, (*path, index))
    elif isinstance(node, yaml.ScalarNode) and node.style is None and node.value:
        tag = _YAML11.resolve(yaml.ScalarNode, node.value, (True, False))
        if tag in _NON_TEXT_TAGS:
            read = yaml.safe_load(node.value)
            yield path, node.start_mark.line + 1, node.value, f"{_NON_TEXT_TAGS[tag]} ({read})"
        elif _YAML12_FLOAT.match(node.value):
            yield path, node.start_mark.line + 1, node.value, f"the number {float(node.value)!r} (YAML 1.2)"


def _refuse_ambiguous_scalars(text: str, source: str) -> None:
    """An input file's values are ids and names: an unquoted one some YAML reader takes for a number, a
    boolean or a date is refused (quoted, every tool reads the same text)."""
    node = yaml.compose(text, Loader=TextScalarLoader)  # noqa: S506 - a SafeLoader subclass
    pitfalls = list(_ambiguous_scalars(node)) if node is not None else []
    if pitfalls:
        raise InputFileError("\n".join(
            f"input file {source} line {line}: {_key(path)} is {text} unquoted, which YAML reads as {read}; "
            f"quote it ({f'{path[-1]}: ' if isinstance(path[-1], str) else ''}'{text}') so every tool reads the "
            f"text {text}" for path, line, text, read in pitfalls))


def read_input_file(path: str | Path) -> InputFile:
    """Read and validate an input file; raise :class:`InputFileError` naming the file, key and fix."""
    return load_model_file(path, InputFile, kind="input file", error=InputFileError,
                           top_keys="the keys subject and sessions", check_yaml=_refuse_ambiguous_scalars)


def profile_for_import(profile: Profile, path: str | Path) -> Profile:
    """The profile, marked with the input file's content, so an import is an ingest of its own
    (resumed by re-importing the same file, never mixed with the profile's share scans)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return profile.marked(f"import of {Path(path).name} ({digest})")
