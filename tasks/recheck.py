"""Between approval and insertion: is each approved session's folder still what the approver was shown?

When the approval summary is built, the folder of every candidate it offers (new, moved or with
late data) is fingerprinted: the name, size and modification time of each file below it, listed
as discovery lists it (symbolic links followed only while they stay inside the share). The fingerprint is persisted with the ingest,
so a run resumed after a crash compares against what was shown before the crash, not against
a new listing. After the decision, the approved candidates' folders are listed again (never
from a cache) and compared. Any difference, a file added, removed, grown or touched, or a
folder gone, means the approver decided on something that is no longer there: nothing is
inserted, the ledger says ``share_changed``, and the error asks for a new run, which discovers
the share as it is now.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mass_ingest.approval_summary import offered
from mass_ingest.db.runs import record_share_changed
from mass_ingest.errors import ShareChangedError
from mass_ingest.expectations.reasons import byte_count
from mass_ingest.profile import Profile, Share
from mass_ingest.stage_cache import STAGE_CACHE, StageFrame
from mass_ingest.walk import Walker

FINGERPRINT_SCHEMA = {"candidate_id": pl.String, "file": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64}
# The row standing for the folder itself: its size is the number of files below it, -1 when the
# folder cannot be listed (gone, or not a folder any more). Every fingerprinted candidate has one.
FOLDER = "."
_THREADS = 8  # listing a network share waits on round trips, not on the CPU
_SHOWN_CHANGES = 5  # changes named per session in the error, and sessions named


def _inside(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def folder_fingerprint(share: Share, rel_path: str) -> list[tuple[str, int, int]]:
    """(file, size, mtime_ns) of every file below one session folder, sorted; the folder's own row first.

    Files are those discovery would see (:meth:`Walker.files_below`). A file that is a link is
    described by its target only when the target is inside the share; a link leading outside
    is described by the link itself, never followed. What the listing reports (a folder that
    cannot be listed, a link not followed) is a row ``"<path> [<finding code>]"``, so a permission
    change shows too.
    """
    folder = os.path.join(share.root, rel_path)
    if not os.path.isdir(folder):
        return [(FOLDER, -1, -1)]
    walker = Walker(share=share.name, root=share.root)
    root_real = os.path.realpath(share.root)
    rows = []
    for entry in walker.files_below(folder):
        try:
            # One lstat per plain file; a link is stat'ed again through it only when it stays inside.
            st = os.lstat(entry.path)
            if stat.S_ISLNK(st.st_mode) and _inside(os.path.realpath(entry.path), root_real):
                st = os.stat(entry.path)
            rows.append((entry.rel, st.st_size, st.st_mtime_ns))
        except OSError:  # gone between the listing and the stat
            rows.append((entry.rel, -1, -1))
    rows.extend((f"{f.path} [{f.code}]", -1, -1) for f in walker.findings)
    return [(FOLDER, len(rows), -1), *sorted(rows)]


def fingerprint(candidates: pl.DataFrame, shares: Iterable[Share]) -> pl.DataFrame:
    """:data:`FINGERPRINT_SCHEMA` rows of every candidate's folder (``candidate_id``, ``share``, ``rel_path``).

    Each folder is listed once, however many candidates (recording groups) it holds.
    """
    by_name = {s.name: s for s in shares}
    folders = candidates.select("share", "rel_path").unique(maintain_order=True).rows()
    with ThreadPoolExecutor(_THREADS) as pool:
        listings = list(pool.map(lambda f: folder_fingerprint(by_name[f[0]], f[1]), folders))
    per_folder = pl.DataFrame(
        {"share": [f[0] for f in folders], "rel_path": [f[1] for f in folders],
         "files": [[{"file": n, "size": s, "mtime_ns": m} for n, s, m in rows] for rows in listings]},
        schema={"share": pl.String, "rel_path": pl.String,
                "files": pl.List(pl.Struct({k: v for k, v in FINGERPRINT_SCHEMA.items() if k != "candidate_id"}))})
    return (candidates.select("candidate_id", "share", "rel_path")
            .join(per_folder, on=["share", "rel_path"], how="left", maintain_order="left")
            .explode("files").unnest("files").select(list(FINGERPRINT_SCHEMA)))


def share_changes(shown: pl.DataFrame, approved: pl.DataFrame, now: pl.DataFrame) -> pl.DataFrame:
    """What differs between the fingerprints ``shown`` at the pause and ``now``, for the ``approved`` candidates.

    Returns:
        One row per difference: ``candidate_id``, ``session_id``, ``share``, ``rel_path`` and
        ``change``, a phrase such as "added probe_0/notes.txt" or "modified probe_0/x.ap.bin
        (4,096 -> 5,000 bytes)"; empty when every approved folder is as it was shown.
    """
    ids = approved.select("candidate_id", "session_id", "share", "rel_path")
    before = shown.join(ids.select("candidate_id"), on="candidate_id", how="semi")
    never_shown = ids.join(before.select("candidate_id").unique(), on="candidate_id", how="anti").select(
        *ids.columns, pl.lit(None, dtype=pl.String).alias("file"),
        pl.lit("was not among the sessions shown at the pause").alias("change"))
    after = now.join(before.select("candidate_id").unique(), on="candidate_id", how="semi")
    both = before.join(after, on=["candidate_id", "file"], how="full", coalesce=True, suffix="_now")
    was, now_size = pl.col("size"), pl.col("size_now")
    folder = pl.col("file") == FOLDER
    change = (
        pl.when(folder & (now_size == -1)).then(pl.lit("the folder is gone or is no longer a folder"))
        .when(folder).then(None)  # its file count changes with the files, which are named below
        .when(was.is_null()).then(pl.format("added {}", "file"))
        .when(now_size.is_null()).then(pl.format("removed {}", "file"))
        .when(was != now_size).then(pl.format("modified {} ({} -> {} bytes)", "file", byte_count(was),
                                              byte_count(now_size)))
        .when(pl.col("mtime_ns") != pl.col("mtime_ns_now")).then(pl.format("modified {} (same size, newer time)",
                                                                           "file")))
    changed = (both.with_columns(change.alias("change")).drop_nulls("change")
               .join(ids, on="candidate_id", maintain_order="left").select(*ids.columns, "file", "change"))
    # Per folder: the folder itself first, then its files by name.
    return (pl.concat([never_shown, changed])
            .sort("share", "rel_path", "candidate_id", pl.col("file") != FOLDER, "file", nulls_last=False)
            .drop("file"))


def share_changed_message(changes: pl.DataFrame, approved: int, profile: Profile, ingest_id: str,
                          inserted_before: int = 0) -> str:
    """The error's text: which shares, which sessions, what changed, and what to do."""
    shares = ", ".join(changes["share"].unique(maintain_order=True).to_list())
    sessions = changes.group_by("share", "session_id", maintain_order=True).agg("change")
    listed = []
    for share, session, what in sessions.head(_SHOWN_CHANGES).iter_rows():
        more = f"; and {len(what) - _SHOWN_CHANGES} more" if len(what) > _SHOWN_CHANGES else ""
        listed.append(f"{share}:{session}: " + "; ".join(what[:_SHOWN_CHANGES]) + more)
    if sessions.height > _SHOWN_CHANGES:
        listed.append(f"and {sessions.height - _SHOWN_CHANGES} more sessions")
    word = "share" if "," not in shares else "shares"
    return (f"ingest {ingest_id} of profile {profile.name}: {word} {shares} changed after the approval pause; "
            f"{sessions.height} of the {approved} approved sessions are no longer what was shown:\n  "
            + "\n  ".join(listed)
            + ("\nNothing was inserted." if not inserted_before else
               f"\nNothing more was inserted ({inserted_before} sessions committed before an interruption stay).")
            + " Start a new run (`mass-ingest run PROFILE`): it discovers the share as it "
            "is now and asks for approval again.")


