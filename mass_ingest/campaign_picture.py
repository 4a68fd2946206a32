"""The pictures on the approval page: the campaign over time per subject, and the counts at a glance.

Drawn with matplotlib (Agg, no display) into PNG bytes, which the summary embeds as ``data:`` URIs:
they load in the Prefect UI without internet and without a file link. Readable at campaign size:
the overview aggregates sessions per day, week or month; the per-subject timeline is paged
(:data:`SUBJECTS_PER_PICTURE` subjects each), subjects with problems first, and stops after
:data:`MAX_TIMELINE_PICTURES` pages: the rest are in the per-subject list.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any, NamedTuple

import polars as pl

from mass_ingest.candidates import Status, has_status
from mass_ingest.outcomes import OTHER, OUTCOMES, PROBLEMS, outcome_of

SUBJECTS_PER_PICTURE = 50
# At 5,000 subjects the pages were 100 pictures: ~30 s of drawing before the pause showed (about a fifth of the
# whole flow at 100,000 sessions) and a 19 MB summary no one scrolls through. Ten pages show the 500 subjects
# with the most problems; the per-subject list has every subject.
MAX_TIMELINE_PICTURES = 10
_WIDTH_IN = 9.0  # shown about 700 to 850 px wide in the UIs: 900 px keep 10 pt text readable
_NARROW_IN = 5.5  # the approval form is about 420 px wide
_DPI = 100
_OTHER_COLOUR = "#000000"
# Drawn bottom to top: problems last, so a quarantined session is never hidden under an inserted one.
_DRAW_ORDER = ("excluded", "duplicate", "insert", "held", "pending", "quarantined", OTHER)


def _colour(outcome: str) -> str:
    return OUTCOMES[outcome][1] if outcome in OUTCOMES else _OTHER_COLOUR


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on a worker; set before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    _pyplot().close(figure)
    return buffer.getvalue()


def _bin(span: timedelta) -> tuple[str, str]:
    """(polars truncate interval, words) for bars that stay countable over ``span``."""
    if span <= timedelta(days=62):
        return "1d", "day"
    if span <= timedelta(days=3 * 365):
        return "1w", "week"
    return "1mo", "month"


def with_outcome(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(outcome_of().alias("outcome"))


def _hbar(ax: Any, labels: list[str], values: list[int], colours: list[str], title: str) -> None:
    """Horizontal bars, first label on top, each with its number beside it."""
    positions = list(range(len(labels)))[::-1]
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, labels, fontsize=10)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    top = max(values, default=0) or 1
    for y, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.01, y, f"{value:,}", va="center", fontsize=10)
    ax.set_xlim(0, top * 1.15)
    ax.spines[["top", "right"]].set_visible(False)


def reason_counts(frame: pl.DataFrame, titles: dict[str, str]) -> list[tuple[str, int]]:
    """(reason title, quarantined sessions) by failed expectation, most first; a session failing
    two expectations counts under each."""
    quarantined = frame.filter(has_status(Status.QUARANTINED)).select("quality_failures").explode(
        "quality_failures").drop_nulls()
    counts = quarantined.group_by("quality_failures").len().sort(["len", "quality_failures"],
                                                                 descending=[True, False])
    return [(titles.get(name, name), n) for name, n in counts.iter_rows()]


def counts_png(frame: pl.DataFrame, reason_titles: dict[str, str]) -> bytes:
    """Sessions by what approval does, and quarantined sessions by reason: narrow enough for the approval form."""
    plt = _pyplot()
    framed = with_outcome(frame)
    reasons = reason_counts(frame, reason_titles)
    by = dict(framed.group_by("outcome").len().iter_rows())
    shown = [name for name in (*OUTCOMES, OTHER) if name in OUTCOMES or by.get(name)]
    rows = len(shown) + max(len(reasons), 1)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(_NARROW_IN, 1.4 + 0.42 * rows), layout="constrained",
                                         height_ratios=[len(shown), max(len(reasons), 1) + 0.3])
    _hbar(top, shown, [by.get(n, 0) for n in shown], [_colour(n) for n in shown], "Sessions by what approval does")
    if reasons:
        _hbar(bottom, [_wrap(t, 30) for t, _ in reasons], [n for _, n in reasons],
              [_colour("quarantined")] * len(reasons), "Quarantined sessions by reason")
    else:
        bottom.set_axis_off()
        bottom.set_title("Quarantined sessions by reason", loc="left", fontsize=12, fontweight="bold")
        bottom.text(0, 0.5, "none quarantined", fontsize=11)
    return _png(figure)


def over_time_png(frame: pl.DataFrame) -> bytes:
    """Sessions per day, week or month (whichever keeps the bars countable), stacked by outcome."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(_WIDTH_IN, 3.6), layout="constrained")
    _time_bars(ax, with_outcome(frame))
    return _png(figure)


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:2])


