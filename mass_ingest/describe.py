"""One session folder described: its start time from the layout, what the recording systems find in it,
exclusion and projects. Discovery (tasks/discover.py) describes every folder a walk finds; an import
(tasks/import_file.py) describes the folders an input file lists, the same way.
"""

from __future__ import annotations

from datetime import datetime

from mass_ingest.candidates import SessionCandidate
from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.inferred_start import infer_start
from mass_ingest.layouts import LayoutTemplate, parse_session_start
from mass_ingest.locations import canonical_location
from mass_ingest.profile import Layout, Profile, Share
from mass_ingest.systems import SessionFiles, dlc, systems_for
from mass_ingest.file_list import FileList
from mass_ingest.walk import Walker

_SUSPICIOUS = ("_old", "_copy", "test", "backup")


def folder_start(fields: dict[str, str], template: LayoutTemplate) -> datetime | str:
    """The start time the folder's name gives, or the reason it gives none."""
    try:
        return parse_session_start(fields, template.segments)
    except ValueError as exc:
        return str(exc)


def fit_layout(share: Share, rel: str):
    """(layout, template, captured fields) of the first layout the folder fits, or None."""
    parts = rel.split("/")
    for layout in share.layouts:
        template = LayoutTemplate.compile(layout.template)
        if len(parts) != len(template.segments):
            continue
        fields: dict[str, str] = {}
        for segment, part in zip(template.segments, parts):
            captured = segment.match(part)
            if captured is None:
                break
            fields.update(captured)
        else:
            return layout, template, fields
    return None


def start_time_findings(candidate: SessionCandidate, tolerance_s: float) -> list[Finding]:
    """A finding per probe whose .meta fileCreateTime is far from the folder's start time."""
    if candidate.session_start is None:
        return []
    out = []
    for probe in candidate.probes:
        if probe.file_create_time is None:
            continue
        gap = (probe.file_create_time - candidate.session_start).total_seconds()
        if abs(gap) > tolerance_s:
            out.append(finding(
                "EPHYS.CREATE_TIME_MISMATCH", stage=Stage.DISCOVER, share=candidate.share,
                path=f"{candidate.rel_path}/{probe.meta_file}",
                message=f"fileCreateTime {probe.file_create_time:%Y-%m-%d %H:%M:%S} is {gap / 60:+.0f} min from the "
                f"folder's start {candidate.session_start:%Y-%m-%d %H:%M:%S}; check the folder name",
                expected=f"within {tolerance_s:g} s of the folder's start"))
    return out


def describe_session(walker: Walker, share: Share, profile: Profile, layout: Layout, template: LayoutTemplate,
                     path: str, fields: dict[str, str], start: datetime | str,
                     listed: tuple[FileList, list[Finding]] | None = None) -> SessionCandidate:
    """Read one session folder: what each recording system finds, exclusion and projects.

    ``start`` is the folder's start time, or why its date did not parse (see :func:`folder_start`).
    ``listed``: the folder's files and the problems met listing them, when already listed.
    """
    rel = walker.rel(path)
    subject = fields["subject"]
    findings: list[Finding] = []
    if isinstance(start, str):
        findings.append(finding("DISCOVER.BAD_DATE", stage=Stage.DISCOVER, share=share.name, path=rel,
                                message=f"folder date {start}; rename the folder to the layout's format "
                                f"or exclude it", expected=template.template))
        start = None
    if any(marker in rel.rsplit("/", 1)[-1].lower() for marker in _SUSPICIOUS):
        findings.append(finding("DISCOVER.SUSPICIOUS_COPY", stage=Stage.DISCOVER, share=share.name, path=rel,
                                message="the folder name looks like an old, test or backup copy; "
                                "exclude it in the profile if it is not a real session"))
    # Problems met while listing this session's own folders belong to the session, so that a
    # session with an unreadable probe folder is stopped, not taken as complete.
    if listed is None:
        before = len(walker.findings)
        files = walker.files_below(path)
        findings.extend(walker.findings[before:])
        del walker.findings[before:]
    else:
        files = listed[0]
        findings.extend(listed[1])
    session = SessionFiles(share=share.name, session_rel=rel, subject=subject, files=files,
                           combined=layout.combined)
    found: dict[str, list] = {"probes": [], "bins_without_meta": [], "task_hints": [], "recordings": [],
                              "outputs": []}
    systems = []
    for system in systems_for(layout.modality, layout.systems):
        result = system.recognise(session)
        findings.extend(result.findings)
        if result.anything:  # else it found nothing to add
            systems.append(system.name)
            for key, values in found.items():
                values.extend(getattr(result, key))
    findings.extend(dlc.attribute(session, found["outputs"], found["recordings"]))
    inferred, source = False, ""
    if start is not None and not template.has_time_of_day and layout.combined:
        # The name gives only the date: the start is read from the files (combined: false
        # layouts read one per recording, in split_by_recording).
        start, source, why = infer_start(found["recordings"], path, start.date(), profile.timezone,
                                         share=share.name, rel_path=rel)
        findings.extend(why)
        inferred = start is not None
    candidate = SessionCandidate(
        share=share.name, rel_path=rel, location=canonical_location(share, rel), subject=subject,
        session_start=start, start_inferred=inferred, start_source=source, modality=layout.modality,
        layout=template.template,
        systems=systems, findings=findings, **found)
    candidate.findings.extend(start_time_findings(candidate, profile.start_tolerance_s))
    session_id = candidate.session_id
    rule = profile.exclude.match(subject, session_id, rel, start)
    if rule:
        candidate.excluded_by = f"exclude {rule}"
        candidate.findings.append(finding("DISCOVER.EXCLUDED", stage=Stage.DISCOVER, share=share.name, path=rel,
                                          message=f"excluded by the profile ({candidate.excluded_by}); change "
                                          "that rule in the profile to ingest it"))
    candidate.projects = [p.name for p in profile.projects if p.match(subject, session_id, rel, start)]
    return candidate
