"""Layout templates: ``recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}``.

A template is split on '/' into one pattern per folder level, so a field can never
capture a path separator, and the walker can prune the tree level by level instead of
listing everything below the root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import parse

# Fields a template may use, and whether they carry a strftime format.
_DATE_FIELDS = {"session_time", "session_date"}
_PLAIN_FIELDS = {"subject"}
_FIELD = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")


@dataclass(frozen=True)
class SegmentPattern:
    """The pattern for one folder level."""

    text: str
    parser: parse.Parser | None  # None for a literal folder name
    date_formats: tuple[tuple[str, str], ...]  # (field, strftime format)

    @property
    def field_names(self) -> set[str]:
        return set() if self.parser is None else set(self.parser.named_fields)

    def match(self, name: str) -> dict[str, str] | None:
        """Field values captured from one folder name, or None when it does not fit."""
        if self.parser is None:
            return {} if name == self.text else None
        result = self.parser.parse(name)
        return None if result is None else {k: str(v) for k, v in result.named.items()}


@dataclass(frozen=True)
class LayoutTemplate:
    """A compiled template: one :class:`SegmentPattern` per folder level."""

    template: str
    segments: tuple[SegmentPattern, ...]

    @property
    def depth(self) -> int:
        return len(self.segments)

    @classmethod
    def compile(cls, template: str) -> "LayoutTemplate":
        parts = template.strip("/").split("/")
        if not template.strip("/") or any(p == "" for p in parts):
            raise ValueError(f"layout template '{template}' has an empty folder level")
        seen: set[str] = set()
        segments = []
        for part in parts:
            fields = _FIELD.findall(part)
            for name, fmt in fields:
                if name not in _DATE_FIELDS | _PLAIN_FIELDS:
                    raise ValueError(f"layout template '{template}': unknown field {{{name}}}; "
                                     f"use {sorted(_DATE_FIELDS | _PLAIN_FIELDS)}")
                if name in _DATE_FIELDS and not fmt:
                    raise ValueError(f"layout template '{template}': {{{name}}} needs a strftime format, "
                                     f"e.g. {{{name}:%Y-%m-%d_%H-%M-%S}}")
                if name in seen:
                    raise ValueError(f"layout template '{template}': field {{{name}}} appears twice")
                seen.add(name)
            if not fields:
                segments.append(SegmentPattern(part, None, ()))
                continue
            # Dates are captured as text and parsed by strptime later, so that an odd date
            # becomes a finding on that folder instead of a silent non-match.
            bare = _FIELD.sub(lambda m: "{" + m.group(1) + "}", part)
            dates = tuple((n, f) for n, f in fields if n in _DATE_FIELDS)
            segments.append(SegmentPattern(part, parse.compile(bare, case_sensitive=True), dates))
        if "subject" not in seen:
            raise ValueError(f"layout template '{template}' has no {{subject}} field")
        if not seen & _DATE_FIELDS:
            raise ValueError(f"layout template '{template}' has no {{session_time:...}} or {{session_date:...}} field")
        return cls(template, tuple(segments))


def parse_session_start(fields: dict[str, str], segments: tuple[SegmentPattern, ...]) -> datetime:
    """The session start from captured date fields; raises ValueError naming the format."""
    for segment in segments:
        for name, fmt in segment.date_formats:
            if name in fields:
                try:
                    return datetime.strptime(fields[name], fmt)
                except ValueError:
                    raise ValueError(f"'{fields[name]}' does not read as {fmt}") from None
    raise ValueError("no date field captured")
