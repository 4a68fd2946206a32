"""The pipeline's tables: reference, acquisition and ingest bookkeeping.

Schemas are declared unactivated and bound by :func:`activate` (as DataJoint elements do),
so importing this module touches no database and tests can use their own prefix.
Restrictions are always dicts, never SQL strings, so the same code runs on PostgreSQL and MySQL.
"""

from __future__ import annotations

import datajoint as dj

from mass_ingest import settings
from mass_ingest.db.connection import connect

reference = dj.Schema()
ingest = dj.Schema()
acquisition = dj.Schema()


class Subject(dj.Manual):
    """An animal. subject: lab id, always text ('102_1', 'no' stay strings); source: how it became known."""

    definition = """
    subject: varchar(64)
    ---
    source='': varchar(64)
    """


class Probe(dj.Manual):
    """A physical probe. probe: lab name '<serial>_<subject>_<n>'; serial; probe_type: lab label."""

    definition = """
    probe: varchar(64)
    ---
    serial: varchar(32)
    probe_type='': varchar(64)
    """


class ProbeInsertion(dj.Manual):
    """A probe implanted in a subject at insertion_time."""

    definition = """
    -> Subject
    -> Probe
    ---
    insertion_time=null: datetime
    """


class Project(dj.Manual):
    """A project (metagroup) sessions can belong to."""

    definition = """
    project: varchar(64)
    ---
    description='': varchar(255)
    """


class IngestRun(dj.Manual):
    """One mass ingestion: the profile it ran, who approved it and what it did.

    ingest_id: stable across resumes of the same interrupted ingest; status: open, approved,
    rejected, timed_out, completed, undone, share_changed (an approved folder changed after the pause),
    failed (a stage raised before the decision: the next run starts a new ingest);
    counts: final counts (discovered, duplicates, ...), or the error of a failed one.
    """

    definition = """
    ingest_id: varchar(36)
    ---
    profile_name: varchar(64)
    profile_hash: char(16)
    status: varchar(16)
    started_at: datetime
    finished_at=null: datetime
    approved=null: bool
    approver='': varchar(128)
    approval_source='': varchar(16)
    excluded=null: json
    note='': varchar(2000)
    counts=null: json
    """

    class FlowRun(dj.Part):
        """Each Prefect flow run that worked on this ingest (a resumed ingest has several)."""

        definition = """
        -> master
        flow_run_id: varchar(36)
        ---
        started_at: datetime
        """

    class Undo(dj.Part):
        """The undo of this ingest: when, by whom, and how many rows it deleted per table."""

        definition = """
        -> master
        ---
        undone_at: datetime
        undone_by: varchar(128)
        deleted: json
        """


class DecisionLog(dj.Manual):
    """The decision on an ingest, appended once and never updated: its key is the ingest, so the first
    decision closes the question (two processes deciding at once: the database keeps one, the other
    gets a duplicate key). verdict: approved, rejected or timed_out; source: ui, cli, api, auto or
    timeout; excluded: the patterns the approver left out; shown_digest: what the approver was shown.
    IngestRun's approved/approver/... columns mirror it for readers of the previous version.
    """

    definition = """
    -> IngestRun
    ---
    verdict: varchar(16)
    decided_by: varchar(128)
    decided_at: datetime
    source: varchar(16)
    flow_run_id='': varchar(36)
    excluded=null: json
    note='': varchar(2000)
    shown_digest='': varchar(16)
    """

    class Refused(dj.Part):
        """A later attempt to decide the same ingest, refused because the decision above closed it."""

        definition = """
        -> master
        attempt: char(32)
        ---
        verdict: varchar(16)
        attempted_by: varchar(128)
        attempted_at: datetime
        source: varchar(16)
        note='': varchar(2000)
        """


