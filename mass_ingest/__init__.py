"""mass-ingest: bring a whole recording campaign from network shares into a DataJoint pipeline."""

__version__ = "0.1.0"

import os as _os

# polars allocates through its own jemalloc, which by default keeps freed pages for 10 s: the frame a
# stage let go of and the one the next stage builds then both count in the process's memory. Given
# back at once instead (discovery of 20,000 sessions: 273 -> 209 MB once its frames are freed, the same
# CPU time). Read when polars first allocates, so it is set before polars is imported; a value the
# environment already gives wins.
_os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")


def _fixed_mmap_threshold() -> None:
    """glibc's malloc serves blocks of 128 KiB and more by mmap, each returned to the system when freed,
    but raises that threshold (up to 32 MiB) each time such a block is freed: after the first, the PNG
    canvases of the approval pictures, a stage's large lists and the database driver's results came from
    the heap, whose freed holes the process kept (20,000 sessions: heap 215 MB at the end, 122 MB with the
    threshold fixed; peak 685 -> 631 MiB). mallopt fixes it, as MALLOC_MMAP_THRESHOLD_ would; elsewhere than
    glibc, nothing to do."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: a fixed value stops the dynamic raising
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        pass


_fixed_mmap_threshold()

# Before anything logs: every log record of a process that imports this package has its credentials
# taken out (mass_ingest/redaction.py), Prefect's API log handler included, and so has every exception
# Prefect makes a state of.
from mass_ingest.redaction import install_log_redaction as _install_log_redaction  # noqa: E402
from mass_ingest.redaction import install_prefect_redaction as _install_prefect_redaction  # noqa: E402

_install_log_redaction()
_install_prefect_redaction()
