"""The values the quality suite checks, derived in polars from the candidate frame, one row per candidate.

Each candidate row is reduced to the few values the checks need: one column per expectation
(its subject, start, probe count, how many ``.ap.bin`` files lack a ``.ap.meta``, are larger
than announced or empty, ...), with no Python loop over rows.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import Status
from mass_ingest.expectations.context import QualityContext

# Discovery findings at or above this severity stop a session, except those another
# expectation already names (so a reason is never given twice).
_BLOCKING = ("ERROR", "CRITICAL")
_COVERED_CODES = ("DISCOVER.BAD_DATE", "EPHYS.BIN_WITHOUT_META")
# The columns GX validates (see validation_frame).
VALUE_COLUMNS = ["row", "candidate_id", "modality", "subject", "session_start", "n_probes", "implanted_probes",
                 "n_bins_without_meta", "n_bins_wrong_size", "n_zero_byte_bins", "n_implausible_probes",
                 "n_serials_not_implanted", "n_discovery_errors", "n_same_key"]


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


def implausible_chans(context: QualityContext) -> pl.Expr:
    low, high = context.saved_chans
    # A null (the .meta could not be read) is a discovery finding, not judged again here.
    return ~probe("n_saved_chans").is_between(low, high).fill_null(True)


def implausible_rate(context: QualityContext) -> pl.Expr:
    low, high = context.sample_rate_hz
    return ~probe("sample_rate").is_between(low, high).fill_null(True)


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
        & (pl.element().struct.field("stage") != "quality"))  # the suite's own failures are not discovery's


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
