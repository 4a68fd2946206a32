"""The complete lists a person reviews before approving: every candidate, in order, problems first.

Each list is rows of plain strings and numbers (one dict per session), ready to become a Prefect
table artifact; nothing is cut. A list longer than :data:`TABLE_ROWS` is published in parts.
"""

from __future__ import annotations

import textwrap

import polars as pl

from mass_ingest.candidates import Status, has_status
from mass_ingest.findings import CATALOGUE, Stage
from mass_ingest.outcomes import OUTCOMES, PROBLEMS, outcome_of

TABLE_ROWS = 5_000  # rows per table artifact: the UI stays quick; a longer list gets more parts

# list key -> (title, statuses). The order is the summary's.
LISTS: dict[str, tuple[str, tuple[Status, ...]]] = {
    "quarantined": ("Quarantined: not inserted; every failed check, the value found and expected",
                    (Status.QUARANTINED,)),
    "pending": ("Pending: still arriving, looked at again by the next run", (Status.PENDING,)),
    "held": ("Held back by a person: not offered until released", (Status.HELD,)),
    "insert": ("To insert when approved", OUTCOMES["insert"][0]),
    "duplicates": ("Duplicates: already in the pipeline, or a copy within this batch", (Status.DUPLICATE, Status.COPY)),
    "excluded": ("Excluded by the profile", (Status.EXCLUDED,)),
}
_SEP = "; "
# Characters per line of the quarantined table's text columns (a line is about 7 px in either UI).
_WIDTHS = {"why": 36, "found": 24, "expected": 24, "check": 24}


def _text(column: str) -> pl.Expr:
    """A list-of-strings column joined, or a string column as it is; '' for none."""
    return pl.col(column).list.join(_SEP).fill_null("") if column else pl.lit("")


def _warnings() -> pl.Expr:
    """Every finding above INFO that is not a quality failure, as 'CODE at path: message'."""
    return (pl.col("findings").list.filter((pl.element().struct.field("severity") != "INFO")
                                           & (pl.element().struct.field("stage") != Stage.QUALITY))
            .list.eval(pl.format("{} at {}: {}", pl.element().struct.field("code"),
                                 pl.element().struct.field("path"), pl.element().struct.field("message")))
            .list.join(_SEP))


def _start() -> pl.Expr:
    return pl.col("session_start").dt.strftime("%Y-%m-%d %H:%M").fill_null("unknown")


def _where() -> list[pl.Expr]:
    """The columns that say where a session is: last, as the UIs never wrap a table cell."""
    return [_start().alias("start"), pl.col("share"), pl.col("rel_path").alias("folder")]


def _held_reason(frame: pl.DataFrame) -> pl.Expr:
    for column in ("held_reason", "hold_reason", "held_note"):
        if column in frame.columns:
            return pl.col(column).cast(pl.String).fill_null("")
    return pl.lit("held by a person")


def _lines(column: pl.Expr, width: int) -> pl.Expr:
    """Text broken into lines of at most ``width`` characters at spaces (a path or word is never split).

    The classic UI shows each line of a table cell; the new one never wraps a cell and shows the line
    breaks as spaces, so the text reads the same there.
    """
    return column.map_elements(lambda text: "\n".join(textwrap.wrap(text, width, break_long_words=False,
                                                                      break_on_hyphens=False)) or text,
                               return_dtype=pl.String)


