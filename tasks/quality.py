"""Stage 4, data quality: is each candidate complete, and does it pass a Great Expectations suite.

Each candidate row is first reduced, in polars, to the few values the checks need: one
column per expectation (its subject, start, probe count, how many ``.ap.bin`` files lack a
``.ap.meta``, are larger than announced or empty, ...). Great Expectations then validates
that small pandas frame, and its per-row results (``unexpected_index_list``, keyed on the
candidate id and row number) decide which candidate failed which expectation. The sentences
in ``quality_reasons`` are written from the candidate's own values, so a person reads
"subject 'm9' is not known" rather than GX's column statistics.

Each modality has its own suite (:func:`expectations_for`): an imaging session has no probes
to count. The suite runs once per modality present, on that modality's rows.

A candidate whose recording may still be arriving is *pending*, not failed: a probe's
``.ap.bin`` is shorter than its ``.meta`` announces, or it changed within the settle time
(a copy in progress; Windows copy tools allocate the whole file first and set the original
time only at the end). It is looked at again on the next scan.

Great Expectations takes about 5 s to import, so it is imported only when a suite is built
or run; importing this module does not import it. A fresh in-memory context costs about
30 ms, so each run builds its own: no results pile up in a long-lived context's store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mass_ingest.errors import QualitySuiteError
from mass_ingest.findings import Finding, finding
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame, run_dir
from mass_ingest.subjects import implanted_probe_counts, implanted_serials

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
    "ap_bin_size_matches_meta",
    "no_zero_byte_data",
    "channels_and_rate_plausible",
    "probe_count_matches_implants",
    "probe_serials_implanted",
    "no_discovery_errors",
    "session_key_unique",
)
# What a session without probes can be judged on: everything but the probe checks.
_SESSION_EXPECTATIONS: tuple[str, ...] = (
    "subject_known",
    "session_start_parsed",
    "session_start_not_in_future",
    "session_start_not_before",
    "no_discovery_errors",
    "session_key_unique",
)
_PROBE_FREE_MODALITIES = ("imaging", "tracking", "behaviour")

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
# The columns GX validates (see validation_frame).
VALUE_COLUMNS = ["row", "candidate_id", "modality", "subject", "session_start", "n_probes", "implanted_probes",
                 "n_bins_without_meta", "n_bins_wrong_size", "n_zero_byte_bins", "n_implausible_probes",
                 "n_serials_not_implanted", "n_discovery_errors", "n_same_key"]

_ORIGIN = f"mass-ingest quality suite (great-expectations {version('great-expectations')})"
_STAMP = "%Y-%m-%d %H:%M"
_DOCS_SITE = "mass-ingest"
# GX keeps a process-wide "current context" that get_context() replaces; one run at a time
# keeps concurrent Prefect task threads from building and running contexts over each other.
_GX_LOCK = threading.Lock()


class QualityContext(BaseModel):
    """What the checks compare candidates against, taken from the database, the profile and the clock."""

    model_config = ConfigDict(extra="forbid")

    implanted_probes: dict[str, int] = Field(
        description="Subject -> number of implanted probes. A subject not listed is unknown.")
    implanted_serials: dict[str, list[str]] = Field(
        description="Subject -> serials of its implanted probes. Probe serials are judged only for known "
        "subjects listed here with at least one serial.")
    now: datetime = Field(description="Naive local 'now' in the lab's time zone.")
    now_epoch: float = Field(
        description="The same moment in seconds since the epoch, compared with the .ap.bin modification times.")
    not_before: datetime = Field(description="Sessions said to start before this fail.")
    settle_s: float = Field(
        900, ge=0, description="A .ap.bin modified less than this many seconds before now_epoch may still be "
        "copied or written: its session is pending, and is checked again on the next scan.")
    saved_chans: tuple[int, int] = Field(
        (1, 4096), description="Plausible nSavedChans of a probe, lowest and highest (inclusive).")
    sample_rate_hz: tuple[float, float] = Field(
        (1000, 100_000), description="Plausible imSampRate of a probe in Hz, lowest and highest (inclusive).")

    @field_validator("now", "not_before")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        # session_start is naive local time; an aware bound could not be compared with it.
        if value.tzinfo is not None:
            raise ValueError("must be a naive local time in the lab's time zone, without a UTC offset")
        return value

    @field_validator("saved_chans", "sample_rate_hz")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if bounds[0] > bounds[1]:
            raise ValueError(f"must be (lowest, highest); {bounds[0]} is above {bounds[1]}")
        return bounds


def expectations_for(modality: str) -> tuple[str, ...]:
    """The default suite of a modality: every expectation for ephys (and an unknown modality),
    the probe-free ones for imaging, tracking and behaviour."""
    return _SESSION_EXPECTATIONS if modality in _PROBE_FREE_MODALITIES else EXPECTATIONS


def _selected(modality: str, expectations: Mapping[str, Sequence[str]] | None) -> tuple[str, ...]:
    """The expectations a modality's rows are judged on, in :data:`EXPECTATIONS` order."""
    if expectations is None or modality not in expectations:
        return expectations_for(modality)
    chosen = set(expectations[modality])
    unknown = sorted(chosen - set(EXPECTATIONS))
    if unknown:
        raise QualitySuiteError(f"{modality}: unknown expectation(s) {unknown}; choose from {list(EXPECTATIONS)}")
    return tuple(name for name in EXPECTATIONS if name in chosen)


