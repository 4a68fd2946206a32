"""The tables of the ``acquisition`` schema: the sessions an ingest inserted, with their parts, and the
follow-up items a person completed.

Declared unactivated; :func:`mass_ingest.db.schema.activate` binds them (read them as ``schema.Session``, ...).
Foreign keys name tables of the other schemas by class name, resolved in ``activate``'s context.
"""

from __future__ import annotations

import datajoint as dj


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
