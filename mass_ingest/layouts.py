"""Layout templates: ``recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}``.

A template is split on '/' into one pattern per folder level, so a field can never
capture a path separator, and the walker can prune the tree level by level instead of
listing everything below the root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

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
    # (field, pattern of its format's shape): digits where the format has numbers, its punctuation
    shapes: tuple[tuple[str, re.Pattern], ...] = ()

    @property
    def field_names(self) -> set[str]:
        return set() if self.parser is None else set(self.parser.named_fields)

    def match(self, name: str) -> dict[str, str] | None:
        """Field values captured from one folder name, or None when it does not fit.

        A date field must start in its format's shape (``2024-02-30_10-00-00`` and
        ``2024-03-05_10-30-58_copy`` have the shape of ``%Y-%m-%d_%H-%M-%S``, ``20220419`` does not):
        a folder of another layout's format is not this layout's, while an impossible date or a
        suffix after a date of the right shape is (a typo or a copy, reported on it). More numbers
        after the shape (``2020-01-01_10-00-30`` for ``%Y-%m-%d``) are a longer format, not a suffix.
        """
        if self.parser is None:
            return {} if name == self.text else None
        result = self.parser.parse(name)
        if result is None:
            return None
        captured = {k: str(v) for k, v in result.named.items()}
        for field, shape in self.shapes:
            text = captured.get(field, "")
            fits = shape.match(text)
            if not fits or _MORE_NUMBERS.match(text, fits.end()):
                return None
        return captured


@dataclass(frozen=True)
class LayoutTemplate:
    """A compiled template: one :class:`SegmentPattern` per folder level."""

    template: str
    segments: tuple[SegmentPattern, ...]

    @property
    def depth(self) -> int:
        return len(self.segments)

    @property
    def has_time_of_day(self) -> bool:
        """Whether the folder names give the time of day, not only the date."""
        return any(_TIME_OF_DAY.search(fmt) for segment in self.segments for _, fmt in segment.date_formats)

    @property
    def prefix(self) -> str:
        """The literal folders the template starts with ('recordings'), '' when its first level has a field."""
        literal = []
        for segment in self.segments:
            if segment.parser is not None:
                break
            literal.append(segment.text)
        return "/".join(literal)

    @classmethod
    def compile(cls, template: str) -> "LayoutTemplate":
        _refuse_unreachable(template)
        parts = template.strip("/").split("/")
        if not template.strip("/") or any(p == "" for p in parts):
            raise ValueError(f"layout template '{template}' has an empty folder level")
        seen: set[str] = set()
        segments = []
        for part in parts:
            if part in (".", ".."):
                raise ValueError(f"layout template '{template}': the folder level '{part}' can never match a "
                                 "folder below the share root; write the path from the root down, without "
                                 "'.' or '..' (or add the other place as a share)")
            stray = _FIELD.sub("", part)
            if "{" in stray or "}" in stray:
                raise ValueError(f"layout template '{template}': unbalanced braces in '{part}'; each field is "
                                 "written {name} or {name:format}, with one '{' and one '}'")
            fields = _FIELD.findall(part)
            for name, fmt in fields:
                if name not in _DATE_FIELDS | _PLAIN_FIELDS:
                    raise ValueError(f"layout template '{template}': unknown field {{{name}}}; "
                                     f"use {sorted(_DATE_FIELDS | _PLAIN_FIELDS)}")
                if name in _DATE_FIELDS and not fmt:
                    raise ValueError(f"layout template '{template}': {{{name}}} needs a strftime format, "
                                     f"e.g. {{{name}:%Y-%m-%d_%H-%M-%S}}")
                if name in _DATE_FIELDS:
                    _check_directives(template, fmt)
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
            shapes = tuple((n, format_shape(f)) for n, f in dates)
            segments.append(SegmentPattern(part, parse.compile(bare, case_sensitive=True), dates, shapes))
        if "subject" not in seen:
            raise ValueError(f"layout template '{template}' has no {{subject}} field")
        if not seen & _DATE_FIELDS:
            raise ValueError(f"layout template '{template}' has no {{session_time:...}} or {{session_date:...}} field")
        return cls(template, tuple(segments))


_TIME_OF_DAY = re.compile(r"%[HIMSXcTRp]")
_MORE_NUMBERS = re.compile(r"[-_. :]?[0-9]")
# What each strftime directive looks like in a folder name; unpadded numbers allowed, as strptime allows.
_SHAPES = {"Y": "[0-9]{4}", "y": "[0-9]{2}", "m": "[0-9]{1,2}", "d": "[0-9]{1,2}", "H": "[0-9]{1,2}",
           "I": "[0-9]{1,2}", "M": "[0-9]{1,2}", "S": "[0-9]{1,2}", "j": "[0-9]{1,3}", "f": "[0-9]{1,6}",
           "b": "[A-Za-z]+", "B": "[A-Za-z]+", "a": "[A-Za-z]+", "A": "[A-Za-z]+", "p": "[A-Za-z]+", "%": "%"}


@lru_cache(maxsize=64)
def format_shape(fmt: str) -> re.Pattern:
    """A pattern for the text ``fmt`` writes: its numbers as digits, its other characters as they are.

    Directives without a fixed look (%c, %x, %Z ...) match anything, so such a format keeps
    every folder and lets strptime judge it, as before.
    """
    parts = re.split(r"%(.)", fmt)
    pattern = ""
    for i, part in enumerate(parts):
        if i % 2:
            pattern += _SHAPES.get(part, ".+?")
        else:
            pattern += "".join(r"\s+" if c.isspace() else re.escape(c) for c in part)
    return re.compile(pattern)


# The directives datetime.strptime reads (Python 3.11); any other '%x' fails on every folder.
_STRPTIME_DIRECTIVES = set("aAwdbBmyYHIpMSfzZjUWcxXGuV%")


def _refuse_unreachable(template: str) -> None:
    """A template is a path below the share root: an absolute or Windows path can never match there."""
    if template.startswith("/") or "\\" in template or re.match(r"^[A-Za-z]:", template):
        raise ValueError(f"layout template '{template}' is an absolute path; a template is the path of a session "
                         "folder below the share root, e.g. 'recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}' "
                         "(put where the share is mounted under root)")


def _check_directives(template: str, fmt: str) -> None:
    for directive in re.findall(r"%(.?)", fmt.replace("%%", "")):
        if directive not in _STRPTIME_DIRECTIVES:
            shown = f"%{directive}" if directive else "a lone '%' at the end"
            raise ValueError(f"layout template '{template}': {shown} is not a strftime directive, so no folder "
                             "name could ever match; use %Y %m %d %H %M %S (see Python's strftime codes)")


_FIXED_WIDTH = {"Y": r"([0-9]{4})", "m": r"([0-9]{2})", "d": r"([0-9]{2})", "H": r"([0-9]{2})",
                "M": r"([0-9]{2})", "S": r"([0-9]{2})"}


@lru_cache(maxsize=64)
def _fixed_width(fmt: str) -> tuple[re.Pattern, tuple[int, ...]] | None:
    """A pattern for ``fmt``'s usual spelling (zero-padded ASCII fields), or None.

    Only formats made of %Y %m %d %H %M %S, punctuation and letters get one; letters match in
    any case, as in strptime. The index of each field in (year, month, day, hour, minute,
    second) says where its number goes.
    """
    parts = re.split(r"%(.)", fmt)
    order = "YmdHMS"
    pattern, where = "", []
    for i, part in enumerate(parts):
        if i % 2:
            if part not in _FIXED_WIDTH or order.index(part) in where:
                return None
            pattern += _FIXED_WIDTH[part]
            where.append(order.index(part))
        elif re.search(r"[\s0-9%]", part):  # strptime takes any run of white space for one
            return None
        else:
            pattern += re.escape(part)
    return (re.compile(pattern, re.IGNORECASE), tuple(where)) if {0, 1, 2} <= set(where) else None


def parse_time(text: str, fmt: str) -> datetime:
    """``datetime.strptime(text, fmt)``, with a fast path for zero-padded dates (same result or error).

    strptime looks up the locale and compiles its pattern cache on each call (~10 us); discovery
    parses three dates per session, so the usual spelling is read with one regular expression.
    Anything else (unpadded fields, other directives, an impossible date) goes to strptime itself.
    """
    compiled = _fixed_width(fmt)
    if compiled is not None:
        match = compiled[0].fullmatch(text)
        if match:
            values = [1900, 1, 1, 0, 0, 0]
            for index, number in zip(compiled[1], match.groups()):
                values[index] = int(number)
            try:
                return datetime(*values)
            except ValueError:
                pass  # let strptime raise its own error
    return datetime.strptime(text, fmt)


def parse_session_start(fields: dict[str, str], segments: tuple[SegmentPattern, ...]) -> datetime:
    """The session start from captured date fields; raises ValueError naming the format."""
    for segment in segments:
        for name, fmt in segment.date_formats:
            if name in fields:
                try:
                    return parse_time(fields[name], fmt)
                except ValueError:
                    raise ValueError(f"'{fields[name]}' does not read as {fmt}") from None
    raise ValueError("no date field captured")
