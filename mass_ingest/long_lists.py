"""Long lists on a terminal: totals first, then the rows that matter most, not thousands of lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

SHOWN = 50  # rows a command prints unless asked for --all


def shown(rows: Sequence, show_all: bool, limit: int = SHOWN) -> tuple[Sequence, str]:
    """The rows to print and, when some are left out, the line that says how to see them."""
    if show_all or len(rows) <= limit:
        return rows, ""
    return rows[:limit], (f"showing the first {limit:,} of {len(rows):,} rows (problems first); "
                          "--all prints every row, --json gives them to a program")


def totals(what: str, values: Iterable[str]) -> str:
    """'2,000 sessions: 1,900 clean, 60 with findings, 40 excluded', most first."""
    counts = Counter(values)
    parts = ", ".join(f"{n:,} {name}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{sum(counts.values()):,} {what}" + (f": {parts}" if parts else "")
