"""The values the quality suite checks, derived in polars from the candidate frame, one row per candidate.

Each candidate row is reduced to the few values the checks need: one column per expectation
(its subject, start, probe count, how many ``.ap.bin`` files lack a ``.ap.meta``, are larger
than announced or empty, ...), with no Python loop over rows.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import Status
from mass_ingest.expectations.context import QualityContext
from mass_ingest.findings import Stage

# Discovery findings at or above this severity stop a session, except those another
# expectation already names (so a reason is never given twice).
_BLOCKING = ("ERROR", "CRITICAL")
_COVERED_CODES = ("DISCOVER.BAD_DATE", "EPHYS.BIN_WITHOUT_META")
# The columns GX validates (see validation_frame).
VALUE_COLUMNS = ["row", "candidate_id", "modality", "subject", "session_start", "n_probes", "implanted_probes",
                 "n_bins_without_meta", "n_bins_wrong_size", "n_zero_byte_bins", "n_implausible_probes",
                 "n_serials_not_implanted", "n_discovery_errors", "n_same_key", "n_bad_file_size",
                 "n_bad_duration", "n_without_serial", "n_bad_create_time", "n_stalled_bins"]


def probe(field: str) -> pl.Expr:
    return pl.element().struct.field(field)


def bin_file() -> pl.Expr:
    """The probe's .ap.bin as discovery paired it; never a name made from the .meta's (it may differ)."""
    return pl.coalesce(probe("bin_file"), pl.format("the .ap.bin of {}", probe("meta_file")))


def _probe_count(condition: pl.Expr) -> pl.Expr:
    return pl.col("probes").list.filter(condition).list.len().fill_null(0).cast(pl.Int64)


def wrong_size() -> pl.Expr:
    # Missing, or larger than announced. Shorter is pending (still arriving), not wrong.
    return probe("bin_size").is_null() | (probe("bin_size") > probe("file_size_bytes")).fill_null(False)


def probe_bounds(context: QualityContext, field: str) -> tuple[pl.Expr, pl.Expr]:
    """(low, high) of a probe setting, per probe type where the profile gives its own."""
    low, high = getattr(context, field)
    low_expr, high_expr = pl.lit(low), pl.lit(high)
    for label, bounds in context.probe_types.items():
        own = getattr(bounds, field)
        if own is not None:
            low_expr = pl.when(probe("probe_type") == label).then(pl.lit(own[0])).otherwise(low_expr)
            high_expr = pl.when(probe("probe_type") == label).then(pl.lit(own[1])).otherwise(high_expr)
    return low_expr, high_expr


def implausible_chans(context: QualityContext) -> pl.Expr:
    # Missing (absent from the .meta, or not a number: a META.BAD_VALUE finding quotes it) fails too:
    # a recording whose channel count is unknown cannot be read.
    low, high = probe_bounds(context, "saved_chans")
    return ~probe("n_saved_chans").is_between(low, high).fill_null(False)


def implausible_rate(context: QualityContext) -> pl.Expr:
    low, high = probe_bounds(context, "sample_rate_hz")
    return ~probe("sample_rate").is_between(low, high).fill_null(False)


def bad_file_size() -> pl.Expr:
    """fileSizeBytes missing, not above 0, or not a whole number of samples (2 bytes x nSavedChans)."""
    size, chans = probe("file_size_bytes"), probe("n_saved_chans")
    return size.is_null() | (size <= 0) | ((chans > 0) & (size % (2 * chans) != 0)).fill_null(False)


def bad_duration(context: QualityContext) -> pl.Expr:
    """fileTimeSecs missing, not above 0, longer than the profile allows, or more than 1% (and 1 s) from what
    fileSizeBytes, nSavedChans and imSampRate give."""
    secs = probe("file_time_secs")
    implied = probe("file_size_bytes") / (2 * probe("n_saved_chans") * probe("sample_rate"))
    off = ((secs - implied).abs() > pl.max_horizontal(pl.lit(1.0), implied.abs() * 0.01)).fill_null(False)
    return secs.is_null() | ~secs.is_between(0, context.max_duration_s, closed="right").fill_null(False) | off


def without_serial() -> pl.Expr:
    return probe("serial").is_null() | (probe("serial").str.strip_chars() == "")


def bad_create_time(context: QualityContext) -> pl.Expr:
    created = probe("file_create_time")
    return created.is_null() | ~created.is_between(pl.lit(context.not_before), pl.lit(context.now)).fill_null(False)


def stalled() -> pl.Expr:
    """Shorter than announced: whether it has stopped growing is told with the clock (see :func:`stalled_bin`)."""
    return (probe("bin_size") > 0) & (probe("bin_size") < probe("file_size_bytes"))


def stalled_bin(context: QualityContext) -> pl.Expr:
    """A .ap.bin shorter than announced and unchanged for ``stalled_after_s``: it stopped growing."""
    age = pl.lit(context.now_epoch) - probe("bin_mtime")
    return (stalled() & (age >= context.stalled_after_s)).fill_null(False)


def _implants(context: QualityContext) -> pl.LazyFrame:
    subjects = list(context.implanted_probes)
    return pl.LazyFrame({
        "subject": subjects,
        "implanted_probes": list(context.implanted_probes.values()),
        "implanted_serials": [sorted(context.implanted_serials.get(s, [])) for s in subjects],
    }, schema={"subject": pl.String, "implanted_probes": pl.Int64, "implanted_serials": pl.List(pl.String)})


def derived_values(frame: pl.DataFrame, context: QualityContext) -> pl.DataFrame:
    """:data:`VALUE_COLUMNS` plus the list columns the reasons quote, one row per candidate."""
    serials = pl.col("probes").list.eval(probe("serial")).list.drop_nulls()
    judged = pl.col("implanted_serials").list.len() > 0
    return (
        frame.lazy()
        .select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            pl.col("candidate_id"),
            pl.col("modality").fill_null(""),
            # A null subject would be skipped by GX's set check; '' fails it instead.
            pl.col("subject").fill_null(""),
            pl.col("session_start"),
            pl.col("probes").list.len().fill_null(0).cast(pl.Int64).alias("n_probes"),
            pl.col("bins_without_meta").list.len().fill_null(0).cast(pl.Int64).alias("n_bins_without_meta"),
            _probe_count(wrong_size()).alias("n_bins_wrong_size"),
            _probe_count(probe("bin_size") == 0).alias("n_zero_byte_bins"),
            _probe_count(implausible_chans(context) | implausible_rate(context)).alias("n_implausible_probes"),
            blocking_findings().list.len().fill_null(0).cast(pl.Int64).alias("n_discovery_errors"),
            _same_key_count("status" in frame.columns).alias("n_same_key"),
            _probe_count(bad_file_size()).alias("n_bad_file_size"),
            _probe_count(bad_duration(context)).alias("n_bad_duration"),
            _probe_count(without_serial()).alias("n_without_serial"),
            _probe_count(bad_create_time(context)).alias("n_bad_create_time"),
            _probe_count(stalled_bin(context)).alias("n_stalled_bins"),
            pl.col("probes"),
            pl.col("bins_without_meta"),
            pl.col("findings"),
        )
        .join(_implants(context), on="subject", how="left", maintain_order="left")
        .with_columns(
            pl.when(judged).then(serials.list.set_difference(pl.col("implanted_serials")))
            .alias("serials_not_implanted"))
        # Null where not judged (unknown subject, or no serial on record): GX skips nulls.
        .with_columns(pl.when(judged).then(pl.col("serials_not_implanted").list.len().cast(pl.Int64))
                      .alias("n_serials_not_implanted"))
        .collect()
    )


def validation_frame(frame: pl.DataFrame, context: QualityContext) -> pl.DataFrame:
    """The values the suite checks, one row per candidate, derived without a Python row loop.

    Args:
        frame: Candidate frame (:data:`mass_ingest.candidates.CANDIDATE_SCHEMA`).
        context: Known subjects, their implants, the time bounds and plausible probe settings.

    Returns:
        :data:`VALUE_COLUMNS`: ``row``, ``candidate_id``, ``modality``, ``subject``,
        ``session_start``, ``n_probes``, ``implanted_probes`` (null for an unknown subject),
        ``n_bins_without_meta``, ``n_bins_wrong_size`` (.ap.bin missing or larger than its
        fileSizeBytes), ``n_zero_byte_bins``, ``n_implausible_probes`` (nSavedChans or imSampRate
        out of bounds), ``n_serials_not_implanted`` (null where not judged),
        ``n_discovery_errors`` (ERROR findings no other expectation names) and ``n_same_key``.
    """
    return derived_values(frame, context).select(VALUE_COLUMNS)


def blocking_findings() -> pl.Expr:
    return pl.col("findings").list.filter(
        pl.element().struct.field("severity").is_in(_BLOCKING)
        & ~pl.element().struct.field("code").is_in(_COVERED_CODES)
        & (pl.element().struct.field("stage") != Stage.QUALITY))  # the suite's own failures are not discovery's


def _same_key_count(has_status: bool) -> pl.Expr:
    """How many new candidates claim this row's (subject, start): more than one can never all go in.

    Copies across folders were already marked by dedup; this catches what dedup cannot tell
    apart, e.g. two recordings of one imaging folder whose start times could not be read.
    A frame without dedup's ``status`` counts every row as new.
    """
    claims = pl.col("session_start").is_not_null()
    if has_status:
        claims = claims & (pl.col("status") == Status.NEW)
    return (pl.when(claims).then(claims.cast(pl.Int64).sum().over("subject", "session_start"))
            .otherwise(1).cast(pl.Int64))
