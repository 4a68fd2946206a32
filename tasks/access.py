"""Stage 1, access check, as a Prefect task (the check itself is :mod:`mass_ingest.access`).

A share that is missing, refuses the worker or does not answer in time is reported and
left out of this run; the other shares go on.
"""

from __future__ import annotations

from prefect import task

from mass_ingest.access import ShareAccess, check_access, check_share_access, scan_readable_shares
from mass_ingest.profile import Profile

__all__ = ["ShareAccess", "check_access", "check_access_task", "check_share_access", "scan_readable_shares"]


# Not cached on purpose: access is a probe of the present, and a share that was down when an
# interrupted run started may be back when it resumes.
@task(name="access-check")
def check_access_task(profile: Profile) -> list[ShareAccess]:
    return check_access(profile)