def _failures(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per failed expectation of each quarantined session, by what failed.

    Narrow, the deciding columns first: the session; why, in a sentence with the value found and the fix;
    the value found and what was expected; the check; where the folder is (share:folder, as the CLI prints).
    """
    titles = {code.removeprefix("QUALITY.").lower(): text for code, (_, text) in CATALOGUE.items()
              if code.startswith("QUALITY.")}
    exploded = rows.select("session_id", "share", "rel_path", "findings").explode("findings")
    found = exploded.filter(pl.col("findings").struct.field("stage") == Stage.QUALITY).with_columns(
        pl.col("findings").struct.field("code").str.replace("QUALITY.", "", literal=True).str.to_lowercase()
        .alias("_check"))
    field = pl.col("findings").struct.field
    return found.sort("_check", "session_id").select(
        pl.col("session_id").alias("session"),
        _lines(field("message"), _WIDTHS["why"]).alias("why"),
        _lines(field("found").fill_null(""), _WIDTHS["found"]).alias("found"),
        _lines(field("expected").fill_null(""), _WIDTHS["expected"]).alias("expected"),
        _lines(pl.col("_check").replace_strict(titles, default=pl.col("_check")), _WIDTHS["check"]).alias("check"),
        pl.format("{}:{}", pl.col("share"), pl.col("rel_path")).alias("where"))


def review_lists(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """List key (:data:`LISTS`) -> its rows, every matching candidate, problems first within the list.

    The UIs never wrap a table cell, so the columns a person decides on come first (the session,
    what is wrong or what goes in) and where it is comes last (start, share, folder).

    - quarantined: one row per failed expectation (a session failing two is listed twice), by what failed,
      its text broken into short lines (see :func:`_failures`);
    - insert: sessions with warnings first, then new before moved or updated, then by session;
    - the others by session.
    """
    lists: dict[str, pl.DataFrame] = {}
    for key, (_, statuses) in LISTS.items():
        rows = frame.filter(has_status(*statuses))
        session = pl.col("session_id").alias("session")
        if key == "quarantined":
            table = _failures(rows)
        elif key == "pending":
            table = rows.sort("session_id").select(session, _text("pending_reasons").alias("why"), *_where())
        elif key == "held":
            table = rows.sort("session_id").select(session, _held_reason(rows).alias("why"), *_where())
        elif key == "insert":
            what = (pl.when(has_status(Status.UPDATE))
                    .then(pl.format("new data: {}", pl.col("new_parts").list.join(", ")))
                    .when(has_status(Status.MOVED)).then(pl.format("moved: {}", pl.col("dedup_reason")))
                    .otherwise(pl.lit("new session")))
            table = (rows.with_columns(_warnings().alias("_warnings"), (~has_status(Status.READY)).alias("_known"))
                     .sort([pl.col("_warnings") == "", "_known", "session_id"])
                     .select(session, what.alias("what"), pl.col("probes").list.len().alias("probes"),
                             _text("projects").alias("projects"), pl.col("_warnings").alias("warnings"), *_where()))
        elif key == "duplicates":
            kind = pl.when(has_status(Status.COPY)).then(pl.lit("copy in this batch")).otherwise(
                pl.lit("in the pipeline"))
            table = rows.sort("session_id").select(session, kind.alias("kind"),
                                                   pl.col("dedup_reason").fill_null("").alias("why"), *_where())
        else:
            table = rows.sort("session_id").select(session, pl.col("excluded_by").fill_null("").alias("rule"),
                                                   *_where())
        lists[key] = table
    return lists


def per_subject(frame: pl.DataFrame) -> pl.DataFrame:
    """Sessions per subject and outcome, subjects needing attention (quarantined, pending, held) first."""
    framed = frame.with_columns(outcome_of().alias("outcome"), pl.col("subject").fill_null("(none)"))
    counts = framed.group_by("subject").agg(
        *[(pl.col("outcome") == name).sum().alias(name) for name in OUTCOMES],
        pl.col("session_start").min().dt.strftime("%Y-%m-%d").alias("first"),
        pl.col("session_start").max().dt.strftime("%Y-%m-%d").alias("last"))
    return counts.with_columns(pl.sum_horizontal(*PROBLEMS).alias("_problems")).sort(
        ["_problems", "subject"], descending=[True, False]).drop("_problems")


def part_frames(rows: pl.DataFrame, size: int = TABLE_ROWS) -> list[pl.DataFrame]:
    """``rows`` in slices of at most ``size`` rows (one, empty, for an empty list); slices share the frame's memory,
    so a part becomes row dicts only when it is published (the 100,000 of a whole list at once were ~70 MB)."""
    return [rows.slice(i, size) for i in range(0, rows.height, size)] or [rows.clear()]

