"""Between approval and insertion: is each approved session's folder still what the approver was shown?

When the approval summary is built, the folder of every candidate it offers (new, moved or with
late data) is fingerprinted: the name, size and modification time of each file below it, as
discovery listed it (symbolic links followed only while they stay inside the share; the sizes and
times read during discovery's walk, so the folders are not walked again). The fingerprint is
persisted with the ingest, so a run resumed after a crash compares against what was shown before
the crash, not against a new listing. After the decision, only the approved candidates' folders
are listed again (never from a cache; per share ``max_parallel`` at once; the cost is logged) and
compared. Any difference, a file added, removed, grown or touched, or a
folder gone, means the approver decided on something that is no longer there: nothing is
inserted, the ledger says ``share_changed``, and the error asks for a new run, which discovers
the share as it is now.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mass_ingest.approval_summary import offered
from mass_ingest.db.runs import record_share_changed
from mass_ingest.discovery import Pace, ordered_map
from mass_ingest.errors import ShareChangedError
from mass_ingest.expectations.reasons import byte_count
from mass_ingest.mounts import mount_kind
from mass_ingest.listing import LISTING_SCHEMA, listing_frame, saved_listing
from mass_ingest.profile import Profile, Share
from mass_ingest.stage_cache import StageFrame, run_dir
from tasks import STAGE_CACHE
from mass_ingest.walk import FOLDER, Walker

FINGERPRINT_SCHEMA = {"candidate_id": pl.String, "file": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64}
_SHOWN_CHANGES = 5  # changes named per session in the error, and sessions named
_RECHECK_SLICE = 5000  # approved folders listed and compared at a time
# What the re-check reads of the approved candidates (not their probes, findings ...: ~60 MB at 100,000).
RECHECKED = ["candidate_id", "session_id", "share", "rel_path"]


def folder_fingerprint(share: Share, rel_path: str) -> list[tuple[str, int, int]]:
    """(file, size, mtime_ns) of every file below one session folder, listed now (see :func:`walk.fingerprint`)."""
    return Walker(share=share.name, root=share.root).fingerprint(os.path.join(share.root, rel_path))


def _walks_of(folders: list[tuple[str, str]], listing: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(share, rel_path) -> the walk that listed it, for ``folders`` only: the re-check asks a slice of folders at a
    time, and a dict of the whole listing (100,000 folders, ~30 MB of tuples) was built for each slice."""
    asked = pl.DataFrame(folders, schema={"share": pl.String, "rel_path": pl.String}, orient="row").unique()
    known = (listing.select("share", "rel_path", "walk").unique(["share", "rel_path"], keep="last", maintain_order=True)
             .join(asked, on=["share", "rel_path"], how="semi"))
    return {(s, r): w for s, r, w in known.rows()}


def list_folders(folders: list[tuple[str, str]], shares: Iterable[Share],
                 listing: pl.DataFrame | None = None) -> pl.DataFrame:
    """:data:`LISTING_SCHEMA` of the (share, rel_path) folders, listed now: per share, up to its
    ``max_parallel`` folders at once.

    A link inside a session folder into another session folder is not followed (see
    :class:`Walker`): the session folders are those the discovery walk that matched the folder knew
    (from ``listing``), else the folders listed here.
    """
    by_name = {s.name: s for s in shares}
    walk_of = {} if listing is None else _walks_of(folders, listing)
    groups: dict[tuple[str, str | None], list[str]] = {}
    for share, rel in dict.fromkeys(folders):
        groups.setdefault((share, walk_of.get((share, rel))), []).append(rel)
    rows: dict[tuple[str, str], list] = {}
    for (name, walk), rels in groups.items():
        share = by_name[name]
        known = rels if walk is None else listing.filter(pl.col("walk") == walk)["rel_path"].to_list()
        # links_followed: resolve the session folders' real paths (lazily, at the first link met in one).
        walker = Walker(share=share.name, root=share.root, sessions=[os.path.join(share.root, r) for r in known],
                        links_followed=True)
        # The pool only where listings wait on the share (see discovery.Pace: on a local disk threads
        # only contend for the GIL).
        with ThreadPoolExecutor(share.max_parallel) as pool:
            listed = ordered_map(Pace(pool, mount_kind(share.root)), lambda rel: walker.fingerprint(os.path.join(share.root, rel)), rels,
                                 4 * share.max_parallel)
            rows.update(((name, rel), r) for rel, r in zip(rels, listed))
    return listing_frame([s for s, _ in folders], [r for _, r in folders], [rows[f] for f in folders],
                         [walk_of.get(f) for f in folders])


