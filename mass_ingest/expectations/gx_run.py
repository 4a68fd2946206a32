"""Running the suite in Great Expectations: one in-memory context per process, per-row results, Data Docs.

Great Expectations takes about 5 s to import, so it is imported only when a suite is built
or run; importing this module does not import it. The context that validates is made once per
process, with its pandas data source; each run validates the whole frame of a modality in one
``Batch.validate`` of its suite. Results are not kept in that context's store: storing one
serialises it, which at 100,000 candidates with many failures took longer than validating. The
Data Docs context (one per ingest, it writes to that ingest's folder) stores what it shows.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mass_ingest.errors import QualitySuiteError
from mass_ingest.expectations.context import QualityContext
from mass_ingest.expectations.suites import EXPECTATIONS, META_KEY, SUITE_NAME, build_suite

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

# Columns GX reports for every unexpected row: the id for people (Data Docs), the row number
# for us, since it stays exact even if a frame ever held one candidate id twice.
INDEX_COLUMNS = ["candidate_id", "row"]
_DOCS_SITE = "mass-ingest"
# GX keeps a process-wide "current context" that get_context() replaces; one run at a time
# keeps concurrent Prefect task threads from building and running contexts over each other.
_GX_LOCK = threading.Lock()
_BATCH_DEFINITION: Any = None  # see _whole_frame


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


def _whole_frame() -> Any:
    """The batch definition of a whole pandas frame, in this process's validating context (made once)."""
    global _BATCH_DEFINITION
    if _BATCH_DEFINITION is None:
        import great_expectations as gx

        gx_context = gx.get_context(mode="ephemeral", project_config=_gx_config())
        _BATCH_DEFINITION = (gx_context.data_sources.add_pandas(name="candidates")
                             .add_dataframe_asset(name="candidates")
                             .add_batch_definition_whole_dataframe("whole frame"))
    return _BATCH_DEFINITION


def prepare() -> None:
    """Import Great Expectations and make this process's validating context now: `validate` calls it in a
    thread while the share is walked, so GX's seconds of import overlap the walk instead of following it.

    A failure is left for :func:`run_suite` to raise where the quality stage can report it.
    """
    try:
        with _GX_LOCK:
            _whole_frame()
        import pandas  # noqa: F401 - the frame goes to GX as pandas
    except Exception:  # noqa: BLE001 - see above: raised again, with its context, by run_suite
        pass


def run_suite(pdf: pd.DataFrame, context: QualityContext, expectations: tuple[str, ...] = EXPECTATIONS,
              name: str = SUITE_NAME) -> ExpectationSuiteValidationResult:
    """Validate a :func:`validation_frame` (as pandas) in this process's GX context.

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
    from great_expectations.core.run_identifier import RunIdentifier

    with _GX_LOCK:
        batch = _whole_frame().get_batch(batch_parameters={"dataframe": pdf})
        result = batch.validate(
            build_suite(expectations, name),
            expectation_parameters={"known_subjects": sorted(context.implanted_probes),
                                    "now": context.now, "not_before": context.not_before},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": INDEX_COLUMNS},
        )
    # What ValidationDefinition.run adds, and Data Docs show.
    run_id = RunIdentifier(run_time=datetime.now(timezone.utc))
    result.meta.update(run_id=run_id, validation_time=run_id.run_time, batch_parameters={"dataframe": "<DATAFRAME>"})
    return result


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
