"""mass-ingest: bring a whole recording campaign from network shares into a DataJoint pipeline."""

__version__ = "0.1.0"

# Before anything logs: every log record of a process that imports this package has its credentials
# taken out (mass_ingest/redaction.py), Prefect's API log handler included, and so has every exception
# Prefect makes a state of.
from mass_ingest.redaction import install_log_redaction as _install_log_redaction  # noqa: E402
from mass_ingest.redaction import install_prefect_redaction as _install_prefect_redaction  # noqa: E402

_install_log_redaction()
_install_prefect_redaction()
