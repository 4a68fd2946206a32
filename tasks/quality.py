"""Stage 4, data quality: a Great Expectations suite run over the candidate frame.

Each candidate row is first reduced, in polars, to the few values the checks need (its
subject, start, probe count, the subject's implanted-probe count, how many ``.ap.bin``
files lack a ``.ap.meta``). Great Expectations then validates that small pandas frame, and
its per-row results (``unexpected_index_list``, keyed on the candidate id and row number)
decide which candidate failed which expectation. The sentences in ``quality_reasons`` are
written from the candidate's own values, so a person reads "subject 'm9' is not known"
rather than GX's column statistics.

Great Expectations takes about 5 s to import, so it is imported only when a suite is built
or run; importing this module does not import it. A fresh in-memory context costs about
30 ms, so each run builds its own: no results pile up in a long-lived context's store.
"""

from __future__ import annotations

import threading
from datetime import datetime
from importlib.metadata import version
from zoneinfo import ZoneInfo
from typing import TYPE_CHECKING, Any

import polars as pl
from prefect import task
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mass_ingest.errors import QualitySuiteError
from mass_ingest.findings import Finding, finding
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame
from mass_ingest.subjects import implanted_probe_counts

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations import ExpectationSuite
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

# The suite, in the order failures are listed. Reports may list these names.
EXPECTATIONS: tuple[str, ...] = (
    "subject_known",
    "session_start_parsed",
    "session_start_not_in_future",
    "session_start_not_before",
    "every_ap_bin_has_meta",
    "probe_count_matches_implants",
    "no_discovery_errors",
    "session_key_unique",
)

# Discovery findings at or above this severity stop a session, except those another
# expectation already names (so a reason is never given twice).
_BLOCKING = ("ERROR", "CRITICAL")
_COVERED_CODES = ("DISCOVER.BAD_DATE", "EPHYS.BIN_WITHOUT_META")

SUITE_NAME = "mass-ingest-quality"
# Key in each GX expectation's `meta` holding its name from EXPECTATIONS.
META_KEY = "mass_ingest_expectation"
# Columns GX reports for every unexpected row: the id for people (Data Docs), the row number
# for us, since it stays exact even if a frame ever held one candidate id twice.
INDEX_COLUMNS = ["candidate_id", "row"]

_ORIGIN = f"mass-ingest quality suite (great-expectations {version('great-expectations')})"
_STAMP = "%Y-%m-%d %H:%M"
# GX keeps a process-wide "current context" that get_context() replaces; one run at a time
# keeps concurrent Prefect task threads from building and running contexts over each other.
_GX_LOCK = threading.Lock()


class QualityContext(BaseModel):
    """What the checks compare candidates against, taken from the database and the profile."""

    model_config = ConfigDict(extra="forbid")

    implanted_probes: dict[str, int] = Field(
        description="Subject -> number of implanted probes. A subject not listed is unknown.")
    now: datetime = Field(description="Naive local 'now' in the lab's time zone.")
    not_before: datetime = Field(description="Sessions said to start before this fail.")

    @field_validator("now", "not_before")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        # session_start is naive local time; an aware bound could not be compared with it.
        if value.tzinfo is not None:
            raise ValueError("must be a naive local time in the lab's time zone, without a UTC offset")
        return value


