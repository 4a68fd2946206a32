"""Publishing the review page of an ingest as Prefect artifacts: the complete lists (table artifacts),
the quality report, and the summary with its pictures that links to them.

Called from the flow itself (not from a cached task), so a resumed run publishes them again in its
own flow run. Links between artifacts are relative (``../../artifacts/artifact/<id>``): the run page
and an artifact's page sit at the same depth in both UIs the server ships (``/`` and ``/v2``).
"""

from __future__ import annotations

from importlib.metadata import version
from uuid import UUID

import polars as pl
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from mass_ingest.approval_summary import approval_markdown, reason_titles
from mass_ingest.campaign_picture import counts_png, over_time_png, timeline_pngs
from mass_ingest.profile import Profile
from mass_ingest.quality_report import expectation_rows, failure_rows, load_results, report_markdown
from mass_ingest.review_tables import LISTS, part_frames, per_subject, review_lists
from mass_ingest.stage_cache import run_dir


def artifact_link(artifact_id: UUID | str) -> str:
    """A link to an artifact's page that works from a run's or an artifact's page, in either UI."""
    return f"../../artifacts/artifact/{artifact_id}"


def publish_table(rows: pl.DataFrame, key: str, title: str) -> list[tuple[str, str]]:
    """``rows`` as table artifact(s) named ``key`` (``key``-2, -3 ... for further parts): (label, link) each."""
    chunks = part_frames(rows)
    links = []
    for i, chunk in enumerate(chunks):
        first = i * chunks[0].height + 1
        label = (f"rows {first:,}–{first + chunk.height - 1:,}" if len(chunks) > 1 else f"{chunk.height:,} rows")
        artifact = create_table_artifact(
            table=chunk.to_dicts(),
            key=key if i == 0 else f"{key}-{i + 1}",
            description=f"{title}" + (f" (part {i + 1} of {len(chunks)}, {label})" if len(chunks) > 1 else ""))
        links.append((f"{key}" + (f" part {i + 1}" if len(chunks) > 1 else ""), artifact_link(artifact)))
    return links


def publish_quality_report(frame: pl.DataFrame, ingest_id: str) -> str | None:
    """The quality report of an ingest (expectations, and every failure as a table); a link to it."""
    results = load_results(run_dir(ingest_id))
    if not results:
        return None
    failures = failure_rows(frame)
    links = publish_table(failures, "quality-failures", "Every quality failure: session, expectation, the value "
                          "found and what was expected") if failures.height else []
    report = create_markdown_artifact(
        key="quality-report", description=f"Great Expectations results of ingest {ingest_id}",
        markdown=report_markdown(ingest_id, expectation_rows(results), failures, links,
                                 version("great-expectations")))
    return artifact_link(report)


def publish_review(frame: pl.DataFrame, profile: Profile, ingest_id: str, key: str = "approval-summary",
                   description: str = "", input_file: str | None = None) -> str:
    """Publish the complete lists, the quality report and the summary (artifact ``key``); return the
    summary's compact form, for the approval form (about 420 px wide in both UIs). ``input_file``: an
    import's, named in the command the summary gives for listing every candidate."""
    # The lists are let go once published (not held while the pictures are drawn: ~30 MB at 100,000 sessions).
    links = {name: publish_table(rows, f"review-{name}", LISTS[name][0])
             for name, rows in review_lists(frame).items() if rows.height}
    links["subjects"] = publish_table(per_subject(frame), "review-subjects",
                                      "Sessions per subject and outcome, subjects needing attention first")
    titles = {name: title for name, (title, _) in LISTS.items()}
    titles["subjects"] = "Per subject: sessions by outcome, problems first"
    shared = {"links": links, "list_titles": titles, "quality_report": publish_quality_report(frame, ingest_id),
              "input_file": input_file,
              "counts": counts_png(frame, reason_titles()) if frame.height else None}
    markdown = approval_markdown(frame, profile.name, profile.content_hash(), ingest_id, **shared,
                                 over_time=over_time_png(frame) if frame.height else None,
                                 timelines=timeline_pngs(frame))
    full = create_markdown_artifact(markdown=markdown, key=key, description=description or f"What ingest "
                                    f"{ingest_id} would insert")
    return approval_markdown(frame, profile.name, profile.content_hash(), ingest_id, **shared, compact=True,
                             full_summary=artifact_link(full))
