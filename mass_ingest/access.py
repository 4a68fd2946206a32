"""Access check: can this worker list each share's root? (the stage's core, without Prefect)

A share that is missing, refuses the worker or does not answer in time is reported and
left out of this run; the other shares go on. Listing runs in a thread with a deadline,
because a dead network mount blocks a plain ``os.scandir`` for minutes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from mass_ingest.findings import Finding, Stage, finding
from mass_ingest.profile import Profile, Share

T = TypeVar("T")


class ShareAccess(BaseModel):
    """Whether one share can be walked, how long its root took to list, and why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    share: str
    root: str
    readable: bool
    seconds: float
    finding: Finding | None = None


def _list_root(root: str) -> int:
    with os.scandir(root) as it:
        return sum(1 for _ in it)


def check_share_access(share: Share, profile_name: str, pool: ThreadPoolExecutor) -> ShareAccess:
    """Probe one share root within its ``access_timeout_s``."""
    started = time.perf_counter()

    def result(code: str | None, why: str = "") -> ShareAccess:
        f = None
        if code:
            f = finding(code, stage=Stage.ACCESS, share=share.name,
                        message=f"profile {profile_name}: share {share.name} root '{share.root}' {why}")
        return ShareAccess(share=share.name, root=share.root, readable=code in (None, "ACCESS.SLOW"),
                           seconds=round(time.perf_counter() - started, 3), finding=f)

    if not os.path.exists(share.root):
        return result("ACCESS.MISSING", "does not exist on this worker; mount the share or fix shares[].root")
    if not os.path.isdir(share.root):
        return result("ACCESS.NOT_A_DIRECTORY", "is not a directory; point shares[].root at the share's folder")
    future = pool.submit(_list_root, share.root)
    try:
        future.result(timeout=share.access_timeout_s)
    except FutureTimeout:
        return result("ACCESS.MISSING", f"did not answer within {share.access_timeout_s:g} s; the mount may be "
                      "down; the share is skipped this run (raise access_timeout_s if it is only slow)")
    except PermissionError as exc:
        return result("ACCESS.DENIED", f"is not readable by this worker ({exc.strerror}); grant the worker's "
                      "user read access")
    except OSError as exc:
        return result("ACCESS.DENIED", f"cannot be listed ({exc.strerror}); check the mount on this worker "
                      "(remount the share) and run again")
    elapsed = time.perf_counter() - started
    if elapsed > share.access_timeout_s / 2:
        return result("ACCESS.SLOW", f"took {elapsed:.1f} s to list, more than half its access_timeout_s of "
                      f"{share.access_timeout_s:g} s; discovery of it will be slow: check the network to the share, "
                      "or raise shares[].access_timeout_s if it is always this slow")
    return result(None)


def check_access(profile: Profile) -> list[ShareAccess]:
    """Probe every share of the profile at once; one slow share does not delay the others' verdicts."""
    # Two threads a share: the check itself, and the listing it waits on with a deadline.
    pool = ThreadPoolExecutor(max_workers=2 * len(profile.shares), thread_name_prefix="access")
    try:
        futures = [pool.submit(check_share_access, s, profile.name, pool) for s in profile.shares]
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # never wait on a hung mount


def scan_readable_shares(profile: Profile, discover: Callable[[str], T], *, access: list[ShareAccess] | None = None
                         ) -> tuple[list[ShareAccess], dict[str, T]]:
    """Check every share's access (unless ``access`` is given), then ``discover`` each readable one.

    Returns each share's access and, per readable share name, what ``discover(share_name)``
    returned, in the profile's order of shares (:meth:`Profile.selected` limits a run to some).
    The one place that decides which shares are walked: the flow (a Prefect task per part of a
    share), `validate` and `discover` (in this process) all go through it.
    """
    access = check_access(profile) if access is None else access
    return access, {a.share: discover(a.share) for a in access if a.readable}
