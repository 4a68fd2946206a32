"""The markdown a person reads at the approval pause: headline counts, the pictures, why sessions are
quarantined (grouped, with examples), and links to the complete lists.

Readable for thousands of candidates: nothing here lists every session; the complete, ordered lists are
table artifacts (:mod:`mass_ingest.review_tables`) this page links to, and the pictures
(:mod:`mass_ingest.campaign_picture`) are embedded as ``data:`` URIs, which both Prefect UIs show.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from typing import TYPE_CHECKING

import polars as pl

from mass_ingest.candidates import OFFERED, Status, has_status, status_counts
from mass_ingest.findings import CATALOGUE
from mass_ingest.outcomes import outcome_counts

if TYPE_CHECKING:
    from mass_ingest.campaign_picture import Timelines

ROWS = 50  # rows per markdown table; the complete lists are table artifacts
_CELL = 160  # characters of one finding's message in a cell

# What the counts' columns mean, in the order shown: column -> statuses it counts.
CATEGORIES: dict[str, tuple[Status, ...]] = {
    "ready": (Status.READY,),
    "quarantined": (Status.QUARANTINED,),
    "pending": (Status.PENDING,),
    "in pipeline": (Status.DUPLICATE,),
    "copy": (Status.COPY,),
    "moved or new data": (Status.MOVED, Status.UPDATE),
    "excluded": (Status.EXCLUDED,),
}


def offered(frame: pl.DataFrame) -> pl.DataFrame:
    """The candidates the approval offers for insertion (:data:`mass_ingest.candidates.OFFERED`)."""
    return frame.filter(has_status(*OFFERED))


def shown_digest(frame: pl.DataFrame) -> str:
    """Digest of the candidates that would be inserted: what the approver was shown."""
    ready = sorted(offered(frame)["candidate_id"].to_list())
    return hashlib.sha256("\n".join(ready).encode()).hexdigest()[:16]


def _wrapped(text: str, width: int) -> str:
    """``text`` with a <br> before every ``width`` characters (at spaces): the old UI never wraps a table cell."""
    import re
    import textwrap

    keep = "\x00"  # spaces inside `code` stay: a line break there would end the code span
    text = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", keep), text)
    lines = ("<br>".join(textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False))
             for part in text.split("<br>"))
    return "<br>".join(lines).replace(keep, " ")


def markdown_table(rows: pl.DataFrame, columns: list[str], what: str = "rows", limit: int = ROWS,
                   wrap: int | dict[str, int] | None = None) -> str:
    """A markdown table of ``columns``, cut after ``limit`` rows with "... and N more <what>"; cells longer
    than ``wrap`` characters (or ``wrap[column]``) are broken into lines (both UIs show the <br>)."""
    if rows.is_empty():
        return "_none_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows.head(limit).select(columns).iter_rows():
        cells = ["" if v is None else str(v).replace("|", "\\|").replace("\n", " ") for v in row]
        if wrap:
            widths = wrap if isinstance(wrap, dict) else dict.fromkeys(columns, wrap)
            cells = [_wrapped(c, widths[col]) if widths.get(col) else c for c, col in zip(cells, columns, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    if rows.height > limit:
        lines.append(f"\n... and {rows.height - limit} more {what}")
    return "\n".join(lines) + "\n"


def counts_by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Candidates per value of ``key`` (a list column counts each of its values) and :data:`CATEGORIES`.

    Sorted by most ready first, then by the key; a candidate without a value counts under "(none)".
    """
    keyed = frame.select(key, "status")
    if isinstance(frame.schema[key], pl.List):
        keyed = keyed.with_columns(pl.when(pl.col(key).list.len() > 0).then(key)).explode(key)
    keyed = keyed.with_columns(pl.col(key).cast(pl.String).fill_null("(none)"))
    return (keyed.group_by(key)
            .agg(*[has_status(*s).sum().alias(c) for c, s in CATEGORIES.items()])
            .sort(["ready", key], descending=[True, False]))


_EXAMPLES = 3  # example sessions per quarantine reason


def new_subjects(frame: pl.DataFrame) -> pl.DataFrame:
    """Subjects the offered sessions name that the pipeline does not know (``subject``, ``sessions``,
    ``created``: "new subject S will be created"): insertion creates them, as the lab allows for imaging."""
    if "new_subject" not in frame.columns:
        return pl.DataFrame(schema={"subject": pl.String, "sessions": pl.UInt32, "created": pl.String})
    return (offered(frame).filter(pl.col("new_subject")).group_by("subject").agg(pl.len().alias("sessions"))
            .sort("subject").with_columns(pl.format("new subject {} will be created", "subject").alias("created")))



def _n(count: int, one: str, many: str = "") -> str:
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def png_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI: shown by both Prefect UIs without a file link or internet."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def reason_titles() -> dict[str, str]:
    """Expectation name -> what failing it means (its finding code's CATALOGUE text)."""
    return {code.removeprefix("QUALITY.").lower(): text for code, (_, text) in CATALOGUE.items()
            if code.startswith("QUALITY.")}


