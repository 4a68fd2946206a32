"""The pipeline's tables: reference, acquisition and ingest bookkeeping.

Schemas are declared unactivated and bound by :func:`activate` (as DataJoint elements do),
so importing this module touches no database and tests can use their own prefix.
Restrictions are always dicts, never SQL strings, so the same code runs on PostgreSQL and MySQL.
Each schema's tables live in a module of its own (``reference_tables``, ``ingest_tables``,
``acquisition_tables``); every caller reads them from here (``schema.Session``).
"""

from __future__ import annotations

import datajoint as dj

from mass_ingest import settings
from mass_ingest.db.acquisition_tables import FollowUpDone, Session
from mass_ingest.db.connection import connect
from mass_ingest.db.ingest_tables import (ApprovalPause, CreatedSubject, DecisionLog, HeldSession, IngestRun, Pending,
                                          Quarantine, ScanWatermark)
from mass_ingest.db.reference_tables import Probe, ProbeInsertion, Project, Subject

__all__ = ["reference", "ingest", "acquisition", "activate", "drop_all", "holdings",
           "Subject", "Probe", "ProbeInsertion", "Project",
           "IngestRun", "DecisionLog", "ApprovalPause", "HeldSession", "CreatedSubject", "Quarantine", "Pending",
           "ScanWatermark", "Session", "FollowUpDone"]

reference = dj.Schema()
ingest = dj.Schema()
acquisition = dj.Schema()


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
