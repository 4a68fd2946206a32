"""The sentences a person reads: why a candidate failed each expectation, and why it may still be arriving.

They are written from the candidate's own values ("subject 'm9' is not known"), not from GX's
column statistics.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.values import (
    bin_file,
    blocking_findings,
    implausible_chans,
    implausible_rate,
    probe,
    wrong_size,
)

_STAMP = "%Y-%m-%d %H:%M"


def _plural(n: pl.Expr, word: str) -> pl.Expr:
    return pl.format("{} {}", n, pl.when(n == 1).then(pl.lit(word)).otherwise(pl.lit(word + "s")))


def byte_count(n: pl.Expr) -> pl.Expr:
    """A byte count with thousands separators: 3080 -> '3,080'."""
    return n.cast(pl.String).str.reverse().str.replace_all(r"(\d{3})", "${1},").str.reverse() \
        .str.strip_chars_start(",")


def _number(x: pl.Expr) -> pl.Expr:
    """A float as written in a .meta: 30000.0 -> '30000', 29999.5 -> '29999.5'."""
    return pl.when(x == x.round()).then(x.cast(pl.Int64).cast(pl.String)).otherwise(x.cast(pl.String))


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


def _age(seconds: pl.Expr) -> pl.Expr:
    s = seconds.abs()
    return (pl.when(s < 60).then(pl.format("{} s", s.floor().cast(pl.Int64)))
            .otherwise(pl.format("{} min", (s / 60).floor().cast(pl.Int64))))


def _per_probe(*sentences: pl.Expr) -> pl.Expr:
    """Each probe's sentences that are not null (all probes' first sentences, then the second ...)."""
    return pl.concat_list([pl.col("probes").list.eval(s) for s in sentences]).list.drop_nulls()


def reasons_for(context: QualityContext) -> dict[str, pl.Expr]:
    """Expectation name -> the sentence for a candidate that failed it, over the derived columns."""
    start = pl.col("session_start").dt.strftime(_STAMP)
    (chan_low, chan_high), (rate_low, rate_high) = context.saved_chans, context.sample_rate_hz
    not_implanted = pl.col("serials_not_implanted")
    one_serial = not_implanted.list.len() == 1
    return {
        "subject_known": pl.format(
            "subject '{}' is not known; import it with `mass-ingest subjects import`", pl.col("subject")),
        "session_start_parsed": pl.lit("session start could not be read from the folder name"),
        "session_start_not_in_future": pl.format("session start {} is in the future", start),
        "session_start_not_before": pl.format(
            "session start {} is before {}, the earliest start allowed", start,
            pl.lit(context.not_before.strftime(_STAMP))),
        "every_ap_bin_has_meta": pl.format(
            "{} {} no .ap.meta", pl.col("bins_without_meta").list.join(", "),
            pl.when(pl.col("bins_without_meta").list.len() == 1).then(pl.lit("has")).otherwise(pl.lit("have"))),
        "ap_bin_size_matches_meta": _per_probe(
            pl.when(probe("bin_size").is_null()).then(pl.format("{} has no .ap.bin beside it", probe("meta_file")))
            .when(wrong_size()).then(pl.format(
                "{} has {} bytes, more than the {} its .ap.meta announces", bin_file(),
                byte_count(probe("bin_size")), byte_count(probe("file_size_bytes"))))).list.join("; "),
        "no_zero_byte_data": _per_probe(pl.when(probe("bin_size") == 0).then(
            pl.when(probe("file_size_bytes").is_null()).then(pl.format("{} is empty (0 bytes)", bin_file()))
            .otherwise(pl.format("{} is empty (0 bytes; its .ap.meta announces {})", bin_file(),
                                 byte_count(probe("file_size_bytes")))))).list.join("; "),
        "channels_and_rate_plausible": _per_probe(
            pl.when(implausible_chans(context)).then(pl.format(
                "{} has nSavedChans={}, outside the plausible {} to {}", probe("meta_file"),
                probe("n_saved_chans"), pl.lit(chan_low), pl.lit(chan_high))),
            pl.when(implausible_rate(context)).then(pl.format(
                "{} has imSampRate={}, outside the plausible {} to {} Hz", probe("meta_file"),
                _number(probe("sample_rate")), pl.lit(f"{rate_low:g}"), pl.lit(f"{rate_high:g}"))),
        ).list.join("; "),
        "probe_count_matches_implants": pl.format(
            "{} but subject {} has {}", _plural(pl.col("n_probes"), "probe folder"), pl.col("subject"),
            _plural(pl.col("implanted_probes"), "implanted probe")),
        "probe_serials_implanted": pl.format(
            "probe {} {} {} not implanted in subject {} (its implants: {})",
            pl.when(one_serial).then(pl.lit("serial")).otherwise(pl.lit("serials")), not_implanted.list.join(", "),
            pl.when(one_serial).then(pl.lit("is")).otherwise(pl.lit("are")), pl.col("subject"),
            pl.col("implanted_serials").list.join(", ")),
        "no_discovery_errors": blocking_findings().list.eval(
            pl.format("{} at {}: {}", pl.element().struct.field("code"), pl.element().struct.field("path"),
                      pl.element().struct.field("message"))).list.join("; "),
        "session_key_unique": pl.format(
            "{} new candidates claim subject {} starting {}; they cannot all be inserted: give them distinct "
            "start times, or combine them (layout combined: true)", pl.col("n_same_key"), pl.col("subject"),
            start),
    }


def found_for(context: QualityContext) -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """Expectation name -> (the value found, what was expected), as short strings over the derived columns.

    They go into the failure's finding (``found``, ``expected``) and the quality report's table, so a
    person sees the value itself next to the rule, without reading the sentence.
    """
    start = pl.col("session_start").dt.strftime(_STAMP)
    (chan_low, chan_high), (rate_low, rate_high) = context.saved_chans, context.sample_rate_hz
    sizes = _per_probe(pl.when(wrong_size()).then(pl.format(
        "{}: {}", bin_file(), pl.when(probe("bin_size").is_null()).then(pl.lit("missing"))
        .otherwise(pl.format("{} bytes", byte_count(probe("bin_size"))))))).list.join("; ")
    announced = _per_probe(pl.when(wrong_size()).then(pl.format(
        "{}: at most {} bytes", bin_file(), byte_count(probe("file_size_bytes")).fill_null("?")))).list.join("; ")
    settings = _per_probe(pl.when(implausible_chans(context) | implausible_rate(context)).then(pl.format(
        "{}: nSavedChans={}, imSampRate={}", probe("meta_file"), probe("n_saved_chans"),
        _number(probe("sample_rate"))))).list.join("; ")
    return {
        "subject_known": (pl.format("subject '{}'", pl.col("subject")), pl.lit("a subject in the database")),
        "session_start_parsed": (pl.lit("no start time in the folder name"),
                                 pl.lit("a start time in the layout's date format")),
        "session_start_not_in_future": (start, pl.lit(f"at or before {context.now.strftime(_STAMP)}")),
        "session_start_not_before": (start, pl.lit(f"at or after {context.not_before.strftime(_STAMP)}")),
        "every_ap_bin_has_meta": (pl.format("no .ap.meta for {}", pl.col("bins_without_meta").list.join(", ")),
                                  pl.lit("an .ap.meta beside every .ap.bin")),
        "ap_bin_size_matches_meta": (sizes, announced),
        "no_zero_byte_data": (_per_probe(pl.when(probe("bin_size") == 0).then(pl.format("{}: 0 bytes", bin_file())))
                              .list.join("; "), pl.lit("more than 0 bytes")),
        "channels_and_rate_plausible": (settings, pl.lit(f"nSavedChans {chan_low} to {chan_high}, imSampRate "
                                                         f"{rate_low:g} to {rate_high:g} Hz")),
        "probe_count_matches_implants": (_plural(pl.col("n_probes"), "probe folder"),
                                         _plural(pl.col("implanted_probes"), "implanted probe")),
        "probe_serials_implanted": (pl.format("serial {}", pl.col("serials_not_implanted").list.join(", ")),
                                    pl.format("one of {}", pl.col("implanted_serials").list.join(", "))),
        "no_discovery_errors": (blocking_findings().list.eval(pl.element().struct.field("code")).list.unique(
            maintain_order=True).list.join(", "), pl.lit("no ERROR finding from discovery")),
        "session_key_unique": (pl.format("{} new folders with this subject and start", pl.col("n_same_key")),
                               pl.lit("one folder per subject and start")),
    }


def pending_reasons(frame: pl.DataFrame, context: QualityContext) -> pl.Series:
    """Why each candidate may still be arriving: a sentence per probe whose .ap.bin is shorter than
    announced or changed within ``context.settle_s``; an empty list when it is complete.

    An empty .ap.bin is not taken as a copy in progress unless it is recent: an old one is
    a recording that failed (``no_zero_byte_data``).
    """
    settle = _duration(context.settle_s)
    age = pl.lit(context.now_epoch) - probe("bin_mtime")
    short = (probe("bin_size") > 0) & (probe("bin_size") < probe("file_size_bytes"))
    fresh = age < context.settle_s
    reasons = _per_probe(
        pl.when(short).then(pl.format(
            "{} has {} of {} bytes announced: still being copied?", bin_file(), byte_count(probe("bin_size")),
            byte_count(probe("file_size_bytes")))),
        pl.when(fresh & (age >= 0)).then(pl.format(
            "{} changed {} ago (settle time {})", bin_file(), _age(age), pl.lit(settle)))
        .when(fresh).then(pl.format(
            "{} is dated {} ahead of this computer's clock (settle time {}); are the file server's and this "
            "computer's clocks apart?", bin_file(), _age(age), pl.lit(settle))),
    )
    return frame.select(reasons.fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("pending_reasons")) \
        .to_series()