def grouped_reasons(frame: pl.DataFrame, examples: int = _EXAMPLES) -> pl.DataFrame:
    """Quarantined sessions per failed expectation, most first: ``reason`` (title), ``expectation``,
    ``sessions`` and ``examples`` (a few sessions with their sentence). Every failure counts, so a session
    failing two expectations is under both."""
    quarantined = frame.filter(has_status(Status.QUARANTINED)).select(
        "session_id", "subject", "quality_failures", "quality_reasons").explode("quality_failures", "quality_reasons")
    titles = reason_titles()
    # Examples from different subjects where there are: three sessions of one animal tell less.
    repeat = pl.col("subject").is_first_distinct().not_().over("quality_failures")
    grouped = (quarantined.drop_nulls("quality_failures").sort("session_id").with_columns(repeat.alias("_repeat"))
               .sort("_repeat", maintain_order=True)
               .group_by("quality_failures", maintain_order=True)
               .agg(pl.len().alias("sessions"),
                    pl.format("`{}`: {}", "session_id", pl.col("quality_reasons").str.slice(0, _CELL))
                    .head(examples).alias("examples"))
               .sort(["sessions", "quality_failures"], descending=[True, False]))
    return grouped.select(
        pl.col("quality_failures").replace_strict(titles, default=pl.col("quality_failures")).alias("reason"),
        pl.col("quality_failures").alias("expectation"), "sessions",
        (pl.col("examples").list.join("<br>")
         + pl.when(pl.col("sessions") > examples).then(pl.format("<br>… and {} more", pl.col("sessions") - examples))
         .otherwise(pl.lit(""))).alias("examples"))


def _links(links: dict[str, list[tuple[str, str]]], titles: dict[str, str], counts: dict[str, int]) -> str:
    lines = []
    for key, title in titles.items():
        found = links.get(key, [])
        if not found:
            continue
        anchors = ", ".join(f"[{label}]({url})" for label, url in found)
        lines.append(f"- **{title}** ({counts.get(key, 0):,}): {anchors}")
    return "\n".join(lines) + "\n" if lines else "_none_\n"


def _timeline_markdown(timelines: Timelines, subject_list: list[tuple[str, str]] | None) -> str:
    pictures = "".join(f"![{caption}]({png_uri(png)})\n\n" for caption, png in timelines.pictures)
    left_out = timelines.subjects_left_out
    if not left_out:
        return pictures
    where = (f"[the per-subject list]({subject_list[0][1]})" if subject_list else "the per-subject list")
    return (pictures + f"_{_n(left_out, 'more subject')} not drawn (subjects are drawn most problems first): their "
            f"sessions by outcome are in {where}._\n\n")


def listing_command(input_file: str | None = None) -> str:
    """The command that lists every candidate of an ingest with its decision and reasons: `validate` of the
    profile, or of the input file for an import (a share scan of the profile would list other sessions)."""
    return "mass-ingest validate PROFILE" + (f" --input-file {shlex.quote(input_file)}" if input_file else "")