class ApprovalPause(dj.Manual):
    """The one flow run that asks for the decision on an ingest (its key is the ingest, so a second run
    cannot pause for it too); kept after the decision as where the question was asked.
    timeout_at: when the pause gives up (a claim of a run that died is taken over after it, or once
    Prefect says the run has ended); alive_at: the waiting process's last heartbeat (a killed process's
    run stays Paused in Prefect, so the heartbeat is what tells a later run that nobody waits any more)."""

    definition = """
    -> IngestRun
    ---
    flow_run_id: varchar(36)
    flow_run_name='': varchar(128)
    paused_at: datetime
    timeout_at=null: datetime
    alive_at=null: datetime
    """


class HeldSession(dj.Manual):
    """A session folder a person kept out: left out at approval, in a rejected ingest, or undone.

    No run inserts it (auto-approval included) until it is released (``mass-ingest release``).
    candidate_id: the folder's stable id (hash of its canonical location and recording group);
    ingest_id: the ingest whose decision (or undo) held it; reason: left_out, rejected or undone.
    """

    definition = """
    candidate_id: char(16)
    -> IngestRun
    ---
    session_id: varchar(128)
    share: varchar(64)
    rel_path: varchar(1000)
    location: varchar(1000)
    reason: varchar(16)
    held_by: varchar(128)
    held_at: datetime
    note='': varchar(2000)
    """

    class Release(dj.Part):
        """The release that returned the held session to the queue: by whom, when, why."""

        definition = """
        -> master
        ---
        released_by: varchar(128)
        released_at: datetime
        note: varchar(2000)
        """


class CreatedSubject(dj.Manual):
    """A subject an ingest created because an imaging (or other probe-free) session named it and the
    lab's rule lets such subjects be unknown before ingest; its details are left for a person.
    An undo of that ingest deletes the subject again when nothing else refers to it."""

    definition = """
    -> Subject
    ---
    -> IngestRun
    """


class Quarantine(dj.Manual):
    """A candidate held back by failed expectations, with every reason."""

    definition = """
    -> IngestRun
    candidate_id: char(16)
    ---
    share: varchar(64)
    rel_path: varchar(1000)
    session_id: varchar(128)
    reasons: json
    """

    class Codes(dj.Part):
        """The finding code of each of the row's reasons, in their order ('' for a reason no code names), so
        `mass-ingest status` groups quarantines by code. Rows stored before this table existed have none."""

        definition = """
        -> master
        ---
        codes: json
        """


class Pending(dj.Manual):
    """A candidate an ingest left for a later run because its data may still be arriving, with why
    (``pending_reasons``: an .ap.bin short of its .meta and still changing, files too recent, ...).
    Ingests before this table existed kept only the count (IngestRun.counts)."""

    definition = """
    -> IngestRun
    candidate_id: char(16)
    ---
    share: varchar(64)
    rel_path: varchar(1000)
    session_id: varchar(128)
    reasons: json
    """


class ScanWatermark(dj.Manual):
    """The last successful re-scan of one share of a profile (flows/rescan.py).

    scanned_at: when that re-scan began (UTC); a failed re-scan leaves it where it was;
    ingest_id: the re-scan's ingest; pending: folders (rel_path) still arriving at that scan,
    which the next re-scan looks at first.
    """

    definition = """
    profile_name: varchar(64)
    share: varchar(64)
    ---
    scanned_at: datetime
    -> IngestRun
    pending=null: json
    """


