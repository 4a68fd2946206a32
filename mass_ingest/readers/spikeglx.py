"""Read SpikeGLX ``.meta`` files: raw key -> text first, then typed values plus findings.

The raw step follows probeinterface's ``parse_spikeglx_meta`` (SpikeInterface/probeinterface,
MIT): split on the first ``=``, drop a leading ``~``, interpret nothing. The typed step
never raises for bad data; it returns :class:`~mass_ingest.findings.Finding` objects.
"""

from __future__ import annotations

import io
import re
from collections.abc import Container
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.layouts import parse_time
from mass_ingest.readers import read_head

MAX_META_BYTES = 4_000_000
_NHP, _NHP_SHORT, _NHP_LONG = "neuropixels 1.0 - NHP", "neuropixels 1.0 - NHP short", "neuropixels 1.0 - NHP long"
_NP1_3A, _NP1_3B = "neuropixels 1.0 - 3A", "neuropixels 1.0 - 3B"
_ULTRA, _ULTRA_SWITCH = "neuropixels ultra", "neuropixels ultra - switchable"
_NP2_SS, _NP2_MS, _NP2_QUAD = "neuropixels 2.0 - SS", "neuropixels 2.0 - MS", "neuropixels 2.0 - quad base"

# The part number names the physical probe; the type code names the readout scheme, which
# several probes share (the NHP short probe in the corpus reports type 0, like a 3B).
_LABEL_BY_PART: dict[str, str] = {
    **dict.fromkeys(["PRB_1_4_0480_1", "PRB_1_4_0480_1_C", "PRB_1_2_0480_2", "NP1000", "NP1001"], _NP1_3B),
    **dict.fromkeys(["NP1010", "NP1011", "NP1012", "NP1013"], _NHP),
    **dict.fromkeys(["NP1015", "NP1016"], _NHP_SHORT),
    **dict.fromkeys(["NP1020", "NP1021", "NP1022", "NP1030", "NP1031", "NP1032"], _NHP_LONG),
    **dict.fromkeys(["NP1100", "NP1120", "NP1121", "NP1122", "NP1123"], _ULTRA),
    "NP1110": _ULTRA_SWITCH,
    **dict.fromkeys(["PRB2_1_2_0640_0", "PRB2_1_4_0480_1", "NP2000", "NP2003", "NP2004"], _NP2_SS),
    **dict.fromkeys(["PRB2_4_2_0640_0", "NP2010", "NP2013", "NP2014"], _NP2_MS),
    **dict.fromkeys(["NP2020", "NP2021"], _NP2_QUAD),
}
# Only used when the part number is missing or unknown. 1030 is the 45 mm NHP probe, not a 2.0.
_LABEL_BY_TYPE: dict[int, str] = {0: _NP1_3B, 21: _NP2_SS, 24: _NP2_MS, 1030: _NHP_LONG, 1100: _ULTRA,
                                  1110: _ULTRA_SWITCH, 2013: _NP2_MS, 2020: _NP2_QUAD}

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
# ASCII-only patterns: Python's int()/float() also accept '1_000', 'nan', 'inf' and non-ASCII
# digits, none of which SpikeGLX writes, so they mean the file was damaged or hand-edited.
_INT = re.compile(r"[0-9]+", re.ASCII)
_FLOAT = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
# field -> (meta key, type, must be > 0). A zero rate or channel count would divide by zero later.
_NUMBERS: dict[str, tuple[str, type, bool]] = {
    "type_code": ("imDatPrb_type", int, False),
    "n_saved_chans": ("nSavedChans", int, True),
    "sample_rate": ("imSampRate", float, True),
    "file_size_bytes": ("fileSizeBytes", int, False),
    "file_time_secs": ("fileTimeSecs", float, False),
}
# Every key read_meta reads; the other lines of a .meta (channel tables, ...) are only split off.
_KEYS = frozenset({key for key, _, _ in _NUMBERS.values()} | {
    "fileCreateTime_original", "fileCreateTime", "imDatPrb_sn", "imProbeSN", "imDatPrb_pn", "imProbeOpt",
    "appVersion", "typeThis"})