def _time_bars(ax: Any, framed: pl.DataFrame) -> None:
    dated = framed.filter(pl.col("session_start").is_not_null())
    undated = framed.height - dated.height
    if dated.is_empty():
        ax.set_axis_off()
        ax.set_title(f"No session has a start time ({undated:,} sessions)", loc="left", fontsize=12)
        return
    every, word = _bin(dated["session_start"].max() - dated["session_start"].min())
    binned = (dated.with_columns(pl.col("session_start").dt.truncate(every).alias("bin"))
              .group_by("bin", "outcome").len().pivot("outcome", index="bin", values="len").fill_null(0).sort("bin"))
    width = {"1d": 0.8, "1w": 5.6, "1mo": 24}[every]
    bottom = [0] * binned.height
    for outcome in (*OUTCOMES, OTHER):
        if outcome not in binned.columns:
            continue
        values = binned[outcome].to_list()
        ax.bar(binned["bin"].to_list(), values, width=width, bottom=bottom, color=_colour(outcome), label=outcome,
               align="edge")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    note = f"; {undated:,} without a start time are not drawn" if undated else ""
    ax.set_title(f"Sessions per {word} by what approval does ({dated.height:,} sessions{note})", loc="left",
                 fontsize=12, fontweight="bold")
    ax.legend(ncols=7, loc="lower left", fontsize=10, frameon=False, bbox_to_anchor=(0, 1.08))
    _dates(ax)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylabel("sessions")


def subject_order(frame: pl.DataFrame) -> list[str]:
    """Subjects with the most sessions needing attention first (quarantined, pending, held), then by name."""
    framed = with_outcome(frame)
    ranked = (framed.group_by("subject")
              .agg(pl.col("outcome").is_in(list(PROBLEMS)).sum().alias("problems"))
              .with_columns(pl.col("subject").fill_null("(none)"))
              .sort(["problems", "subject"], descending=[True, False]))
    return ranked["subject"].to_list()


class Timelines(NamedTuple):
    """The per-subject timeline pictures, (caption, PNG) each, and how many subjects have none (beyond the last)."""

    pictures: list[tuple[str, bytes]]
    subjects_left_out: int = 0


def timeline_pngs(frame: pl.DataFrame, per_picture: int = SUBJECTS_PER_PICTURE,
                  max_pictures: int = MAX_TIMELINE_PICTURES) -> Timelines:
    """The per-subject timelines, ``per_picture`` subjects each, most problems first, at most ``max_pictures``."""
    order = subject_order(frame)
    framed = with_outcome(frame).with_columns(pl.col("subject").fill_null("(none)"))
    dated = framed.filter(pl.col("session_start").is_not_null())
    if dated.is_empty():
        return Timelines([])
    low, high = dated["session_start"].min(), dated["session_start"].max()
    pad = max((high - low) * 0.02, timedelta(hours=12))
    drawn = order[:per_picture * max_pictures]
    pictures = []
    for first in range(0, len(drawn), per_picture):
        page = drawn[first:first + per_picture]
        caption = (f"Sessions per subject over time, subjects {first + 1}–{first + len(page)} of {len(order)} "
                   "(most problems first)")
        pictures.append((caption, _timeline_png(dated.filter(pl.col("subject").is_in(page)),
                                                 framed.filter(pl.col("subject").is_in(page)), page,
                                                 (low - pad, high + pad), caption)))
    return Timelines(pictures, len(order) - len(drawn))


def _timeline_png(dated: pl.DataFrame, every: pl.DataFrame, subjects: list[str], xlim: tuple, title: str) -> bytes:
    plt = _pyplot()
    rows = {s: i for i, s in enumerate(subjects)}
    figure, ax = plt.subplots(figsize=(_WIDTH_IN, 1.6 + 0.24 * len(subjects)), layout="constrained")
    for outcome in _DRAW_ORDER:
        part = dated.filter(pl.col("outcome") == outcome)
        if part.is_empty() and outcome not in OUTCOMES:
            continue
        ax.scatter(part["session_start"].to_list(), [rows[s] for s in part["subject"].to_list()], marker="|",
                   s=110, linewidths=2.2, color=_colour(outcome), label=f"{outcome}", zorder=3)
    ax.set_yticks(range(len(subjects)), subjects, fontsize=9)
    ax.set_ylim(len(subjects) - 0.5, -0.5)
    ax.set_xlim(*xlim)
    ax.grid(axis="y", color="#eeeeee", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    # Per subject, on the right: what needs attention, so no dot has to be counted.
    tally = every.group_by("subject", "outcome").len()
    for subject, y in rows.items():
        mine = dict(tally.filter(pl.col("subject") == subject).select("outcome", "len").iter_rows())
        words = [f"{mine[o]} {o}" for o in (*PROBLEMS, "insert") if mine.get(o)]
        ax.annotate(", ".join(words), (1.005, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    color=_colour(words[0].split(" ", 1)[1]) if words else "#555555")
    _dates(ax)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(o) for o in (*OUTCOMES, OTHER) if o in labels]  # the legend in the counts' order
    ax.legend([handles[i] for i in order], [labels[i] for i in order], ncols=7, loc="lower left",
              bbox_to_anchor=(0, 1.02 + 0.35 / max(len(subjects), 1)), fontsize=9, frameon=False, borderaxespad=1.2)
    return _png(figure)


def _dates(ax: Any) -> None:
    """Date ticks that never overlap: as many as fit, labelled concisely (2024, Feb, Mar ...)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