def validation_frame(frame: pl.DataFrame, context: QualityContext) -> pl.DataFrame:
    """The values the suite checks, one row per candidate, derived without a Python row loop.

    Args:
        frame: Candidate frame (:data:`mass_ingest.candidates.CANDIDATE_SCHEMA`).
        context: Known subjects and the time bounds.

    Returns:
        Columns ``row``, ``candidate_id``, ``subject``, ``session_start``, ``n_probes``,
        ``implanted_probes`` (null for an unknown subject), ``n_bins_without_meta`` and
        ``n_discovery_errors`` (ERROR findings no other expectation names).
    """
    implants = pl.DataFrame({"subject": list(context.implanted_probes),
                             "implanted_probes": list(context.implanted_probes.values())},
                            schema={"subject": pl.String, "implanted_probes": pl.Int64})
    return (
        frame.lazy()
        .select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
            pl.col("candidate_id"),
            # A null subject would be skipped by GX's set check; '' fails it instead.
            pl.col("subject").fill_null(""),
            pl.col("session_start"),
            pl.col("probes").list.len().fill_null(0).cast(pl.Int64).alias("n_probes"),
            pl.col("bins_without_meta").list.len().fill_null(0).cast(pl.Int64).alias("n_bins_without_meta"),
            _blocking_findings().list.len().fill_null(0).cast(pl.Int64).alias("n_discovery_errors"),
            _same_key_count("status" in frame.columns).alias("n_same_key"),
        )
        .join(implants.lazy(), on="subject", how="left", maintain_order="left")
        .collect()
    )


def _blocking_findings() -> pl.Expr:
    return pl.col("findings").list.filter(
        pl.element().struct.field("severity").is_in(_BLOCKING)
        & ~pl.element().struct.field("code").is_in(_COVERED_CODES))


def _same_key_count(has_status: bool) -> pl.Expr:
    """How many new candidates claim this row's (subject, start): more than one can never all go in.

    Copies across folders were already marked by dedup; this catches what dedup cannot tell
    apart, e.g. two recordings of one imaging folder whose start times could not be read.
    A frame without dedup's ``status`` counts every row as new.
    """
    claims = pl.col("session_start").is_not_null()
    if has_status:
        claims = claims & (pl.col("status") == "new")
    return (pl.when(claims).then(claims.cast(pl.Int64).sum().over("subject", "session_start"))
            .otherwise(1).cast(pl.Int64))


def build_suite() -> ExpectationSuite:
    """The quality suite, with the subjects and time bounds left as GX suite parameters.

    Its parameters are ``known_subjects``, ``now`` and ``not_before`` (see :func:`run_suite`).
    GX skips nulls in value checks, so a missing start fails only ``session_start_parsed``,
    and the probe count is judged only where the subject's implants are known.
    """
    import great_expectations as gx
    from great_expectations import expectations as gxe

    def named(name: str) -> dict[str, str]:
        return {META_KEY: name}

    suite = gx.ExpectationSuite(name=SUITE_NAME, expectations=[
        gxe.ExpectColumnValuesToBeInSet(
            column="subject", value_set={"$PARAMETER": "known_subjects"}, meta=named("subject_known"),
            description="The subject is in the database with its implanted probes."),
        gxe.ExpectColumnValuesToNotBeNull(
            column="session_start", meta=named("session_start_parsed"),
            description="The session start was read from the folder name."),
        gxe.ExpectColumnValuesToBeBetween(
            column="session_start", max_value={"$PARAMETER": "now"}, meta=named("session_start_not_in_future"),
            description="The session did not start after the time of the check."),
        gxe.ExpectColumnValuesToBeBetween(
            column="session_start", min_value={"$PARAMETER": "not_before"}, meta=named("session_start_not_before"),
            description="The session did not start before the earliest date the profile allows."),
        gxe.ExpectColumnValuesToBeInSet(
            column="n_bins_without_meta", value_set=[0], meta=named("every_ap_bin_has_meta"),
            description="Every .ap.bin has its .ap.meta beside it."),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="n_probes", column_B="implanted_probes", ignore_row_if="either_value_is_missing",
            meta=named("probe_count_matches_implants"),
            description="As many probes were recorded as the subject has implanted."),
        gxe.ExpectColumnValuesToBeInSet(
            column="n_discovery_errors", value_set=[0], meta=named("no_discovery_errors"),
            description="Discovery read every file of the session (no unreadable folder or .meta)."),
        gxe.ExpectColumnValuesToBeInSet(
            column="n_same_key", value_set=[1], meta=named("session_key_unique"),
            description="No other new candidate claims the same subject and start time."),
    ])
    names = tuple(e.meta[META_KEY] for e in suite.expectations)
    if names != EXPECTATIONS:
        raise QualitySuiteError(f"the suite's expectations {names} are not EXPECTATIONS {EXPECTATIONS}")
    return suite


