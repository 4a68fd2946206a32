"""Discovery's stand-in for `mass-ingest import`: the sessions a lab's input file lists, as candidates.

Each listed folder is read exactly as discovery reads it (same recording systems, exclusions,
projects and findings), so dedup, the expectations and approval judge it the same way. What
the file adds is checked against the folder: its subject, its probe serials and its clustering;
a disagreement is a finding on the candidate, which the quality stage stops.
"""

from __future__ import annotations

import os

from prefect import task

from mass_ingest.candidates import SessionCandidate, TaskHint, candidates_to_frame
from mass_ingest.describe import describe_session, fit_layout, folder_start
from mass_ingest.errors import InputFileError
from mass_ingest.findings import Stage, finding
from mass_ingest.groups import split_by_recording
from mass_ingest.input_files import InputFile, InputSession, read_input_file
from mass_ingest.locations import canonical_location, share_of
from mass_ingest.profile import Profile
from mass_ingest.stage_cache import StageFrame
from tasks import STAGE_CACHE
from mass_ingest.walk import Walker


def _checked(candidate: SessionCandidate, entry: InputSession, subject: str) -> SessionCandidate:
    """The candidate with what the file says added, and a finding for each disagreement with the folder."""
    share, rel = candidate.share, candidate.rel_path
    found = list(candidate.findings)
    if candidate.subject != subject:
        found.append(finding("IMPORT.SUBJECT_MISMATCH", stage=Stage.DISCOVER, share=share, path=rel,
                             message=f"the folder is subject {candidate.subject!r}, the input file's subject is "
                             f"{subject!r}; fix the location or move the session to that subject's file"))
    probes = {p.folder: p for p in candidate.probes}
    for folder, probe_name in entry.probe_association.items():
        serial = probe_name.split("_", 1)[0]
        probe = probes.get(folder)
        if probe is None or probe.serial != serial:
            seen = f"its .ap.meta says serial {probe.serial}" if probe else "it holds no .ap.meta"
            found.append(finding("IMPORT.PROBE_MISMATCH", stage=Stage.DISCOVER, share=share, path=f"{rel}/{folder}",
                                 message=f"the input file associates probe {probe_name!r} with {folder}, but {seen}; "
                                 "fix probe_association", expected=f"serial {serial}"))
    if entry.clustering and not any(entry.clustering.lower().startswith(o.kind) for o in candidate.outputs):
        found.append(finding("IMPORT.NO_CLUSTERING", stage=Stage.DISCOVER, share=share, path=rel,
                             message=f"the input file names clustering {entry.clustering!r}, but no such output "
                             "is in the folder; run it, or drop clustering from the file"))
    projects = candidate.projects + ([entry.project] if entry.project and entry.project not in candidate.projects
                                     else [])
    hints = candidate.task_hints or [TaskHint(order=i, name=t, start_s=0.0, kind="input file")
                                     for i, t in enumerate(entry.tasks, 1)]
    return candidate.model_copy(update={"findings": found, "projects": projects, "task_hints": hints,
                                        "experimenter": entry.experimenter})


def import_candidates(profile: Profile, data: InputFile, source: str) -> list[SessionCandidate]:
    """One candidate per listed session (one per recording for a layout with combined: false)."""
    placed = [(entry, share_of(entry.location, profile.shares)) for entry in data.sessions]
    nowhere = [entry.location for entry, where in placed if where is None]
    if nowhere:
        raise InputFileError(f"input file {source}: {len(nowhere)} location(s) are on none of profile "
                             f"{profile.name}'s shares ({', '.join(nowhere[:3])}); add the root they are written "
                             "with to the share's aliases in the profile")
    out: list[SessionCandidate] = []
    for entry, (share, rel) in placed:
        path = os.path.join(share.root, rel)
        fit = fit_layout(share, rel)
        if fit is None or not os.path.isdir(path):
            code, why = (("IMPORT.NOT_FOUND", f"{path} is not a folder on this worker; fix the location")
                         if not os.path.isdir(path) else
                         ("IMPORT.NO_LAYOUT", f"the folder fits none of share {share.name}'s layouts "
                          f"({', '.join(lay.template for lay in share.layouts)}); fix the location or add a layout"))
            out.append(SessionCandidate(share=share.name, rel_path=rel, location=canonical_location(share, rel),
                                        subject=data.subject, experimenter=entry.experimenter,
                                        findings=[finding(code, stage=Stage.DISCOVER, share=share.name, path=rel,
                                                          message=why)]))
            continue
        layout, template, fields = fit
        walker = Walker(share=share.name, root=share.root)
        described = describe_session(walker, share, profile, layout, template, path, fields,
                                     folder_start(fields, template))
        parts = [described] if layout.combined else split_by_recording(described, path, profile.timezone)
        out.extend(_checked(part, entry, data.subject) for part in parts)
    return out


@task(name="import-input-file", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json",
      task_run_name="import {input_file}")
def import_input_file_task(profile: Profile, input_file: str, ingest_id: str) -> StageFrame:
    """The input file's sessions as discovery's frame, persisted and cached for the rest of this ingest."""
    data = read_input_file(input_file)
    frame = candidates_to_frame(import_candidates(profile, data, os.path.basename(input_file)))
    return StageFrame.save(frame.sort("rel_path", "group"), stage="discover", ingest_id=ingest_id, part="import")