def fingerprint(candidates: pl.DataFrame, shares: Iterable[Share], listing: pl.DataFrame | None = None,
                *, as_listed: bool = False) -> pl.DataFrame:
    """:data:`FINGERPRINT_SCHEMA` rows of every candidate's folder (``candidate_id``, ``share``, ``rel_path``).

    Args:
        listing: discovery's listing (:data:`LISTING_SCHEMA`), the session folders each walk knew.
        as_listed: take each folder's files from ``listing`` (the fingerprint shown at the pause);
            folders it does not describe are listed now. Else every folder is listed now (the re-check).
            Each folder is listed once, however many candidates (recording groups) it holds.
    """
    folders = candidates.select("share", "rel_path").unique(maintain_order=True)
    if as_listed and listing is not None:
        known = (listing.filter(pl.col("files").is_not_null()).join(folders, on=["share", "rel_path"], how="semi")
                 .unique(["share", "rel_path"]))
        missing = folders.join(known, on=["share", "rel_path"], how="anti")
    else:
        known, missing = pl.DataFrame(schema=LISTING_SCHEMA), folders
    per_folder = pl.concat([known, list_folders(missing.rows(), shares, listing)]).drop("walk")
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
    """The folders of the candidates the approval summary offers, as discovery listed them.

    Made from discovery's listing (sizes and times read as it walked, nothing walked again); a
    folder discovery did not list (an imported file's sessions) is listed now. Cached and
    persisted, so a resumed run compares against the pause's listing.
    """
    candidates = offered(checked.load(columns=["status", "candidate_id", "share", "rel_path"]))
    return StageFrame.save(fingerprint(candidates, profile.shares, saved_listing(run_dir(ingest_id)), as_listed=True),
                           stage="fingerprint", ingest_id=ingest_id)


def changes_now(shares: Iterable[Share], shown: pl.DataFrame, approved: pl.DataFrame,
                listing: pl.DataFrame | None) -> tuple[pl.DataFrame, dict]:
    """:func:`share_changes` of the ``approved`` folders listed now, and the ``folders`` and ``files`` listed.

    Listed and compared a slice of folders at a time: memory bounded by a slice's files, not the share's.
    """
    folders = approved.select("share", "rel_path").unique(maintain_order=True)
    files, found = 0, []
    for offset in range(0, folders.height, _RECHECK_SLICE):
        part = approved.join(folders.slice(offset, _RECHECK_SLICE), on=["share", "rel_path"], how="semi")
        now = fingerprint(part, shares, listing)
        files += int((now["file"] != FOLDER).sum())
        found.append(share_changes(shown, part, now))
    changes = pl.concat(found).sort("share", "rel_path", "candidate_id", maintain_order=True)
    return changes, {"folders": folders.height, "files": files}


def recheck_share(profile: Profile, shown: pl.DataFrame, approved: pl.DataFrame, ingest_id: str) -> dict:
    """Refuse (ledger ``share_changed``, :class:`ShareChangedError`) when an approved folder changed.

    Only the approved session folders are listed (per share, ``max_parallel`` at once). Returns what
    that cost: ``folders`` and ``files`` listed, ``seconds``.
    """
    if approved.is_empty():
        return {"folders": 0, "files": 0, "seconds": 0.0}
    started = time.perf_counter()
    # Which walk knew each session folder, not its files (the folders are listed anew): ~40 MB less at 100,000.
    listing = saved_listing(run_dir(ingest_id), columns=["share", "rel_path", "walk"])
    changes, cost = changes_now(profile.shares, shown, approved, listing)
    cost["seconds"] = round(time.perf_counter() - started, 3)
    if changes.is_empty():
        return cost
    inserted = record_share_changed(ingest_id, approved=approved.height,
                                    sessions=changes["candidate_id"].n_unique(), changes=changes.height)
    raise ShareChangedError(share_changed_message(changes, approved.height, profile, ingest_id, inserted))


@task(name="recheck-share", cache_policy=NO_CACHE)
def recheck_share_task(profile: Profile, shown: StageFrame, approved: StageFrame, ingest_id: str) -> None:
    """Re-list the approved folders (never cached) and refuse the insertion if any changed since the pause."""
    frame = approved.load(columns=RECHECKED)
    cost = recheck_share(profile, shown.load(), frame, ingest_id)
    get_run_logger().info(f"the {frame.height} approved session folders are as they were shown at the pause "
                          f"(re-listed {cost['folders']} folders, {cost['files']} files, in {cost['seconds']:.2f} s)")
