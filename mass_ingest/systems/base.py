"""What every recording system module provides.

A system states what it recognises in plain class attributes (as neuroconv interfaces do)
and reads one session folder's file list, already collected in one pass by the walker. It
returns what it found and findings; it never raises for data problems and never lists the
tree itself (so discovery stays one pass over the share).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from mass_ingest.candidates import Output, ProbeRecording, Recording, TaskHint
from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.file_list import FileList


@dataclass(frozen=True)
class SessionFiles:
    """One session folder as the systems see it."""

    share: str
    session_rel: str            # session folder relative to the share root
    subject: str
    files: FileList             # every file below the folder; ask it by folder or suffix, not file by file
    combined: bool = True       # the layout's `combined` switch (imaging)

    def finding(self, code: str, rel: str, message: str, expected: str | None = None) -> Finding:
        """A discovery finding on ``rel`` (relative to the session folder; '' for the folder)."""
        path = f"{self.session_rel}/{rel}" if rel else self.session_rel
        return finding(code, stage=Stage.DISCOVER, share=self.share, path=path, message=message, expected=expected)


@dataclass
class Recognised:
    """What one system found in one session folder."""

    probes: list[ProbeRecording] = field(default_factory=list)
    bins_without_meta: list[str] = field(default_factory=list)
    task_hints: list[TaskHint] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.probes or self.bins_without_meta or self.task_hints or self.recordings or self.outputs)


class RecordingSystem:
    """Base of the recording-system plug-ins; subclasses set the class attributes and ``recognise``."""

    name: ClassVar[str]                       # key used in profiles (layouts[].systems)
    display_name: ClassVar[str]
    modality: ClassVar[str]                   # ephys, imaging, tracking or behaviour
    associated_suffixes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        raise NotImplementedError