# -- 1. the values the suite checks ------------------------------------------------------

def _probe(field: str) -> pl.Expr:
    return pl.element().struct.field(field)


def _bin_file() -> pl.Expr:
    return _probe("meta_file").str.replace(r"\.meta$", ".bin")


def _probe_count(condition: pl.Expr) -> pl.Expr:
    return pl.col("probes").list.filter(condition).list.len().fill_null(0).cast(pl.Int64)


def _wrong_size() -> pl.Expr:
    # Missing, or larger than announced. Shorter is pending (still arriving), not wrong.
    return _probe("bin_size").is_null() | (_probe("bin_size") > _probe("file_size_bytes")).fill_null(False)


def _implausible_chans(context: QualityContext) -> pl.Expr:
    low, high = context.saved_chans
    # A null (the .meta could not be read) is a discovery finding, not judged again here.
    return ~_probe("n_saved_chans").is_between(low, high).fill_null(True)


def _implausible_rate(context: QualityContext) -> pl.Expr:
    low, high = context.sample_rate_hz
    return ~_probe("sample_rate").is_between(low, high).fill_null(True)


def _implants(context: QualityContext) -> pl.LazyFrame:
    subjects = list(context.implanted_probes)
    return pl.LazyFrame({
        "subject": subjects,
        "implanted_probes": list(context.implanted_probes.values()),
        "implanted_serials": [sorted(context.implanted_serials.get(s, [])) for s in subjects],
    }, schema={"subject": pl.String, "implanted_probes": pl.Int64, "implanted_serials": pl.List(pl.String)})


def _derived(frame: pl.DataFrame, context: QualityContext) -> pl.DataFrame:
    """:data:`VALUE_COLUMNS` plus the list columns the reasons quote, one row per candidate."""
    serials = pl.col("probes").list.eval(_probe("serial")).list.drop_nulls()
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
            _probe_count(_wrong_size()).alias("n_bins_wrong_size"),
            _probe_count(_probe("bin_size") == 0).alias("n_zero_byte_bins"),
            _probe_count(_implausible_chans(context) | _implausible_rate(context)).alias("n_implausible_probes"),
            _blocking_findings().list.len().fill_null(0).cast(pl.Int64).alias("n_discovery_errors"),
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
    return _derived(frame, context).select(VALUE_COLUMNS)


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


# -- 2. the suite ------------------------------------------------------------------------

