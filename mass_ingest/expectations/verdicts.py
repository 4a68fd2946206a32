"""From GX's per-row results to each candidate's verdict: failures, reasons, and what becomes of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import polars as pl

from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.gx_run import failing_rows, run_suite
from mass_ingest.expectations.reasons import found_for, pending_reasons, reasons_for
from mass_ingest.expectations.suites import EXPECTATIONS, SUITE_NAME, quality_code, selected_expectations
from mass_ingest.expectations.values import VALUE_COLUMNS, derived_values
from mass_ingest.candidates import Status, change_status, has_status
from mass_ingest.findings import ORIGIN, Finding, Stage

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

# The suite's findings name the library that judged them as well as this tool's release.
QUALITY_ORIGIN = f"mass-ingest quality suite (great-expectations {version('great-expectations')}; {ORIGIN})"


def run_suites(
        frame: pl.DataFrame, context: QualityContext, expectations: Mapping[str, Sequence[str]] | None = None,
        progress: Callable[[int, int], None] | None = None,
) -> tuple[pl.DataFrame, list[ExpectationSuiteValidationResult]]:
    """Run each modality's expectation suite over its candidates, and tell which may still be arriving.

    Args:
        frame: Candidate frame (:data:`mass_ingest.candidates.CANDIDATE_SCHEMA`, extra columns kept).
        context: Known subjects with their implanted probes and serials, the time bounds, the
            settle time and the plausible probe settings.
        expectations: Modality -> names of the expectations its candidates are judged on; a
            modality not listed gets :func:`expectations_for` it.
        progress: ``progress(done, total)`` is told the candidates checked after each modality's suite.

    Returns:
        ``frame`` in its order with five columns added: ``quality_passed`` (bool),
        ``quality_failures`` (names of failed expectations, in :data:`EXPECTATIONS` order),
        ``quality_reasons`` (one sentence per failure, naming the values) and
        ``pending_reasons`` (see :func:`pending_reasons`) and ``new_subject`` (the pipeline does
        not know the subject: created on insertion if the row goes in); and GX's raw result of each
        modality's suite (for the report). An empty frame comes back empty with the five columns,
        without running GX.
    """
    if frame.is_empty():
        return frame.with_columns(pl.lit(True).alias("quality_passed"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_failures"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("quality_reasons"),
                                  pl.lit([], dtype=pl.List(pl.String)).alias("pending_reasons"),
                                  pl.lit(False).alias("new_subject")), []

    # 1. derive the checked values; 2. let GX judge each modality's rows on its suite;
    # 3. turn its verdicts into columns, and each failure into a finding.
    frame = without_quality_findings(frame)  # a re-check judges afresh, never counts its own findings
    derived = derived_values(frame, context)
    values = derived.select(VALUE_COLUMNS)
    failed: dict[str, list[int]] = {name: [] for name in EXPECTATIONS}
    results, checked = [], 0
    for modality in values["modality"].unique(maintain_order=True).to_list():
        names = selected_expectations(modality, expectations)
        rows = values.filter(pl.col("modality") == modality)
        result = run_suite(rows.to_pandas(), context, names, f"{SUITE_NAME}-{modality or 'unknown'}")
        results.append(result)
        for name, failed_rows in failing_rows(result, names).items():
            failed[name].extend(failed_rows)
        checked += rows.height
        if progress:
            progress(checked, values.height)

    row = pl.int_range(pl.len(), dtype=pl.Int64)
    verdicts = derived.with_columns(*[row.is_in(failed[name]).alias(f"_failed_{name}") for name in EXPECTATIONS],
                                    frame["share"], frame["rel_path"])
    reasons, found = reasons_for(context), found_for(context)
    when_failed = {name: pl.when(pl.col(f"_failed_{name}")) for name in EXPECTATIONS}
    # fill_null: a failure never loses its sentence, so failures and reasons stay aligned.
    sentence = {n: reasons[n].fill_null(pl.lit(f"{n} failed")) for n in EXPECTATIONS}
    verdicts = verdicts.select(
        pl.concat_list([when_failed[n].then(pl.lit(n)) for n in EXPECTATIONS])
        .list.drop_nulls().alias("quality_failures"),
        pl.concat_list([when_failed[n].then(sentence[n]) for n in EXPECTATIONS])
        .list.drop_nulls().alias("quality_reasons"),
        pl.concat_list([when_failed[n].then(_finding(n, sentence[n], *found.get(n, (None, None))))
                        for n in EXPECTATIONS]).list.drop_nulls().alias("quality_findings"),
    )
    return frame.with_columns(
        (verdicts["quality_failures"].list.len() == 0).alias("quality_passed"),
        verdicts["quality_failures"],
        verdicts["quality_reasons"],
        pending_reasons(frame, context),
        pl.concat_list(pl.col("findings"), verdicts["quality_findings"]).alias("findings"),
        # A subject the pipeline does not know: quarantined where its suite asks subject_known (ephys),
        # else created on insertion, which the approval summary says.
        (~pl.col("subject").is_in(list(context.implanted_probes)).fill_null(True)).alias("new_subject"),
    ), results


def _finding(name: str, message: pl.Expr, found: pl.Expr | None, expected: pl.Expr | None) -> pl.Expr:
    """A failed expectation as a finding struct of the candidate frame's ``findings`` column."""
    text = pl.String
    return pl.struct(
        code=pl.lit(quality_code(name)), severity=pl.lit("ERROR"), stage=pl.lit(Stage.QUALITY), share=pl.col("share"),
        path=pl.col("rel_path"), message=message,
        expected=(expected if expected is not None else pl.lit(None)).cast(text),
        found=(found if found is not None else pl.lit(None)).cast(text))


def without_quality_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without findings an earlier quality check added."""
    return frame.with_columns(pl.col("findings").list.filter(pl.element().struct.field("stage") != Stage.QUALITY))


def failures_as_findings(row: dict[str, Any]) -> list[Finding]:
    """The findings of a checked candidate row's failed expectations (``QUALITY.<NAME>``, one each)."""
    return [Finding.model_validate({**f, "origin": QUALITY_ORIGIN})
            for f in row["findings"] if f["stage"] == Stage.QUALITY]


def classify(frame: pl.DataFrame) -> pl.DataFrame:
    """New candidates become ``pending`` (may still be arriving), else ``ready`` or ``quarantined``.

    Known sessions that moved or gained data (``moved``, ``update``) are judged the same way, since
    what they bring goes in too: still arriving makes them ``pending``, a failure ``quarantined``,
    and otherwise they keep their status. Duplicates, copies and exclusions keep theirs.
    """
    new = pl.col("status") == Status.NEW
    offered = new | has_status(Status.MOVED, Status.UPDATE)
    return change_status(
        frame,
        pl.when(offered & (pl.col("pending_reasons").list.len() > 0)).then(pl.lit(Status.PENDING))
        .when(offered & ~pl.col("quality_passed")).then(pl.lit(Status.QUARANTINED))
        .when(new).then(pl.lit(Status.READY))
        .otherwise(pl.col("status")))
