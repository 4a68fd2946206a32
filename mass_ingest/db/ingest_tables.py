"""The tables of the ``ingest`` schema: the ledger of each ingest (its run, decision, pause, held and
quarantined or pending folders, the subjects it created, each share's last re-scan).

Declared unactivated; :func:`mass_ingest.db.schema.activate` binds them (read them as ``schema.IngestRun``, ...).
Foreign keys name tables of the other schemas by class name, resolved in ``activate``'s context.
"""

from __future__ import annotations

import datajoint as dj


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
