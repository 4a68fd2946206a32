"""Exceptions for bugs in the input we cannot work around and for infrastructure failures.

Problems with the *data* on a share are never raised: they are returned as findings
(see :mod:`mass_ingest.findings`) so that one bad session never stops the others.
"""


from mass_ingest.redaction import redact


class MassIngestError(Exception):
    """Base class of every error this tool raises on purpose; its message never holds a credential."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ProfileError(MassIngestError):
    """A profile file is missing, is not valid YAML, or does not match the profile model."""


class DatabaseError(MassIngestError):
    """The database could not be started, reached or configured."""


class SubjectImportError(MassIngestError):
    """A subjects CSV has a bad header or bad rows; nothing was imported."""


class QualitySuiteError(MassIngestError):
    """Great Expectations could not evaluate an expectation or returned no per-row results."""


class ShareChangedError(MassIngestError):
    """What would be inserted differs from what the approver was shown."""


class ApprovalTimeout(MassIngestError):
    """Nobody decided within the profile's approval timeout; the ingest was closed with nothing inserted."""


class ConfigError(MassIngestError):
    """An environment setting (MASS_INGEST_*) has a value this tool cannot use."""


class InputFileError(MassIngestError):
    """A lab's per-subject input file is missing, is not valid YAML/JSON, or does not match its model."""


class StorageError(MassIngestError):
    """This tool's own files (stage results, reports) could not be written: a full disk, a read-only folder."""
