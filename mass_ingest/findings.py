"""Findings: data problems reported per session or per share, never raised.

Modelled on dandi's ``ValidationResult``: a stable namespaced code, an ordered
severity, one location (share + path relative to its root) and a sentence a person
understands. Every code is listed once in :data:`CATALOGUE`.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from mass_ingest import __version__


class Severity(IntEnum):
    """Ordered so that filters are comparisons (``f.severity >= Severity.ERROR``)."""

    INFO = 10
    WARNING = 20
    ERROR = 30
    CRITICAL = 40


class Stage(StrEnum):
    """The pipeline stage that found a problem: the stages whose codes the catalogue lists.

    A ``str``: frames store it as text and stored findings read back as they were written.
    """

    ACCESS = "access"      # ACCESS.*: can this worker list the share root
    DISCOVER = "discover"  # what the walk, the vendor readers, the systems and an import's input file report
    QUALITY = "quality"    # QUALITY.*: a failed expectation
    INSERT = "insert"      # INSERT.*: what the database refused


# Who made a finding, with its version: a stored finding says which release judged the share.
ORIGIN = f"mass-ingest {__version__}"


# code -> (default severity, what it means). The one place a code is defined.
CATALOGUE: dict[str, tuple[Severity, str]] = {
    "ACCESS.MISSING": (Severity.CRITICAL, "the share root does not exist on this worker"),
    "ACCESS.DENIED": (Severity.CRITICAL, "the share root cannot be listed by this worker"),
    "ACCESS.NOT_A_DIRECTORY": (Severity.CRITICAL, "the share root is not a directory"),
    "ACCESS.SLOW": (Severity.WARNING, "listing the share root took longer than the profile allows"),
    "DISCOVER.UNREADABLE_DIR": (Severity.ERROR, "a folder below the share could not be listed"),
    "DISCOVER.SYMLINK_OUTSIDE": (Severity.WARNING, "a symbolic link points outside the share root"),
    "DISCOVER.SYMLINK_LOOP": (Severity.WARNING, "a symbolic link leads back into a folder already walked"),
    "DISCOVER.CASE_COLLISION": (Severity.ERROR, "two folders are one place under the share's case rule"),
    "DISCOVER.SPECIAL_FILE": (Severity.ERROR, "a FIFO, socket or device file sits where data files are; never opened"),
    "DISCOVER.BAD_NAME": (Severity.WARNING, "a file or folder name is not valid UTF-8"),
    "DISCOVER.BAD_DATE": (Severity.ERROR, "a session folder name does not parse as the layout's date"),
    "DISCOVER.UNMATCHED_FOLDERS": (Severity.INFO, "folders at session depth fit no layout of the profile "
                                   "(counted once per share, with examples)"),
    "DISCOVER.START_INFERRED": (Severity.WARNING, "the folder gives no time of day; the start was read from its "
                                "earliest acquisition file and needs a person to confirm it"),
    "DISCOVER.EXCLUDED": (Severity.INFO, "a session folder was excluded by a profile rule"),
    "DISCOVER.SUSPICIOUS_COPY": (Severity.WARNING, "the folder name suggests an old or test copy"),
    "META.EMPTY": (Severity.ERROR, "a SpikeGLX .meta file is empty"),
    "META.UNREADABLE": (Severity.ERROR, "a SpikeGLX .meta file could not be read"),
    "META.MALFORMED": (Severity.ERROR, "a SpikeGLX .meta file has lines that are not key=value"),
    "META.NO_SERIAL": (Severity.WARNING, "a SpikeGLX .meta file names no probe serial"),
    "META.UNKNOWN_PROBE": (Severity.WARNING, "the probe part number / type is not one the lab knows"),
    "META.BAD_VALUE": (Severity.WARNING, "a SpikeGLX .meta value does not parse as its type"),
    "EPHYS.BIN_WITHOUT_META": (Severity.ERROR, "an .ap.bin has no .ap.meta beside it"),
    "EPHYS.META_WITHOUT_BIN": (Severity.WARNING, "an .ap.meta has no .ap.bin beside it"),
    "TASKS.MALFORMED_LINE": (Severity.WARNING, "a sessions.txt line does not read as a task"),
    # An unreadable sessions.txt was once filed as TASKS.MALFORMED_LINE: findings stored so still read as such.
    "TASKS.UNREADABLE": (Severity.WARNING, "a sessions.txt file could not be read"),
    "INSERT.SCHEMA_LIMIT": (Severity.ERROR, "a value is longer, larger or emptier than its column allows"),
    "INSERT.REFUSED": (Severity.ERROR, "the database refused a session's rows; the rest of its chunk went in"),
    # One code per quality expectation (mass_ingest.expectations.suites.EXPECTATIONS), "QUALITY." + its name
    # in capitals; the text says what failing it means, and titles the reason on the approval page.
    "QUALITY.SUBJECT_KNOWN": (Severity.ERROR, "the subject is not in the database"),
    "QUALITY.SESSION_START_PARSED": (Severity.ERROR, "the session start could not be read from the folder name"),
    "QUALITY.SESSION_START_NOT_IN_FUTURE": (Severity.ERROR, "the session start is in the future"),
    "QUALITY.SESSION_START_NOT_BEFORE": (Severity.ERROR, "the session start is before the earliest the profile allows"),
    "QUALITY.EVERY_AP_BIN_HAS_META": (Severity.ERROR, "an .ap.bin has no .ap.meta beside it"),
    "QUALITY.AP_BIN_SIZE_MATCHES_META": (Severity.ERROR, "an .ap.bin is missing or larger than its .ap.meta says"),
    "QUALITY.NO_ZERO_BYTE_DATA": (Severity.ERROR, "an .ap.bin is empty (0 bytes)"),
    "QUALITY.CHANNELS_AND_RATE_PLAUSIBLE": (Severity.ERROR, "a probe's nSavedChans or imSampRate is implausible"),
    "QUALITY.PROBE_COUNT_MATCHES_IMPLANTS": (Severity.ERROR, "the probe folders are not the subject's implants in "
                                             "number"),
    "QUALITY.PROBE_SERIALS_IMPLANTED": (Severity.ERROR, "a probe serial is not implanted in the subject"),
    "QUALITY.NO_DISCOVERY_ERRORS": (Severity.ERROR, "part of the session could not be read"),
    "QUALITY.SESSION_KEY_UNIQUE": (Severity.ERROR, "another new folder claims the same subject and start"),
    "QUALITY.FILE_SIZE_PLAUSIBLE": (Severity.ERROR, "a probe's fileSizeBytes is missing, not above 0 or not whole samples"),
    "QUALITY.DURATION_PLAUSIBLE": (Severity.ERROR, "a probe's fileTimeSecs is missing, implausible or disagrees with "
                                   "its size, channels and rate"),
    "QUALITY.SERIAL_PRESENT": (Severity.ERROR, "a probe names no serial"),
    "QUALITY.CREATE_TIME_PLAUSIBLE": (Severity.ERROR, "a probe's fileCreateTime is missing, in the future or too early"),
    "QUALITY.AP_BIN_NOT_STALLED": (Severity.ERROR, "an .ap.bin stopped growing short of what its .ap.meta announces"),
    "EPHYS.CREATE_TIME_MISMATCH": (Severity.WARNING, "a probe's fileCreateTime disagrees with the folder's start"),
    # ephys-side systems (kilosort, neurologger, axona, neuralynx, tracking)
    "KILOSORT.INCOMPLETE": (Severity.WARNING, "a spike-sorting output folder lacks files it needs"),
    "NEURALYNX.MULTIPLE_NTT": (Severity.WARNING, "a Neuralynx session holds more than one .ntt file"),
    "NEUROLOGGER.INCOMPLETE": (Severity.WARNING, "a Neurologger session lacks a part it needs"),
    "TRACKING.INCOMPLETE": (Severity.WARNING, "a tracking recording lacks files it needs"),
    # imaging-side systems (scanimage, wavesurfer, femtonics, suite2p, dlc)
    "IMAGING.BAD_BASENAME": (Severity.ERROR, "a ScanImage file's basename contains '_'"),
    "IMAGING.COUNTER_GAP": (Severity.WARNING, "ScanImage file counters skip a number"),
    "IMAGING.START_UNKNOWN": (Severity.WARNING, "a recording's start time could not be told from the folder's"),
    "IMAGING.UNREADABLE_TIFF": (Severity.WARNING, "a ScanImage TIFF cannot be read by tifffile"),
    "VIDEO.UNREADABLE": (Severity.WARNING, "a video file has no readable header"),
    "SUITE2P.INCOMPLETE": (Severity.WARNING, "a suite2p output lacks planes or files"),
    "SUITE2P.EMPTY_PLANE": (Severity.WARNING, "a suite2p plane folder holds no file"),
    "DLC.INCOMPLETE": (Severity.WARNING, "a DeepLabCut result set lacks files"),
    "DLC.NO_RECORDING": (Severity.WARNING, "a DeepLabCut folder's name matches no recording of its session"),
    "DLC.AMBIGUOUS": (Severity.WARNING, "a DeepLabCut folder's name matches more than one recording"),
    "EPHYS.META_RENAMED": (Severity.WARNING, "the only .ap.meta beside the only .ap.bin has another name: paired"),
    "EPHYS.AMBIGUOUS_PAIR": (Severity.ERROR, "an .ap.bin has several possible .ap.meta partners (or the reverse)"),
    # sessions named by a lab's input file (mass-ingest import)
    "IMPORT.NOT_FOUND": (Severity.ERROR, "a session folder an input file names is not on the share"),
    "IMPORT.NO_LAYOUT": (Severity.ERROR, "a session folder an input file names fits none of its share's layouts"),
    "IMPORT.SUBJECT_MISMATCH": (Severity.ERROR, "the folder's subject is not the input file's subject"),
    "IMPORT.PROBE_MISMATCH": (Severity.ERROR, "a probe the input file associates is not the one in the folder"),
    "IMPORT.NO_CLUSTERING": (Severity.WARNING, "the clustering an input file names is not in the folder"),
}


class Finding(BaseModel):
    """One problem found on a share, with where it is and what to do about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_version: int = Field(1, description="Version of this record's shape, so stored findings stay readable.")
    code: str = Field(description="Stable namespaced code, e.g. 'META.EMPTY'; see CATALOGUE.")
    severity: Severity
    stage: Stage = Field(description="Pipeline stage that found it: access, discover, quality or insert.")
    share: str = Field(description="Name of the share in the profile.")
    path: str = Field("", description="Path relative to the share root ('' for the share itself).")
    message: str = Field(description="What was found and what to do about it.")
    expected: str | None = Field(None, description="The rule that was missed, where one applies.")
    found: str | None = Field(None, description="The value found that missed it, e.g. 'm9' or 'nSavedChans=9999'.")
    origin: str = Field(ORIGIN, description="Validator that produced it, with its version.")

    @field_validator("code")
    @classmethod
    def _code_is_catalogued(cls, code: str) -> str:
        if code not in CATALOGUE:
            raise ValueError(f"finding code {code!r} is not in mass_ingest.findings.CATALOGUE")
        return code

    @field_validator("severity", mode="before")
    @classmethod
    def _severity_by_name(cls, value: Any) -> Any:
        return Severity[value] if isinstance(value, str) else value

    @field_serializer("severity")
    def _severity_name(self, severity: Severity) -> str:
        return severity.name

    def __str__(self) -> str:
        where = f"{self.share}:{self.path}" if self.path else self.share
        return f"{self.severity.name} {self.code} {where}: {self.message}"


def finding(code: str, *, stage: Stage, share: str, path: str = "", message: str,
            expected: str | None = None, found: str | None = None, severity: Severity | None = None) -> Finding:
    """Build a finding with the catalogue's default severity for ``code``."""
    default_severity, _ = CATALOGUE[code]
    return Finding(code=code, severity=severity or default_severity, stage=stage, share=share,
                   path=path, message=message, expected=expected, found=found)