class Session(dj.Manual):
    """A recording session. session_start: naive local time in `timezone`; ingest_id: the run that inserted it."""

    definition = """
    -> Subject
    session_start: datetime
    ---
    timezone: varchar(64)
    modality: varchar(16)
    -> IngestRun
    """

    class Directory(dj.Part):
        """Where the session's folder is: share, path relative to its root, canonical location, and the
        recording (session_group) when one folder holds several sessions (imaging, combined: false)."""

        definition = """
        -> master
        ---
        share: varchar(64)
        rel_path: varchar(1000)
        location: varchar(1000)
        session_group='': varchar(64)
        location_hash: char(16)
        unique index (location_hash)
        """

    class Recording(dj.Part):
        """One probe folder's recording, with what its .ap.meta says."""

        definition = """
        -> master
        recording: varchar(255)
        ---
        meta_file: varchar(1000)
        serial=null: varchar(32)
        probe_type=null: varchar(64)
        part_number=null: varchar(32)
        n_saved_chans=null: int32
        sample_rate=null: float64
        file_size_bytes=null: int64
        file_time_secs=null: float64
        file_create_time=null: datetime
        """

    class Membership(dj.Part):
        """The session's membership in a project."""

        definition = """
        -> master
        -> Project
        """

    # Parts below carry the ingest that inserted them: late data and moves are added by later ingests
    # to sessions an earlier one inserted, and an undo removes exactly what its ingest added.

    class AddedRecording(dj.Part):
        """A recording added to the session by a later ingest (late data); ingest_id: that ingest."""

        definition = """
        -> master.Recording
        ---
        -> IngestRun
        """

    class ProbeAssociation(dj.Part):
        """Which probe made a recording. decided_by: 'serial' (the Probe's name holds the .meta serial,
        the lab's '<serial>_<subject>_<n>') or 'profile_map' (the profile's probe_association)."""

        definition = """
        -> master.Recording
        ---
        -> Probe
        decided_by: varchar(16)
        -> IngestRun
        """

    class Task(dj.Part):
        """A task of the session, inferred from sessions.txt until a person confirms it.

        task_order: 1, 2, ... by start; task: its name; task_type: the <TYPE> tag; start_s, stop_s:
        seconds from the session start (stop: the next task's start, else the recording's end from the
        .meta fileTimeSecs; null when unknown); arena: entered by a person; confirmed: a person checked it.
        """

        definition = """
        -> master
        task_order: int32
        ---
        task: varchar(128)
        task_type='': varchar(64)
        start_s: float64
        stop_s=null: float64
        arena='': varchar(64)
        confirmed: bool  # no default: MySQL refuses a boolean default spelled false; insertion sets it
        -> IngestRun
        """

    class Output(dj.Part):
        """A processing output beside the raw data, with its key files.

        output_path: its folder relative to the session folder; output_name: the DeepLabCut result set
        ('' for other kinds); kind: suite2p, suite2p_split, dlc, kilosort or curation; preferred: the
        one to use (a combined suite2p run over split ones); files: relative to its folder.
        """

        definition = """
        -> master
        output_path: varchar(255)
        output_name: varchar(255)
        ---
        kind: varchar(32)
        recording='': varchar(255)
        files: json
        preferred: bool
        -> IngestRun
        """

    class Clustering(dj.Part):
        """A Kilosort sorting (or curated copy) of a probe's recording: a candidate for spike sorting
        downstream. curator and curation_time are entered by a person."""

        definition = """
        -> master.Output
        ---
        recording: varchar(255)
        curator=null: varchar(128)
        curation_time=null: datetime
        """

    # Added in the lab-share release (issue 11): new part tables only, so a database made by an earlier
    # version gains them when activated and keeps every row it has.

    class SystemRecording(dj.Part):
        """A recording of a system other than SpikeGLX probes (those are Recording): ScanImage, video,
        Motive/OptiTrack, Axona, Neuralynx, Neurologger, Wavesurfer, wheel, 2D tracking, Femtonics.

        system: the recording system's name ('scanimage', 'video', 'motive', ...); recording: its name
        (a ScanImage basename, a video's stem, 'motive'); folder: relative to the session folder ('' for
        the session folder); files: the files that identify it, relative to the session folder;
        n_files: how many files it has in all; details: what its files tell (frames, size, duration,
        header times), as discovery read them; ingest_id: the ingest that inserted it.
        """

        definition = """
        -> master
        system: varchar(32)
        recording: varchar(255)
        ---
        folder: varchar(1000)
        files: json
        n_files: int32
        details=null: json
        -> IngestRun
        """

    class ProbeFiles(dj.Part):
        """The files of a probe recording, relative to the session folder: its .ap.meta and the .ap.bin it
        was paired with (whose name may differ from the .meta's). Sessions inserted before this table
        existed have none: their files are the Recording's meta_file."""

        definition = """
        -> master.Recording
        ---
        files: json
        """

    class InferredStart(dj.Part):
        """The session's start was not in its folder name (a date-only folder) but inferred from its
        earliest acquisition file; a person confirms it through the follow-up list.

        inferred_from: how, as discovery said it (e.g. the file and whether from a ScanImage header or a
        modification time); '' when discovery did not say."""

        definition = """
        -> master
        ---
        inferred_from='': varchar(1000)
        """

    class PreviousLocation(dj.Part):
        """Where a moved session's folder was (Directory holds where it is now); ingest_id: the ingest
        that recorded the move."""

        definition = """
        -> master
        previous_hash: char(16)
        ---
        share: varchar(64)
        rel_path: varchar(1000)
        location: varchar(1000)
        session_group='': varchar(64)
        moved_at: datetime
        -> IngestRun
        """

    # Added for what the lab writes down (issue 17): a new part table, so an older database gains it when
    # activated and keeps every row it has.

    class Experimenter(dj.Part):
        """Who recorded the session, as the lab's input file names them (``experimenter``, mass-ingest
        import). Sessions found by a share scan have none: nothing on the share says who recorded them."""

        definition = """
        -> master
        ---
        experimenter: varchar(128)
        """


