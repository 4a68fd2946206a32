"""The tables of the ``reference`` schema: what the lab knows before any ingest (subjects, probes, implants,
projects).

Declared unactivated; :func:`mass_ingest.db.schema.activate` binds them (read them as ``schema.Subject``, ...).
"""

from __future__ import annotations

import datajoint as dj


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