def build_suite(expectations: tuple[str, ...] = EXPECTATIONS, name: str = SUITE_NAME) -> ExpectationSuite:
    """The quality suite (or the named part of it), with subjects and time bounds as GX suite parameters.

    Its parameters are ``known_subjects``, ``now`` and ``not_before`` (see :func:`run_suite`).
    GX skips nulls in value checks, so a missing start fails only ``session_start_parsed``,
    and probe counts and serials are judged only where the subject's implants are known.
    Each description starts with the expectation's name, so Data Docs show it.
    """
    import great_expectations as gx
    from great_expectations import expectations as gxe

    def named(cls: type, name: str, description: str, **kwargs: Any) -> Any:
        return cls(meta={META_KEY: name}, description=f"{name}: {description}", **kwargs)

    def none_of(column: str, name: str, description: str) -> Any:
        return named(gxe.ExpectColumnValuesToBeInSet, name, description, column=column, value_set=[0])

    every = [
        named(gxe.ExpectColumnValuesToBeInSet, "subject_known",
              "the subject is in the database with its implanted probes.",
              column="subject", value_set={"$PARAMETER": "known_subjects"}),
        named(gxe.ExpectColumnValuesToNotBeNull, "session_start_parsed",
              "the session start was read from the folder name.", column="session_start"),
        named(gxe.ExpectColumnValuesToBeBetween, "session_start_not_in_future",
              "the session did not start after the time of the check.",
              column="session_start", max_value={"$PARAMETER": "now"}),
        named(gxe.ExpectColumnValuesToBeBetween, "session_start_not_before",
              "the session did not start before the earliest date the profile allows.",
              column="session_start", min_value={"$PARAMETER": "not_before"}),
        none_of("n_bins_without_meta", "every_ap_bin_has_meta", "every .ap.bin has its .ap.meta beside it."),
        none_of("n_bins_wrong_size", "ap_bin_size_matches_meta",
                "every .ap.meta has its .ap.bin, no larger than the meta's fileSizeBytes."),
        none_of("n_zero_byte_bins", "no_zero_byte_data", "no .ap.bin is empty."),
        none_of("n_implausible_probes", "channels_and_rate_plausible",
                "every probe's nSavedChans and imSampRate are within the plausible bounds."),
        named(gxe.ExpectColumnPairValuesToBeEqual, "probe_count_matches_implants",
              "as many probes were recorded as the subject has implanted.",
              column_A="n_probes", column_B="implanted_probes", ignore_row_if="either_value_is_missing"),
        none_of("n_serials_not_implanted", "probe_serials_implanted",
                "every probe serial is one implanted in the subject."),
        none_of("n_discovery_errors", "no_discovery_errors",
                "discovery read every file of the session (no unreadable folder or .meta)."),
        named(gxe.ExpectColumnValuesToBeInSet, "session_key_unique",
              "no other new candidate claims the same subject and start time.", column="n_same_key", value_set=[1]),
    ]
    names = tuple(e.meta[META_KEY] for e in every)
    if names != EXPECTATIONS:
        raise QualitySuiteError(f"the suite's expectations {names} are not EXPECTATIONS {EXPECTATIONS}")
    unknown = sorted(set(expectations) - set(EXPECTATIONS))
    if unknown:
        raise QualitySuiteError(f"unknown expectation(s) {unknown}; choose from {list(EXPECTATIONS)}")
    return gx.ExpectationSuite(name=name, expectations=[e for e in every if e.meta[META_KEY] in expectations])


def _gx_config(docs_dir: Path | None = None) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = None if docs_dir is None else {_DOCS_SITE: {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }}
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),  # GX's tqdm bars would print on every run
        data_docs_sites=sites,
    )


def run_suite(pdf: pd.DataFrame, context: QualityContext, expectations: tuple[str, ...] = EXPECTATIONS,
              name: str = SUITE_NAME) -> ExpectationSuiteValidationResult:
    """Validate a :func:`validation_frame` (as pandas) in a fresh in-memory GX context.

    Args:
        pdf: ``validation_frame(...).to_pandas()``, or some of its rows.
        context: Supplies the suite parameters.
        expectations: The part of the suite to run.
        name: The suite's name, shown in Data Docs.

    Returns:
        GX's raw result with COMPLETE per-row detail: each expectation result carries
        ``meta[META_KEY]`` and ``unexpected_index_list`` of ``{candidate_id, row, value}``.
        It is JSON-serialisable (``to_json_dict()``) and feeds :func:`build_data_docs`.
    """
    import great_expectations as gx

    with _GX_LOCK:
        gx_context = gx.get_context(mode="ephemeral", project_config=_gx_config())
        batch = (gx_context.data_sources.add_pandas(name="candidates")
                 .add_dataframe_asset(name="candidates")
                 .add_batch_definition_whole_dataframe("whole frame"))
        suite = gx_context.suites.add(build_suite(expectations, name))
        definition = gx_context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        return definition.run(
            batch_parameters={"dataframe": pdf},
            expectation_parameters={"known_subjects": sorted(context.implanted_probes),
                                    "now": context.now, "not_before": context.not_before},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": INDEX_COLUMNS},
        )


