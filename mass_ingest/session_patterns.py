"""Which sessions a person's pattern names: ``--exclude`` at approval, and ``mass-ingest release``.

A pattern is a session id ('25843/2024-03-05_10-30-58'), a glob of one ('26018/*'), or the folder as
the share shows it: relative to the share ('25843/2024-03-05_10-30-58' again, or 'N:25843/...'), or
the whole path in any spelling the profile knows ('/mnt/N/25843/...', 'N:\\25843\\...'). A pattern
that names nothing is an error with the nearest ids, never silently nothing: the session it meant
would otherwise go in.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Sequence

import polars as pl

from mass_ingest.errors import MassIngestError
from mass_ingest.locations import _norm, normalise_location
from mass_ingest.profile import Share

# The columns a pattern is matched against (a candidate frame and the held-session rows both have them).
COLUMNS = ("candidate_id", "session_id", "share", "rel_path", "location")


class PatternError(MassIngestError):
    """A pattern names none of the sessions it could name."""


def _matcher(pattern: str, shares: Sequence[Share]) -> Callable[[dict], bool]:
    text = pattern.strip()
    glob = re.compile(fnmatch.translate(text.replace("\\", "/").strip("/"))).match
    where = normalise_location(text, list(shares)) if shares else _norm(text)
    place = re.compile(fnmatch.translate(where)).match

    def matches(row: dict) -> bool:
        return bool(row["candidate_id"] == text or glob(row["session_id"]) or glob(row["rel_path"])
                    or glob(f"{row['share']}:{row['rel_path']}") or place(row["location"]))
    return matches


def match_patterns(rows: pl.DataFrame, patterns: Sequence[str], shares: Sequence[Share] = ()) -> pl.Series:
    """Per row of ``rows`` (with :data:`COLUMNS`): whether any of ``patterns`` names it."""
    if not patterns or rows.is_empty():
        return pl.Series("matched", [False] * rows.height, dtype=pl.Boolean)
    matchers = [_matcher(p, shares) for p in patterns]
    return pl.Series("matched", [any(m(row) for m in matchers) for row in rows.select(COLUMNS).iter_rows(named=True)],
                     dtype=pl.Boolean)


def unmatched_patterns(rows: pl.DataFrame, patterns: Sequence[str], shares: Sequence[Share] = ()) -> dict[str, list[str]]:
    """The patterns that name none of ``rows``, each with the nearest session ids (closest first)."""
    found: dict[str, list[str]] = {}
    listed = rows.select(COLUMNS).to_dicts()
    ids = sorted({r["session_id"] for r in listed})
    for pattern in patterns:
        matcher = _matcher(pattern, shares)
        if not any(matcher(r) for r in listed):
            found[pattern] = nearest(pattern, ids)
    return found


def nearest(pattern: str, ids: Sequence[str], n: int = 5) -> list[str]:
    """The ids most like ``pattern``: compared with as much of each id as the pattern has (without its glob
    characters), so '25834/*' finds '25843/2024-...'; a whole path is compared by its last two parts."""
    text = re.sub(r"[*?\[\]]", "", pattern.replace("\\", "/")).strip("/")
    if text.count("/") > 2:
        text = "/".join(text.split("/")[-2:])
    if not text:
        return []
    scored = sorted(((difflib.SequenceMatcher(None, text, i[:len(text)]).ratio(), i) for i in ids),
                    key=lambda pair: (-pair[0], pair[1]))
    return [i for score, i in scored[:n] if score >= 0.5]


def refusal_message(unmatched: dict[str, list[str]], what: str) -> str:
    """'pattern 'x' matches no <what>; nearest: a, b' for each unmatched pattern."""
    return "; ".join(f"pattern '{p}' matches no {what}" + (f" (nearest: {', '.join(near)})" if near else
                                                          " (none is close)")
                     for p, near in unmatched.items())