def run_suite(pdf: pd.DataFrame, context: QualityContext) -> ExpectationSuiteValidationResult:
    """Validate a :func:`validation_frame` (as pandas) in a fresh in-memory GX context.

    Args:
        pdf: ``validation_frame(...).to_pandas()``.
        context: Supplies the suite parameters.

    Returns:
        GX's raw result with COMPLETE per-row detail: each expectation result carries
        ``meta[META_KEY]`` and ``unexpected_index_list`` of ``{candidate_id, row, value}``.
        It is JSON-serialisable (``to_json_dict()``) and can feed Data Docs later.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),  # GX's tqdm bars would print on every run
    )
    with _GX_LOCK:
        gx_context = gx.get_context(mode="ephemeral", project_config=config)
        batch = (gx_context.data_sources.add_pandas(name="candidates")
                 .add_dataframe_asset(name="candidates")
                 .add_batch_definition_whole_dataframe("whole frame"))
        suite = gx_context.suites.add(build_suite())
        definition = gx_context.validation_definitions.add(
            gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite))
        return definition.run(
            batch_parameters={"dataframe": pdf},
            expectation_parameters={"known_subjects": sorted(context.implanted_probes),
                                    "now": context.now, "not_before": context.not_before},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": INDEX_COLUMNS},
        )


def failing_rows(result: ExpectationSuiteValidationResult) -> dict[str, list[int]]:
    """Expectation name -> row numbers that failed it, for every name in :data:`EXPECTATIONS`."""
    rows: dict[str, list[int]] = {}
    for outcome in result.results:
        name = (outcome.expectation_config.meta or {}).get(META_KEY)
        raised = (outcome.exception_info or {}).get("raised_exception")
        unexpected = outcome.result.get("unexpected_index_list")
        if raised or name not in EXPECTATIONS or (not outcome.success and not unexpected):
            # A bug in the suite or in GX, never a data problem: do not report it as one.
            raise QualitySuiteError(
                f"expectation {name or outcome.expectation_config.type!r} gave no per-row result: "
                f"{(outcome.exception_info or {}).get('exception_message') or outcome.result}")
        rows[name] = [int(hit["row"]) for hit in unexpected or []]
    if set(rows) != set(EXPECTATIONS):
        raise QualitySuiteError(f"the suite result lacks {sorted(set(EXPECTATIONS) - set(rows))}")
    return rows


def _plural(n: pl.Expr, word: str) -> pl.Expr:
    return pl.format("{} {}", n, pl.when(n == 1).then(pl.lit(word)).otherwise(pl.lit(word + "s")))


def _reasons() -> dict[str, pl.Expr]:
    """Expectation name -> the sentence for a candidate that failed it, over the verdict columns."""
    start = pl.col("session_start").dt.strftime(_STAMP)
    return {
        "subject_known": pl.format(
            "subject '{}' is not known; import it with `mass-ingest subjects import`", pl.col("subject")),
        "session_start_parsed": pl.lit("session start could not be read from the folder name"),
        "session_start_not_in_future": pl.format("session start {} is in the future", start),
        "session_start_not_before": pl.format(
            "session start {} is before {}, the earliest start allowed", start, pl.col("_not_before")),
        "every_ap_bin_has_meta": pl.format(
            "{} {} no .ap.meta", pl.col("bins_without_meta").list.join(", "),
            pl.when(pl.col("bins_without_meta").list.len() == 1).then(pl.lit("has")).otherwise(pl.lit("have"))),
        "probe_count_matches_implants": pl.format(
            "{} but subject {} has {}", _plural(pl.col("n_probes"), "probe folder"), pl.col("subject"),
            _plural(pl.col("implanted_probes"), "implanted probe")),
        "no_discovery_errors": _blocking_findings().list.eval(
            pl.format("{} at {}: {}", pl.element().struct.field("code"), pl.element().struct.field("path"),
                      pl.element().struct.field("message"))).list.join("; "),
        "session_key_unique": pl.format(
            "{} new candidates claim subject {} starting {}; they cannot all be inserted: give them distinct "
            "start times, or combine them (layout combined: true)", pl.col("n_same_key"), pl.col("subject"),
            start),
    }


def check_quality(frame: pl.DataFrame, context: QualityContext) -> pl.DataFrame:
    """Run the expectation suite over every candidate.

    Args:
        frame: Candidate frame (:data:`mass_ingest.candidates.CANDIDATE_SCHEMA`, extra columns kept).
        context: Known subjects with their implanted probes, and the time bounds.

    Returns:
        ``frame`` in its order with three columns added: ``quality_passed`` (bool),
        ``quality_failures`` (names of failed expectations, in :data:`EXPECTATIONS` order) and
        ``quality_reasons`` (one sentence per failure, naming the values). An empty frame
        comes back empty with the three columns, without running GX.
    """
    if frame.is_empty():
        return frame.with_columns(pl.lit(True).alias("quality_passed"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_failures"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_reasons"))

    # 1. derive the checked values; 2. let GX judge them; 3. turn its verdicts into columns.
    values = validation_frame(frame, context)
    failed = failing_rows(run_suite(values.to_pandas(), context))

    row = pl.int_range(pl.len(), dtype=pl.Int64)
    verdicts = values.with_columns(
        frame["bins_without_meta"],
        frame["findings"],
        pl.lit(context.not_before.strftime(_STAMP)).alias("_not_before"),
        *[row.is_in(failed[name]).alias(f"_failed_{name}") for name in EXPECTATIONS],
    )
    reasons = _reasons()
    when_failed = {name: pl.when(pl.col(f"_failed_{name}")) for name in EXPECTATIONS}
    verdicts = verdicts.select(
        pl.concat_list([when_failed[n].then(pl.lit(n)) for n in EXPECTATIONS])
        .list.drop_nulls().alias("quality_failures"),
        # fill_null: a failure never loses its sentence, so failures and reasons stay aligned.
        pl.concat_list([when_failed[n].then(reasons[n].fill_null(pl.lit(f"{n} failed"))) for n in EXPECTATIONS])
        .list.drop_nulls().alias("quality_reasons"),
    )
    return frame.with_columns(
        (verdicts["quality_failures"].list.len() == 0).alias("quality_passed"),
        verdicts["quality_failures"],
        verdicts["quality_reasons"],
    )


def failures_as_findings(row: dict[str, Any]) -> list[Finding]:
    """One ``QUALITY.FAILED`` finding per failed expectation of a checked candidate row."""
    return [
        finding("QUALITY.FAILED", stage="quality", share=row["share"], path=row["rel_path"],
                message=reason, expected=name).model_copy(update={"origin": _ORIGIN})
        for name, reason in zip(row["quality_failures"], row["quality_reasons"], strict=True)
    ]


def classify(frame: pl.DataFrame) -> pl.DataFrame:
    """New candidates become ``ready`` or ``quarantined``; duplicates, copies and exclusions keep their status."""
    new = pl.col("status") == "new"
    return frame.with_columns(
        pl.when(new & pl.col("quality_passed")).then(pl.lit("ready"))
        .when(new).then(pl.lit("quarantined"))
        .otherwise(pl.col("status")).alias("status"))


def lab_now(timezone: str) -> datetime:
    """The lab's wall-clock time, naive like folder times."""
    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)


def quality_context(profile: Profile) -> QualityContext:
    """The pipeline's subjects and implants, and the time bounds, for checking this profile's candidates."""
    return QualityContext(implanted_probes=implanted_probe_counts(), now=lab_now(profile.timezone),
                          not_before=profile.not_before)


@task(name="quality", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def quality_stage_task(profile: Profile, deduped: StageFrame, ingest_id: str) -> StageFrame:
    """Run the suite over the deduplicated candidates against the pipeline's subjects and implants."""
    frame = classify(check_quality(deduped.load(), quality_context(profile)))
    return StageFrame.save(frame, stage="quality", ingest_id=ingest_id)