def approval_markdown(frame: pl.DataFrame, profile_name: str, profile_hash: str, ingest_id: str, *,
                      links: dict[str, list[tuple[str, str]]] | None = None,
                      list_titles: dict[str, str] | None = None,
                      counts: bytes | None = None, over_time: bytes | None = None,
                      timelines: Timelines | None = None, quality_report: str | None = None,
                      compact: bool = False, full_summary: str | None = None, input_file: str | None = None) -> str:
    """The summary shown on the approval page.

    Args:
        frame: the quality stage's classified candidates (``status``: ready, quarantined, ...).
        links: list key -> (label, URL) of each part of its table artifact (the complete lists).
        list_titles: list key -> its title, in the order to show.
        counts: picture of the counts by outcome and by quarantine reason (PNG); over_time: sessions over
            time by outcome; timelines: (caption, PNG) per page of subjects, and how many subjects have none.
        quality_report: URL of the readable quality report of this ingest.
        compact: for the approval form (about 420 px wide): no time pictures, no per-share or per-project
            tables; ``full_summary`` links to the page that has them.
        input_file: the input file of an import, which the command listing every candidate must read.
    """
    by = status_counts(frame)
    outcomes = outcome_counts(frame)
    per = {key: counts_by(frame, key) for key in ("share", "projects")}
    per["projects"] = per["projects"].rename({"projects": "project"})
    columns = list(CATEGORIES)
    reasons = grouped_reasons(frame)
    list_counts = {"insert": outcomes["insert"], "quarantined": outcomes["quarantined"],
                   "pending": outcomes["pending"], "held": outcomes["held"], "duplicates": outcomes["duplicate"],
                   "excluded": outcomes["excluded"], "subjects": frame["subject"].n_unique() if frame.height else 0,
                   "quality": outcomes["quarantined"]}
    known = by[Status.MOVED] + by[Status.UPDATE]
    headline = (f"**{outcomes['insert']:,} to insert** ({by[Status.READY]:,} ready to insert"
                + (f", {by[Status.MOVED]:,} moved, {by[Status.UPDATE]:,} with new data" if known else "")
                + f"), **{outcomes['quarantined']:,} quarantined**, {outcomes['pending']:,} pending (still arriving), "
                f"{outcomes['held']:,} held, {_n(outcomes['duplicate'], 'duplicate')} ({by[Status.DUPLICATE]:,} "
                f"already in the pipeline, {_n(by[Status.COPY], 'copy', 'copies')} within this batch), "
                f"{outcomes['excluded']:,} excluded by the profile.")
    quality = (f"Quality: [the report of every expectation and every failure]({quality_report}) (Great "
               "Expectations), each failure with its session, the value found and what was expected.\n\n"
               if quality_report else "")
    pictures = ""
    if over_time is not None and not compact:
        pictures += f"![Sessions over time by what approval does]({png_uri(over_time)})\n\n"
    if counts is not None:
        pictures += f"![Sessions by what approval does, and quarantined sessions by reason]({png_uri(counts)})\n\n"
    timeline = "" if compact or timelines is None else _timeline_markdown(timelines, (links or {}).get("subjects"))
    reason_table = (markdown_table(reasons, ["reason", "sessions", "examples"], "reasons", limit=reasons.height,
                                   wrap={"reason": 18, "examples": 34} if compact else {"reason": 30, "examples": 56})
                    if reasons.height else "_none quarantined_\n")
    created = new_subjects(frame)
    creates = (f"{_n(created.height, 'new subject')} will be created on insertion (their details are left for a "
               "person: `mass-ingest todo`).\n\n" if created.height else "")
    ids = f"Ingest `{ingest_id}`, profile hash `{profile_hash}`.\n\n"
    lists = ("\n## Complete lists (every session, searchable; problems first)\n"
             + _links(links or {}, list_titles or {}, list_counts) + "\n" + quality)
    if compact:  # the approval form shows only a small box of it in one UI: what decides comes first
        return (f"### Approve ingest of profile `{profile_name}`\n\n" + headline + "\n\n" + creates
                + (f"[The whole review page]({full_summary}): sessions over time, per subject, per share and "
                   "per project.\n\n" if full_summary else "")
                + pictures + "## Why sessions are quarantined\n" + reason_table + lists + ids
                + "Approve below, optionally leaving sessions out by id or glob.\n")
    return (
        f"# Approve ingest of profile `{profile_name}`\n\n" + ids + headline + "\n\n" + creates + pictures
        + "## Why sessions are quarantined\n" + reason_table + lists
        + "## Per share\n" + markdown_table(per["share"], ["share", *columns], "shares")
        + "\n## Per project\n" + markdown_table(per["projects"], ["project", *columns], "projects")
        + ("\n## New subjects (created on insertion)\n" + markdown_table(created, ["created", "sessions"], "subjects")
           if created.height else "")
        + ("\n## Sessions per subject over time\n" + timeline if timeline else "")
        + f"\nEvery candidate with its decision and reasons: `{listing_command(input_file)} --json`.\n"
        "What is offered for insertion is the complete list above: if an approved session's folder changes "
        "before insertion (a file added, removed or modified), the run inserts nothing and asks for a new run.\n"
        "Approve in the run's form (Resume), optionally leaving sessions out by id or glob.\n"
    )


def decision_rows(frame: pl.DataFrame) -> list[dict]:
    """One object per candidate: what would happen to it and why (:func:`decision_frame`'s rows)."""
    return decision_frame(frame).to_dicts()


def decision_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per candidate: what would happen to it and why, and what was found on it (its findings, warnings
    included: an input file's IMPORT.NO_CLUSTERING stops nothing but is for a person to read); JSON-ready."""
    reasons = (pl.when(has_status(Status.QUARANTINED)).then(pl.col("quality_reasons"))
               .when(has_status(Status.PENDING)).then(pl.col("pending_reasons"))
               .when(has_status(Status.UPDATE)).then(
                   pl.col("new_parts").list.eval(pl.format("new since ingested: {}", pl.element())))
               .when(has_status(Status.HELD) & pl.lit("held_reason" in frame.columns))
               .then(pl.concat_list(pl.col("held_reason") if "held_reason" in frame.columns else pl.lit("")))
               .when(pl.col("dedup_reason").is_not_null()).then(pl.concat_list(pl.col("dedup_reason")))
               .otherwise(pl.lit([], dtype=pl.List(pl.String))))
    return (frame.with_columns(reasons.alias("reasons"))
            .select("session_id", "share", "rel_path", "subject", "session_start", "status", "reasons",
                    "quality_failures", "duplicate_of", "projects", "findings")
            .with_columns(pl.col("session_start").dt.strftime("%Y-%m-%dT%H:%M:%S")))