@task(name="fingerprint-shown", cache_policy=STAGE_CACHE, persist_result=True, result_serializer="json")
def fingerprint_shown_task(profile: Profile, checked: StageFrame, ingest_id: str) -> StageFrame:
    """The folders of the candidates the approval summary offers, as they are when it is shown.

    Cached and persisted, so a resumed run compares against the pause's listing.
    """
    return StageFrame.save(fingerprint(offered(checked.load()), profile.shares), stage="fingerprint", ingest_id=ingest_id)


def recheck_share(profile: Profile, shown: pl.DataFrame, approved: pl.DataFrame, ingest_id: str) -> None:
    """Refuse (ledger ``share_changed``, :class:`ShareChangedError`) when an approved folder changed."""
    if approved.is_empty():
        return
    changes = share_changes(shown, approved, fingerprint(approved, profile.shares))
    if changes.is_empty():
        return
    inserted = record_share_changed(ingest_id, approved=approved.height,
                                    sessions=changes["candidate_id"].n_unique(), changes=changes.height)
    raise ShareChangedError(share_changed_message(changes, approved.height, profile, ingest_id, inserted))


@task(name="recheck-share", cache_policy=NO_CACHE)
def recheck_share_task(profile: Profile, shown: StageFrame, approved: StageFrame, ingest_id: str) -> None:
    """Re-list the approved folders (never cached) and refuse the insertion if any changed since the pause."""
    frame = approved.load()
    recheck_share(profile, shown.load(), frame, ingest_id)
    get_run_logger().info(f"the {frame.height} approved session folders are as they were shown at the pause")
