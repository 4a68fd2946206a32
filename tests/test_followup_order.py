"""The follow-up list's order: gathered a column at a time, the same as sorting the whole frame."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import polars as pl

from mass_ingest.db.followup import FOLLOWUP_SCHEMA, _sorted


def _items(rng: random.Random, first: int, n: int) -> pl.DataFrame:
    rows = [{"item_id": f"{first + i:016x}", "session_id": f"s{first + i}", "subject": rng.choice(["b", "a", None, "c"]),
             "session_start": None if rng.random() < 0.1 else datetime(2024, 1, 1) + timedelta(hours=rng.randint(0, 40)),
             "need": rng.choice(["task", "arena", "subject", "clustering"]),
             "item": rng.choice(["1. run", "2. sleep", "10. run", "tasks", None]), "detail": f"detail {first + i}"}
            for i in range(n)]
    return pl.DataFrame(rows, schema=FOLLOWUP_SCHEMA, orient="row")


def test_items_are_in_the_order_of_a_sort_of_the_whole_frame_ties_and_nulls_included():
    rng = random.Random(15)
    frames = [_items(rng, i * 3000, 3000) for i in range(5)]  # many ties: their order must stay the batches'
    expected = pl.concat(frames).sort("subject", "session_start", "need", "item", maintain_order=True,
                                      nulls_last=False)
    given = list(frames)
    assert _sorted(given).equals(expected)
    assert given == []  # let go of: the point is holding one copy of the items
    assert _sorted([pl.DataFrame(schema=FOLLOWUP_SCHEMA)]).equals(pl.DataFrame(schema=FOLLOWUP_SCHEMA))