def failing_rows(result: ExpectationSuiteValidationResult,
                 expectations: tuple[str, ...] = EXPECTATIONS) -> dict[str, list[int]]:
    """Expectation name -> row numbers that failed it, for every name in ``expectations`` (those run)."""
    rows: dict[str, list[int]] = {}
    for outcome in result.results:
        name = (outcome.expectation_config.meta or {}).get(META_KEY)
        raised = (outcome.exception_info or {}).get("raised_exception")
        unexpected = outcome.result.get("unexpected_index_list")
        if raised or name not in expectations or (not outcome.success and not unexpected):
            # A bug in the suite or in GX, never a data problem: do not report it as one.
            raise QualitySuiteError(
                f"expectation {name or outcome.expectation_config.type!r} gave no per-row result: "
                f"{(outcome.exception_info or {}).get('exception_message') or outcome.result}")
        rows[name] = [int(hit["row"]) for hit in unexpected or []]
    if set(rows) != set(expectations):
        raise QualitySuiteError(f"the suite result lacks {sorted(set(expectations) - set(rows))}")
    return rows


def build_data_docs(results: Sequence[ExpectationSuiteValidationResult], target_dir: Path) -> Path:
    """Write GX's HTML Data Docs for validation results (e.g. one per modality) into ``target_dir``.

    The results go into a fresh in-memory context whose only Data Docs site is ``target_dir``;
    each suite's page shows the part of :func:`build_suite` its result ran.

    Returns:
        The site's ``index.html``, which links to each suite and each validation result.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    target_dir.mkdir(parents=True, exist_ok=True)
    with _GX_LOCK:
        gx_context = gx.get_context(mode="ephemeral", project_config=_gx_config(target_dir))
        for result in results:
            if result.suite_name not in {s.name for s in gx_context.suites.all()}:
                names = tuple(r.expectation_config.meta[META_KEY] for r in result.results)
                gx_context.suites.add(build_suite(names, result.suite_name))
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
                run_id=result.meta["run_id"], batch_identifier="candidates")
            gx_context.validation_results_store.set(key, result)
        gx_context.build_data_docs(site_names=[_DOCS_SITE])
    index = target_dir / "index.html"
    if not index.is_file():
        raise QualitySuiteError(f"Great Expectations built no Data Docs index in {target_dir}")
    return index


# -- 3. verdicts, reasons and what becomes of each candidate ----------------------------

def _plural(n: pl.Expr, word: str) -> pl.Expr:
    return pl.format("{} {}", n, pl.when(n == 1).then(pl.lit(word)).otherwise(pl.lit(word + "s")))


def _bytes(n: pl.Expr) -> pl.Expr:
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


def _reasons(context: QualityContext) -> dict[str, pl.Expr]:
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
            pl.when(_probe("bin_size").is_null()).then(pl.format("{} is missing beside its .ap.meta", _bin_file()))
            .when(_wrong_size()).then(pl.format(
                "{} has {} bytes, more than the {} its .ap.meta announces", _bin_file(),
                _bytes(_probe("bin_size")), _bytes(_probe("file_size_bytes"))))).list.join("; "),
        "no_zero_byte_data": _per_probe(pl.when(_probe("bin_size") == 0).then(
            pl.when(_probe("file_size_bytes").is_null()).then(pl.format("{} is empty (0 bytes)", _bin_file()))
            .otherwise(pl.format("{} is empty (0 bytes; its .ap.meta announces {})", _bin_file(),
                                 _bytes(_probe("file_size_bytes")))))).list.join("; "),
        "channels_and_rate_plausible": _per_probe(
            pl.when(_implausible_chans(context)).then(pl.format(
                "{} has nSavedChans={}, outside the plausible {} to {}", _probe("meta_file"),
                _probe("n_saved_chans"), pl.lit(chan_low), pl.lit(chan_high))),
            pl.when(_implausible_rate(context)).then(pl.format(
                "{} has imSampRate={}, outside the plausible {} to {} Hz", _probe("meta_file"),
                _number(_probe("sample_rate")), pl.lit(f"{rate_low:g}"), pl.lit(f"{rate_high:g}"))),
        ).list.join("; "),
        "probe_count_matches_implants": pl.format(
            "{} but subject {} has {}", _plural(pl.col("n_probes"), "probe folder"), pl.col("subject"),
            _plural(pl.col("implanted_probes"), "implanted probe")),
        "probe_serials_implanted": pl.format(
            "probe {} {} {} not implanted in subject {} (its implants: {})",
            pl.when(one_serial).then(pl.lit("serial")).otherwise(pl.lit("serials")), not_implanted.list.join(", "),
            pl.when(one_serial).then(pl.lit("is")).otherwise(pl.lit("are")), pl.col("subject"),
            pl.col("implanted_serials").list.join(", ")),
        "no_discovery_errors": _blocking_findings().list.eval(
            pl.format("{} at {}: {}", pl.element().struct.field("code"), pl.element().struct.field("path"),
                      pl.element().struct.field("message"))).list.join("; "),
        "session_key_unique": pl.format(
            "{} new candidates claim subject {} starting {}; they cannot all be inserted: give them distinct "
            "start times, or combine them (layout combined: true)", pl.col("n_same_key"), pl.col("subject"),
            start),
    }


def pending_reasons(frame: pl.DataFrame, context: QualityContext) -> pl.Series:
    """Why each candidate may still be arriving: a sentence per probe whose .ap.bin is shorter than
    announced or changed within ``context.settle_s``; an empty list when it is complete.

    An empty .ap.bin is not taken as a copy in progress unless it is recent: an old one is
    a recording that failed (``no_zero_byte_data``).
    """
    settle = _duration(context.settle_s)
    age = pl.lit(context.now_epoch) - _probe("bin_mtime")
    short = (_probe("bin_size") > 0) & (_probe("bin_size") < _probe("file_size_bytes"))
    fresh = age < context.settle_s
    reasons = _per_probe(
        pl.when(short).then(pl.format(
            "{} has {} of {} bytes announced: still being copied?", _bin_file(), _bytes(_probe("bin_size")),
            _bytes(_probe("file_size_bytes")))),
        pl.when(fresh & (age >= 0)).then(pl.format(
            "{} changed {} ago (settle time {})", _bin_file(), _age(age), pl.lit(settle)))
        .when(fresh).then(pl.format(
            "{} is dated {} ahead of this computer's clock (settle time {}); are the file server's and this "
            "computer's clocks apart?", _bin_file(), _age(age), pl.lit(settle))),
    )
    return frame.select(reasons.fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("pending_reasons")) \
        .to_series()


def check_quality_with_results(
        frame: pl.DataFrame, context: QualityContext, expectations: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pl.DataFrame, list[ExpectationSuiteValidationResult]]:
    """:func:`check_quality`, also returning GX's raw result of each modality's suite (for Data Docs)."""
    if frame.is_empty():
        return frame.with_columns(pl.lit(True).alias("quality_passed"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_failures"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_reasons"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("pending_reasons")), []

    # 1. derive the checked values; 2. let GX judge each modality's rows on its suite;
    # 3. turn its verdicts into columns.
    derived = _derived(frame, context)
    values = derived.select(VALUE_COLUMNS)
    failed: dict[str, list[int]] = {name: [] for name in EXPECTATIONS}
    results = []
    for modality in values["modality"].unique(maintain_order=True).to_list():
        names = _selected(modality, expectations)
        rows = values.filter(pl.col("modality") == modality)
        result = run_suite(rows.to_pandas(), context, names, f"{SUITE_NAME}-{modality or 'unknown'}")
        results.append(result)
        for name, failed_rows in failing_rows(result, names).items():
            failed[name].extend(failed_rows)

    row = pl.int_range(pl.len(), dtype=pl.Int64)
    verdicts = derived.with_columns(*[row.is_in(failed[name]).alias(f"_failed_{name}") for name in EXPECTATIONS])
    reasons = _reasons(context)
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
        pending_reasons(frame, context),
    ), results


def check_quality(frame: pl.DataFrame, context: QualityContext,
                  expectations: Mapping[str, Sequence[str]] | None = None) -> pl.DataFrame:
    """Run each modality's expectation suite over its candidates, and tell which may still be arriving.

    Args:
        frame: Candidate frame (:data:`mass_ingest.candidates.CANDIDATE_SCHEMA`, extra columns kept).
        context: Known subjects with their implanted probes and serials, the time bounds, the
            settle time and the plausible probe settings.
        expectations: Modality -> names of the expectations its candidates are judged on; a
            modality not listed gets :func:`expectations_for` it.

    Returns:
        ``frame`` in its order with four columns added: ``quality_passed`` (bool),
        ``quality_failures`` (names of failed expectations, in :data:`EXPECTATIONS` order),
        ``quality_reasons`` (one sentence per failure, naming the values) and
        ``pending_reasons`` (see :func:`pending_reasons`). An empty frame comes back empty
        with the four columns, without running GX.
    """
    return check_quality_with_results(frame, context, expectations)[0]


def failures_as_findings(row: dict[str, Any]) -> list[Finding]:
    """One ``QUALITY.FAILED`` finding per failed expectation of a checked candidate row."""
    return [
        finding("QUALITY.FAILED", stage="quality", share=row["share"], path=row["rel_path"],
                message=reason, expected=name).model_copy(update={"origin": _ORIGIN})
        for name, reason in zip(row["quality_failures"], row["quality_reasons"], strict=True)
    ]


def classify(frame: pl.DataFrame) -> pl.DataFrame:
    """New candidates become ``pending`` (may still be arriving), else ``ready`` or ``quarantined``;
    duplicates, copies and exclusions keep their status."""
    new = pl.col("status") == "new"
    return frame.with_columns(
        pl.when(new & (pl.col("pending_reasons").list.len() > 0)).then(pl.lit("pending"))
        .when(new & pl.col("quality_passed")).then(pl.lit("ready"))
        .when(new).then(pl.lit("quarantined"))
        .otherwise(pl.col("status")).alias("status"))


def lab_now(timezone: str) -> datetime:
    """The lab's wall-clock time, naive like folder times."""
    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)


