"""What will happen to each candidate at approval, in the six words a lab manager reads on the review page.

Statuses are the pipeline's (``ready``, ``moved``, ``copy``, ...); an *outcome* groups them by what
an approval does with the session: it goes in (insert), or stays out for a reason the person can act on.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import Status, has_status

# outcome -> (statuses, colour). Problems a person can act on come right after "insert"; the order is
# the legend's, the counts' and the tables'. Colours: Okabe-Ito, told apart with colour blindness too.
OUTCOMES: dict[str, tuple[tuple[Status, ...], str]] = {
    "insert": ((Status.READY, Status.MOVED, Status.UPDATE), "#009E73"),
    "quarantined": ((Status.QUARANTINED,), "#D55E00"),
    "pending": ((Status.PENDING,), "#E69F00"),
    "held": ((Status.HELD,), "#CC79A7"),
    "duplicate": ((Status.DUPLICATE, Status.COPY), "#56B4E9"),
    "excluded": ((Status.EXCLUDED,), "#999999"),
}
# Outcomes that need a person's attention, drawn on top and listed first.
PROBLEMS = ("quarantined", "pending", "held")
OTHER = "other"  # a status no outcome names (e.g. a later stage's): counted, never dropped


def outcome_of() -> pl.Expr:
    """The outcome of each row's ``status`` (:data:`OTHER` for a status no outcome lists)."""
    expr = pl.lit(OTHER)
    for name, (statuses, _) in reversed(OUTCOMES.items()):
        expr = pl.when(has_status(*statuses)).then(pl.lit(name)).otherwise(expr)
    return expr


def outcome_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Outcome -> candidates, every outcome listed (0 when none), :data:`OTHER` only when some."""
    found = dict(frame.select(outcome_of().alias("outcome")).group_by("outcome").len().iter_rows())
    counts = {name: found.get(name, 0) for name in OUTCOMES}
    if found.get(OTHER):
        counts[OTHER] = found[OTHER]
    return counts