class SpikeGLXMeta(BaseModel):
    """What the pipeline needs from one ``.meta`` file; ``None`` where the file does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: str | None = Field(description="Probe serial: imDatPrb_sn, else imProbeSN (Phase 3A).")
    part_number: str | None = Field(description="Probe part number, imDatPrb_pn, e.g. 'NP2010'.")
    type_code: int | None = Field(description="Probe type code, imDatPrb_type, e.g. 24.")
    probe_type: str | None = Field(description="The lab's probe label, e.g. 'neuropixels 2.0 - MS'.")
    n_saved_chans: int | None = Field(description="Channels saved in the .bin, nSavedChans.")
    sample_rate: float | None = Field(description="Sampling rate in Hz, imSampRate.")
    file_size_bytes: int | None = Field(description="Size the .bin should have, fileSizeBytes.")
    file_time_secs: float | None = Field(description="Duration of the .bin in seconds, fileTimeSecs.")
    file_create_time: datetime | None = Field(
        description="Naive local start time: fileCreateTime_original (kept by CatGT), else fileCreateTime.")
    app_version: str | None = Field(description="SpikeGLX version, appVersion, e.g. '20230120'.")
    stream: str | None = Field(description="Stream type, typeThis, e.g. 'imec'.")


def parse_meta_text(text: str) -> tuple[dict[str, str], list[int]]:
    """Split ``.meta`` text into raw key -> value text, interpreting nothing.

    Args:
        text: The whole file, already decoded.

    Returns:
        The mapping (a repeated key keeps its last value, as in probeinterface) and the 1-based
        numbers of non-blank lines that have no ``=``.
    """
    return _parse_meta_bytes(text.encode("utf-8", "surrogatepass"), "utf-8")


def _parse_meta_bytes(data: bytes, codec: str, keys: Container[str] | None = None
                      ) -> tuple[dict[str, str], list[int]]:
    """:func:`parse_meta_text` on the file's bytes, each line decoded with ``codec`` on its own.

    Lines are found by ``io.BytesIO`` (memchr) rather than ``str.split`` (a test per character):
    the three channel tables of a .meta are most of its 20 KB. With ``keys``, only those keys are
    kept (and decoded). '\n' never occurs inside a UTF-8 character, so lines split the same way.
    """
    mapping: dict[str, str] = {}
    malformed: list[int] = []
    if keys is not None and data.isascii():
        return _parse_ascii(data, keys)
    # Lines end at '\n' only, not as splitlines() would also at \x0c, \x1c, \u2028 ..., which would
    # make the reported line numbers disagree with an editor's.
    for number, line in enumerate(io.BytesIO(data).readlines(), start=1):
        key, sep, value = line.partition(b"=")  # first '=' only: CatGT command lines hold '=' in values
        if not sep:
            if line.decode(codec, "surrogatepass").strip():  # a blank line is not malformed
                malformed.append(number)
            continue
        name = key.decode(codec, "surrogatepass").strip().removeprefix("~")
        if keys is None or name in keys:
            mapping[name] = value.decode(codec, "surrogatepass").strip()
    return mapping, malformed


# What str.strip() removes from ASCII text: so on ASCII bytes, strip(_ASCII_SPACE) then decode is decode then strip.
_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_ASCII_KEYS: dict[frozenset, frozenset] = {}


def _parse_ascii(data: bytes, keys: Container[str]) -> tuple[dict[str, str], list[int]]:
    """:func:`_parse_meta_bytes` of ASCII bytes (a .meta as SpikeGLX writes it): the same mapping and line numbers,
    each line's key compared as bytes and only the kept values decoded (a .meta's 50 keys are a quarter of
    the time a probe's description takes)."""
    wanted = _ASCII_KEYS.get(keys) if isinstance(keys, frozenset) else None
    if wanted is None:
        wanted = frozenset(k.encode("utf-8", "surrogatepass") for k in keys)
        if isinstance(keys, frozenset):
            _ASCII_KEYS[keys] = wanted
    mapping: dict[str, str] = {}
    malformed: list[int] = []
    for number, line in enumerate(io.BytesIO(data).readlines(), start=1):
        key, sep, value = line.partition(b"=")
        if not sep:
            if line.strip(_ASCII_SPACE):
                malformed.append(number)
            continue
        name = key.strip(_ASCII_SPACE).removeprefix(b"~")
        if name in wanted:
            mapping[name.decode("ascii")] = value.strip(_ASCII_SPACE).decode("ascii")
    return mapping, malformed


def probe_label(part_number: str | None, type_code: int | None) -> str | None:
    """Return the lab's label for a probe, or ``None`` when it is not one the lab knows.

    Args:
        part_number: ``imDatPrb_pn``; decides when known.
        type_code: ``imDatPrb_type``; used only when the part number is missing or unknown.

    Returns:
        A label such as ``'neuropixels 1.0 - 3B'``, or ``None``.
    """
    label = _LABEL_BY_PART.get((part_number or "").strip().upper())
    if label is None and type_code is not None:
        label = _LABEL_BY_TYPE.get(type_code)
    return label


def _text(raw: dict[str, str], key: str) -> str | None:
    return raw.get(key) or None


def read_meta(path: str | Path, *, share: str, rel_path: str) -> tuple[SpikeGLXMeta | None, list[Finding]]:
    """Read one SpikeGLX ``.meta`` file into a :class:`SpikeGLXMeta` and the problems found in it.

    Args:
        path: The file on this worker.
        share: Name of the share in the profile, for the findings.
        rel_path: ``path`` relative to the share root, for the findings.

    Returns:
        The parsed meta (``None`` when the file is empty or cannot be read) and its findings.
    """
    values, findings = read_meta_values(path, share=share, rel_path=rel_path)
    return (None if values is None else SpikeGLXMeta(**values)), findings