class FollowUpDone(dj.Manual):
    """A follow-up item a person completed (mass-ingest todo): what, the value entered, who and when.

    item_id: stable hash of the item (its session or subject, need and item); need and item as the
    follow-up list names them; session_start: null for an item about the subject itself (a new
    subject's details); value: what the person entered ('' when they only marked it done).
    """

    definition = """
    -> Subject
    item_id: char(16)
    ---
    session_start=null: datetime
    need: varchar(32)
    item: varchar(255)
    value='': varchar(2000)
    done_by: varchar(128)
    done_at: datetime
    """


_activated: str | None = None


def activate(prefix: str | None = None) -> str:
    """Bind the schemas to the database under ``prefix`` (default from the environment); idempotent."""
    global _activated
    prefix = prefix or settings.schema_prefix()
    connection = connect()
    if _activated == prefix and reference.connection is connection:
        return prefix
    # Foreign keys resolve by class name in this context.
    context = {t.__name__: t for t in (Subject, Probe, ProbeInsertion, Project, IngestRun, Quarantine, Session,
                                               ScanWatermark, CreatedSubject, FollowUpDone, DecisionLog, ApprovalPause,
                                               HeldSession, Pending)}
    # Declaring creates only the tables that do not exist yet, so activating upgrades an older database.
    for schema, name, tables in ((reference, "reference", (Subject, Probe, ProbeInsertion, Project)),
                                 (ingest, "ingest", (IngestRun, Quarantine, ScanWatermark, CreatedSubject, DecisionLog,
                                                     ApprovalPause, HeldSession, Pending)),
                                 (acquisition, "acquisition", (Session, FollowUpDone))):
        schema.activate(f"{prefix}_{name}", connection=connection, add_objects=context)
        for table in tables:
            schema(table, context=context)
    _activated = prefix
    return prefix


def drop_all(prefix: str) -> None:
    """Drop this tool's schemas under ``prefix`` (tests use it to clean up their own prefix)."""
    global _activated
    for schema in (acquisition, ingest, reference):
        if schema.is_activated():
            schema.drop(prompt=False)
    _activated = None


def holdings() -> dict[str, int]:
    """How many subjects, sessions and ingest runs the pipeline holds, and quarantine rows: one per
    session an ingest quarantined, ever (a session quarantined twice, or inserted since, counts too)."""
    activate()
    return {"subjects": len(Subject()), "sessions": len(Session()), "ingest runs": len(IngestRun()),
            "quarantine rows": len(Quarantine())}
