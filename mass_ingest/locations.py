"""Canonical locations, so that one folder written several ways compares equal.

``N:\\x\\y``, ``N:/x/y`` and ``/mnt/N/x/y`` are one place when the profile says share N's
root is /mnt/N with alias ``N:/``; trailing separators never matter, and case does not on a
share that ignores it (``Share.ignores_case``: SMB shares, told by a Windows alias, or
``case_sensitive: false``). On a case-sensitive share the path below the root keeps its case.

Two spellings of one rule: :func:`normalise_location` for one path and
:func:`normalise_locations` for a whole polars column (the pipeline's stored
locations, a million at a time). Both walk the same prefix table, in profile order,
and give the same string for the same input.
"""

from __future__ import annotations

import re

import polars as pl

from mass_ingest.profile import Share


def _norm(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").lower()


def _norm_expr(path: pl.Expr) -> pl.Expr:
    return path.str.replace_all("\\", "/", literal=True).str.strip_chars_end("/").str.to_lowercase()


def _spelled(path: str) -> str:
    """Separators and trailing '/' normalised, case kept."""
    return path.replace("\\", "/").rstrip("/")


def _root(share: Share) -> str:
    return _norm(share.root) if share.ignores_case else _spelled(share.root)


def _prefixes(shares: list[Share]) -> list[tuple[str, str, bool]]:
    """(normalised prefix, canonical root, whether case is kept below it) for each share's root and aliases;
    the first match wins."""
    return [(_norm(prefix), _root(share), not share.ignores_case)
            for share in shares for prefix in [share.root, *share.aliases]]


def canonical_location(share: Share, rel_path: str) -> str:
    """The canonical spelling of ``rel_path`` under ``share`` (lower-cased where the share ignores case)."""
    root = _root(share)
    rel = (_norm(rel_path) if share.ignores_case else _spelled(rel_path)).lstrip("/")
    return f"{root}/{rel}" if rel else root


def share_of(location: str, shares: list[Share]) -> tuple[Share, str] | None:
    """The first share whose root or alias ``location`` is below (in profile order), and the path
    below it as written (case kept, '/' separators); None when it is on none of them."""
    spelled = location.replace("\\", "/").rstrip("/")
    lowered = spelled.lower()
    for share in shares:
        for prefix in (share.root, *share.aliases):
            p = prefix.replace("\\", "/").rstrip("/")
            if lowered == p.lower() or lowered.startswith(p.lower() + "/"):
                return share, spelled[len(p):].strip("/")
    return None


def normalise_location(path: str, shares: list[Share]) -> str:
    """Rewrite any alias spelling to the share root, then canonicalise."""
    found = share_of(path, shares)
    return canonical_location(*found) if found else _norm(path)


def normalise_locations(locations: pl.Series, shares: list[Share]) -> pl.Series:
    """:func:`normalise_location` for a whole column at once (no Python per row); nulls stay null.

    Locations already canonical (below a share root, lower case, single '/', ASCII) are found
    with one regular expression and left as they are; only the others are rewritten, in two
    steps: the spelling is normalised (separators, case, trailing '/'), then one expression
    picks, per row, the first share root or alias it starts with (``when`` / ``starts_with`` per
    prefix, in the order :func:`normalise_location` tries them) and puts the share's root in
    its place. Only the matched prefix's length and root are chosen per prefix; the path is cut
    and joined once, so many aliases cost little more than one.
    """
    prefixes = _prefixes(shares)
    pattern = _canonical_pattern(prefixes)
    if pattern is None:
        return _rewrite(locations, prefixes)
    todo = locations.to_frame("p").select(
        pl.int_range(pl.len(), dtype=pl.UInt32).filter(~pl.col("p").str.contains(pattern).fill_null(True)))
    todo = todo.to_series()
    if todo.is_empty():
        return locations
    return locations.clone().scatter(todo, _rewrite(locations.gather(todo), prefixes))


def _rewrite(locations: pl.Series, prefixes: list[tuple[str, str, bool]]) -> pl.Series:
    # The normalised spellings are made once, then used by every branch of the prefix expression.
    norm = locations.to_frame("p").select(
        _norm_expr(pl.col("p")).alias("norm"),
        pl.col("p").str.replace_all("\\", "/", literal=True).str.strip_chars_end("/").alias("kept"))
    return norm.select(_rewrite_prefix(pl.col("norm"), prefixes, pl.col("kept"))).to_series().alias(locations.name)


def _canonical_pattern(prefixes: list[tuple[str, str, bool]]) -> str | None:
    """A regular expression that only canonical locations match, or None when no root allows one.

    A root is left out when an earlier prefix could take paths below it (nested roots or aliases):
    there the first matching prefix decides, and only the full rewrite knows which it is.
    """
    lower, kept = [], []
    for i, (prefix, root, keeps_case) in enumerate(prefixes):
        if prefix != root.lower() or root in lower + kept or (not keeps_case and prefix != root):
            continue
        earlier = [p for p, _, _ in prefixes[:i]]
        if not any(p == prefix or prefix.startswith(p + "/") or p.startswith(prefix + "/") for p in earlier):
            (kept if keeps_case else lower).append(root)
    if not lower and not kept:
        return None
    # Below the root: one or more '/'-separated parts of printable ASCII other than '/', '\\' (and A-Z where
    # the share ignores case).
    parts = []
    if lower:
        parts.append("(?:" + "|".join(re.escape(root) for root in lower) + r")(?:/[ -.0-@\[\]-~]+)*")
    if kept:
        parts.append("(?:" + "|".join(re.escape(root) for root in kept) + r")(?:/[ -.0-\[\]-~]+)*")
    return "^(?:" + "|".join(parts) + ")$"


def _rewrite_prefix(norm: pl.Expr, prefixes: list[tuple[str, str, bool]], kept: pl.Expr) -> pl.Expr:
    """``kept``: the same paths with their case (for shares that keep it); ``norm`` is lower-cased."""
    if not prefixes:
        return norm
    which = pl.when((norm == prefixes[0][0]) | norm.str.starts_with(prefixes[0][0] + "/")).then(0)
    for i, (prefix, _, _) in enumerate(prefixes[1:], start=1):
        which = which.when((norm == prefix) | norm.str.starts_with(prefix + "/")).then(i)
    numbers = list(range(len(prefixes)))
    cut = which.replace_strict(numbers, [len(prefix) for prefix, _, _ in prefixes], return_dtype=pl.UInt32)
    root = which.replace_strict(numbers, [root for _, root, _ in prefixes], return_dtype=pl.String)
    keeps = which.replace_strict(numbers, [keeps_case for _, _, keeps_case in prefixes], return_dtype=pl.Boolean)
    # Lower-casing never changes an ASCII path's length, so the cut is the same in both spellings.
    rel = pl.when(keeps).then(kept.str.slice(cut)).otherwise(norm.str.slice(cut)).str.strip_chars_start("/")
    return (pl.when(which.is_null()).then(norm)
            .when(rel == "").then(root)
            .otherwise(pl.concat_str(root, pl.lit("/"), rel)))