def read_meta_values(path: str | Path, *, share: str, rel_path: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    """:func:`read_meta`'s values before they become a :class:`SpikeGLXMeta`: the same fields as a dict.

    For a caller that puts them in a model of its own, which validates them (discovery's ProbeRecording): two
    models per probe cost as much as the rest of reading the file's values.
    """
    findings: list[Finding] = []

    def add(code: str, message: str, expected: str | None = None) -> None:
        findings.append(finding(code, stage=Stage.DISCOVER, share=share, path=rel_path, message=message,
                                expected=expected))

    # 1. Bytes. A crash during copy can leave a file of zeros, which is as empty as 0 bytes.
    # A real .meta is tens of KB; a .bin misnamed .meta must not be read into memory.
    try:
        data = read_head(path, MAX_META_BYTES + 1)
    except OSError as exc:
        add("META.UNREADABLE", f"Could not read the .meta file ({exc.strerror or exc}). Check that this worker "
            "can read the share and that no program holds the file open, then run discovery again.")
        return None, findings
    if len(data) > MAX_META_BYTES:
        add("META.UNREADABLE", f"The .meta file is larger than {MAX_META_BYTES // 1_000_000} MB, so it is not "
            "SpikeGLX metadata (perhaps a .bin saved under the wrong name). Rename or remove it.")
        return None, findings
    if not data.strip(b"\x00 \t\r\n"):
        add("META.EMPTY", f"The .meta file is empty ({len(data)} bytes, no text), so the probe and recording "
            "cannot be identified. Copy it again from the acquisition computer, or exclude the session.")
        return None, findings

    # 2. Text. SpikeGLX on Windows may write latin-1; latin-1 decodes any bytes, so nothing is lost.
    # As "utf-8-sig": a BOM from a Windows editor must not join the first key.
    body, codec = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data), "utf-8"
    ascii_only = body.isascii()  # asked once: a test per byte of the file
    if not ascii_only:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            body, codec = data, "latin-1"
    # On ASCII, what _parse_meta_bytes would do after asking again.
    raw, malformed = _parse_ascii(body, _KEYS) if ascii_only else _parse_meta_bytes(body, codec, _KEYS)
    if malformed:
        # Cap the list: a binary file saved as .meta would otherwise give a message thousands of lines long.
        more = f" and {len(malformed) - 20} more" if len(malformed) > 20 else ""
        lines = ", ".join(map(str, malformed[:20])) + more
        add("META.MALFORMED", f"Line(s) {lines} are not key=value and were skipped. The file may have been "
            "cut short or edited by hand; compare it with the copy on the acquisition computer.", "key=value")

    # 3. Typed values. A value that does not parse is left None rather than guessed.
    values: dict[str, Any] = {}
    for field, (key, kind, positive) in _NUMBERS.items():
        value = raw.get(key)
        pattern = _INT if kind is int else _FLOAT
        if value is None:
            values[field] = None
        elif pattern.fullmatch(value) and (not positive or float(value) > 0):
            values[field] = kind(value)
        else:
            values[field] = None
            noun = "a whole number" if kind is int else "a number"
            add("META.BAD_VALUE", f"{key}={value[:60]!r} is not {noun}{' above 0' if positive else ''}, so "
                f"it was left empty. Check the file against the acquisition computer's copy.", pattern.pattern)

    # CatGT rewrites fileCreateTime to when it ran; only _original is the recording's start.
    time_key = "fileCreateTime_original" if "fileCreateTime_original" in raw else "fileCreateTime"
    create_time: datetime | None = None
    if time_key in raw:
        try:
            create_time = parse_time(raw[time_key], _TIME_FORMAT)
        except ValueError:
            add("META.BAD_VALUE", f"{time_key}={raw[time_key][:60]!r} is not a date like 2019-10-08T11:48:45, "
                "so the start time was left empty. Enter it by hand or fix the file.", _TIME_FORMAT)

    # 4. Probe identity. '0' and '' are placeholders, not serials: they must not merge unrelated probes.
    serial = next((s for s in (_text(raw, "imDatPrb_sn"), _text(raw, "imProbeSN")) if s not in (None, "0")), None)
    if serial is None:
        add("META.NO_SERIAL", "Neither imDatPrb_sn nor imProbeSN gives a probe serial, so the recording cannot "
            "be tied to a probe. Write the probe's serial into the .meta (imDatPrb_sn=<serial>, from the lab's "
            "probe records), or exclude the session.")
    part_number = _text(raw, "imDatPrb_pn")
    type_code = values.pop("type_code")
    label = probe_label(part_number, type_code)
    # Phase 3A prototypes predate imDatPrb_*; they name the probe with imProbeSN / imProbeOpt.
    if label is None and part_number is None and "imDatPrb_type" not in raw and (
            "imProbeSN" in raw or "imProbeOpt" in raw):
        label = _NP1_3A
    if label is None:
        what = (f"Probe part number {part_number!r} with type code {raw.get('imDatPrb_type')!r} is not one"
                if part_number or "imDatPrb_type" in raw else "The file names no probe part number or type code that")
        add("META.UNKNOWN_PROBE", f"{what} the lab knows. Add it to the probe labels in "
            "mass_ingest/readers/spikeglx.py, or exclude the session.")

    return dict(serial=serial, part_number=part_number, type_code=type_code, probe_type=label,
                file_create_time=create_time, app_version=_text(raw, "appVersion"), stream=_text(raw, "typeThis"),
                **values), findings