def quality_context(profile: Profile) -> QualityContext:
    """The pipeline's subjects and implants, the time bounds and the clock, for checking this profile's candidates."""
    epoch = time.time()
    return QualityContext(implanted_probes=implanted_probe_counts(), implanted_serials=implanted_serials(),
                          now=lab_now(profile.timezone), now_epoch=epoch, not_before=profile.not_before,
                          settle_s=profile.quality.settle_s, saved_chans=profile.quality.saved_chans,
                          sample_rate_hz=profile.quality.sample_rate_hz)


def check_profile_quality(frame: pl.DataFrame, profile: Profile
                          ) -> tuple[pl.DataFrame, list[ExpectationSuiteValidationResult]]:
    """The profile's suites over deduplicated candidates, classified (ready, pending, quarantined, ...)."""
    checked, results = check_quality_with_results(frame, quality_context(profile),
                                                  profile.quality.expectations or None)
    return classify(checked), results


@task(name="quality", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def quality_stage_task(profile: Profile, deduped: StageFrame, ingest_id: str) -> StageFrame:
    """Run the suites over the deduplicated candidates, and publish GX's Data Docs of the run."""
    frame, results = check_profile_quality(deduped.load(), profile)
    docs = build_data_docs(results, run_dir(ingest_id) / "data-docs")
    get_run_logger().info("Great Expectations Data Docs of the quality suites: %s", docs)
    create_link_artifact(key="quality-data-docs", link=docs.as_uri(), link_text="Data Docs",
                         description="Great Expectations Data Docs of this ingest's quality suites")
    return StageFrame.save(frame, stage="quality", ingest_id=ingest_id)
