"""The sentences a person reads: why a candidate failed each expectation, and why it may still be arriving.

They are written from the candidate's own values ("subject 'm9' is not known"), not from GX's
column statistics.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.values import (
    probe_bounds,
    bad_create_time,
    bad_duration,
    bad_file_size,
    bin_file,
    blocking_findings,
    implausible_chans,
    implausible_rate,
    probe,
    stalled,
    stalled_bin,
    without_serial,
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


# A time said in the largest unit that keeps it readable: 90 s, 15 min, 5 h, 3 days (not "1440 min").
_UNITS = ((2 * 86400, 86400, "days"), (2 * 3600, 3600, "h"), (60, 60, "min"))


def _duration(seconds: float) -> str:
    for at_least, size, unit in _UNITS:
        if seconds >= at_least and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _age(seconds: pl.Expr) -> pl.Expr:
    s = seconds.abs()
    age = pl.format("{} s", s.floor().cast(pl.Int64))
    for at_least, size, unit in reversed(_UNITS):
        age = pl.when(s >= at_least).then(pl.format(f"{{}} {unit}", (s / size).floor().cast(pl.Int64))).otherwise(age)
    return age


def _per_probe(*sentences: pl.Expr) -> pl.Expr:
    """Each probe's sentences that are not null (all probes' first sentences, then the second ...)."""
    return pl.concat_list([pl.col("probes").list.eval(s) for s in sentences]).list.drop_nulls()


# What a person does about a failure, said after what was found (``reasons_for``). Expectations whose
# sentences carry their own fix (subject_known, serial_present, ap_bin_not_stalled, session_key_unique) and
# no_discovery_errors (each finding it quotes says its fix) have none here.
_META_COPY = "compare the .ap.meta with the acquisition computer's copy and copy it again, or exclude the session"
FIXES: dict[str, str] = {
    "session_start_parsed": "rename the folder to its layout's date format, or exclude it in the profile",
    "session_start_not_in_future": "fix the date in the folder name (or the clock of the computer that wrote it)",
    "session_start_not_before": "fix the date in the folder name, or lower the profile's not_before if the "
                                "session is real",
    "every_ap_bin_has_meta": "copy the .ap.meta from the acquisition computer",
    "ap_bin_size_matches_meta": "copy the .ap.bin again from the acquisition computer",
    "no_zero_byte_data": "copy the .ap.bin again, or exclude the session if the recording failed",
    "channels_and_rate_plausible": f"{_META_COPY}; or give this probe type its own bounds in the profile "
                                   "(quality.probe_types)",
    "file_size_plausible": _META_COPY,
    "duration_plausible": _META_COPY,
    "create_time_plausible": _META_COPY,
    "probe_count_matches_implants": "import the subject's implants (`mass-ingest subjects import`), or copy the "
                                    "missing probe folders",
    "probe_serials_implanted": "import the implant (`mass-ingest subjects import`), or correct the serial in the "
                               ".ap.meta",
}


def reasons_for(context: QualityContext) -> dict[str, pl.Expr]:
    """Expectation name -> the sentence for a candidate that failed it (what was found, then :data:`FIXES`'
    fix where the sentence has none of its own), over the derived columns."""
    found = _found_sentences(context)
    return {name: pl.format("{}; {}", sentence, pl.lit(FIXES[name])) if name in FIXES else sentence
            for name, sentence in found.items()}


def _found_sentences(context: QualityContext) -> dict[str, pl.Expr]:
    """Expectation name -> what a candidate that failed it holds, in words."""
    start = pl.col("session_start").dt.strftime(_STAMP)
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
            pl.when(implausible_chans(context) & probe("n_saved_chans").is_null()).then(pl.format(
                "{} gives no usable nSavedChans (missing or not a number above 0)", probe("meta_file")))
            .when(implausible_chans(context)).then(pl.format(
                "{} has nSavedChans={}, outside the plausible {} to {}{}", probe("meta_file"),
                probe("n_saved_chans"), *probe_bounds(context, "saved_chans"), _type_note(context, "saved_chans"))),
            pl.when(implausible_rate(context) & probe("sample_rate").is_null()).then(pl.format(
                "{} gives no usable imSampRate (missing or not a number above 0)", probe("meta_file")))
            .when(implausible_rate(context)).then(pl.format(
                "{} has imSampRate={}, outside the plausible {} to {} Hz{}", probe("meta_file"),
                _number(probe("sample_rate")), *map(_number, probe_bounds(context, "sample_rate_hz")),
                _type_note(context, "sample_rate_hz"))),
        ).list.join("; "),
        "file_size_plausible": _per_probe(pl.when(bad_file_size()).then(
            pl.when(probe("file_size_bytes").is_null()).then(pl.format(
                "{} gives no usable fileSizeBytes (missing, or not a whole number)", probe("meta_file")))
            .when(probe("file_size_bytes") <= 0).then(pl.format(
                "{} has fileSizeBytes={}, not above 0", probe("meta_file"), probe("file_size_bytes")))
            .otherwise(pl.format("{} has fileSizeBytes={}, not a whole number of samples of {} channels "
                                 "(2 bytes each)", probe("meta_file"), probe("file_size_bytes"),
                                 probe("n_saved_chans"))))).list.join("; "),
        "duration_plausible": _per_probe(pl.when(bad_duration(context)).then(
            pl.when(probe("file_time_secs").is_null()).then(pl.format(
                "{} gives no usable fileTimeSecs", probe("meta_file")))
            .otherwise(pl.format(
                "{} has fileTimeSecs={}; expected above 0, at most {} s, and what its size, channels and rate "
                "give ({} s)", probe("meta_file"), probe("file_time_secs"), pl.lit(f"{context.max_duration_s:g}"),
                (probe("file_size_bytes") / (2 * probe("n_saved_chans") * probe("sample_rate"))).round(3)
                .cast(pl.String).fill_null("unknown"))))).list.join("; "),
        "serial_present": _per_probe(pl.when(without_serial()).then(pl.format(
            "{} names no probe serial (imDatPrb_sn / imProbeSN); enter it or exclude the session",
            probe("meta_file")))).list.join("; "),
        "create_time_plausible": _per_probe(pl.when(bad_create_time(context)).then(
            pl.when(probe("file_create_time").is_null()).then(pl.format(
                "{} gives no usable fileCreateTime", probe("meta_file")))
            .otherwise(pl.format("{} has fileCreateTime={}, outside {} to now ({})", probe("meta_file"),
                                 probe("file_create_time").dt.strftime(_STAMP),
                                 pl.lit(context.not_before.strftime(_STAMP)), pl.lit(context.now.strftime(_STAMP))))
        )).list.join("; "),
        "ap_bin_not_stalled": _per_probe(pl.when(stalled_bin(context)).then(pl.format(
            "{} stopped growing at {} of {} bytes (unchanged for {}); copy it again or remove the session",
            bin_file(), byte_count(probe("bin_size")), byte_count(probe("file_size_bytes")),
            _age(pl.lit(context.now_epoch) - probe("bin_mtime"))))).list.join("; "),
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


def _type_note(context: QualityContext, field: str) -> pl.Expr:
    """' for a <type>' when the probe's type has bounds of its own, else ''."""
    own = [label for label, bounds in context.probe_types.items() if getattr(bounds, field) is not None]
    if not own:
        return pl.lit("")
    return pl.when(probe("probe_type").is_in(own)).then(pl.format(" for a {}", probe("probe_type"))) \
        .otherwise(pl.lit(""))


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
        "file_size_plausible": (_found(bad_file_size(), "fileSizeBytes={}", probe("file_size_bytes")),
                                pl.lit("fileSizeBytes above 0, a whole number of samples (2 bytes x nSavedChans)")),
        "duration_plausible": (_found(bad_duration(context), "fileTimeSecs={}", probe("file_time_secs")),
                               pl.lit(f"fileTimeSecs above 0, at most {context.max_duration_s:g} s, agreeing with "
                                      "size / (2 x nSavedChans x imSampRate)")),
        "serial_present": (_found(without_serial(), "serial {}", probe("serial")), pl.lit("a probe serial")),
        "create_time_plausible": (_found(bad_create_time(context), "fileCreateTime={}",
                                         probe("file_create_time").dt.strftime(_STAMP)),
                                  pl.lit(f"{context.not_before.strftime(_STAMP)} to {context.now.strftime(_STAMP)}")),
        "ap_bin_not_stalled": (_found(stalled_bin(context), "{} bytes", probe("bin_size")),
                               pl.lit("the size its .ap.meta announces")),
    }


def _found(failing: pl.Expr, what: str, value: pl.Expr) -> pl.Expr:
    """'<meta>: <value>' of each probe failing, joined; a missing value reads 'missing'."""
    return _per_probe(pl.when(failing).then(pl.format("{}: " + what, probe("meta_file"),
                                                      value.cast(pl.String).fill_null("missing")))).list.join("; ")


def pending_reasons(frame: pl.DataFrame, context: QualityContext) -> pl.Series:
    """Why each candidate may still be arriving: a sentence per probe whose .ap.bin is shorter than
    announced or changed within ``context.settle_s``; an empty list when it is complete.

    An empty .ap.bin is not taken as a copy in progress unless it is recent: an old one is
    a recording that failed (``no_zero_byte_data``).
    """
    settle = _duration(context.settle_s)
    age = pl.lit(context.now_epoch) - probe("bin_mtime")
    # Short and unchanged for stalled_after_s: it stopped growing (ap_bin_not_stalled), not pending.
    short = stalled() & ~stalled_bin(context)
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
