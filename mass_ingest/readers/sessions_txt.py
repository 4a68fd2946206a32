"""Task hints from ``sessions.txt``: ``#1,    open_field_1    start=30    <RUNNING>``."""

from __future__ import annotations

import re

from mass_ingest.candidates import TaskHint
from mass_ingest.findings import Finding, Stage, finding

# Name and type are bounded by the columns they are stored in (Session.Task: 128 and 64 characters),
# so a line that could not be stored is a finding here rather than a failed insert later.
_LINE = re.compile(r"^#(?P<order>\d+),\s*(?P<name>\S{1,128})\s+start=(?P<start>\d+(?:\.\d+)?)\s*"
                   r"(?:<(?P<kind>[^>]{0,64})>)?\s*$")


def parse_sessions_txt(text: str, *, share: str, rel_path: str) -> tuple[list[TaskHint], list[Finding]]:
    """Ordered task hints, and a finding for each line that does not read as one."""
    hints: list[TaskHint] = []
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        if match is None:
            findings.append(finding("TASKS.MALFORMED_LINE", stage=Stage.DISCOVER, share=share, path=rel_path,
                                    message=f"line {number} '{line.strip()[:80]}' is not like "
                                    "'#1, open_field_1 start=30 <RUNNING>' (a name of up to 128 characters, a type of up to 64); "
                                    "correct the line, or enter the task by hand once the session is in "
                                    "(`mass-ingest todo`)",
                                    expected="#<n>, <name> start=<seconds> <TYPE>"))
            continue
        hints.append(TaskHint(order=int(match["order"]), name=match["name"], start_s=float(match["start"]),
                              kind=match["kind"] or ""))
    hints.sort(key=lambda h: (h.start_s, h.order))
    return hints, findings
