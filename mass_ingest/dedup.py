"""Stage 3, deduplication: what is already in the pipeline, the same session found twice, moved folders
and late data.

All joins in polars against a snapshot of the pipeline's sessions (fetched once with
``to_polars()``); insertion re-checks the keys inside its transaction, so a session
inserted between this snapshot and the insert is still not inserted twice.

Statuses, the first that applies:

- ``excluded``: a profile rule left the folder out (``dedup_reason`` names the rule).
- ``update``: the session is stored at this very place (subject, start, location and group) and
  the folder now holds parts the pipeline lacks; ``new_parts`` lists them (complete outputs
  whose folder is not stored, probe folders without a stored recording).
- ``duplicate``: stored at this very place, nothing new.
- ``moved``: the (subject, start) is stored at another location, with the same probes (serials
  when both sides know some, else the recording names), the old place is not in this batch and
  no other stored session holds the new one: the folder was moved; ``duplicate_of`` is the old
  place. A second folder of a moved session in this batch is a ``copy`` of the first.
- ``duplicate``: otherwise in the pipeline, by key (a copy of a stored session; or, probes
  differing, a conflict for a person, said in the reason) or by place.
- ``copy``: a second folder of a session in this batch; the first by share order, then path, is kept.
- ``new``: none of the above.

A reason about a stored session names that session as the pipeline holds it: its id (subject and
start as stored, which may differ from the folder's when a person fixed them), its location as
stored, and the ingest that inserted it, with that ingest's date.

Only the rows that can be anything but new (in the pipeline by key or place, repeated in the
batch, excluded) go through the costly steps; matching is done on 64-bit hashes and checked on
the real keys (see :func:`_pairs`). A million candidates against a million stored sessions take
about 0.9 s (1 CPU-second) in discovery order, 1.4 s (2 CPU-seconds) shuffled, on two cores; see
benchmarks/dedup.py.
"""

from __future__ import annotations

import polars as pl

from mass_ingest.candidates import CANDIDATE_SCHEMA, Status, change_status
from mass_ingest.collisions import mark_location_collisions
from mass_ingest.db.sessions import EXISTING_SCHEMA, KEY, fetch_existing_sessions
from mass_ingest.locations import normalise_locations
from mass_ingest.profile import Share

DEDUP_SCHEMA = {"status": pl.String, "duplicate_of": pl.String, "dedup_reason": pl.String,
                "new_parts": pl.List(pl.String)}


def _key_hash(columns: list[str]) -> pl.Expr:
    """64-bit hash of ``columns``; null where one of them is null (a null never matches)."""
    return (pl.when(pl.all_horizontal([pl.col(c).is_not_null() for c in columns]))
            .then(pl.struct(columns).hash()).alias("_hash"))


def _pairs(left: pl.DataFrame, right: pl.DataFrame, on: list[str], left_hash: pl.Series | None = None
           ) -> pl.DataFrame:
    """``_left`` and ``_right`` row numbers of every pair whose ``on`` columns are equal (and not null).

    Joined on a 64-bit hash of the columns, an integer join several times faster than a string join,
    then the columns themselves are compared: equal keys always hash alike, so no pair is lost, and a
    pair that only shares a hash is dropped. ``left_hash``: the left hashes, when already computed.
    """
    def hashed(frame: pl.DataFrame, index: str, hashes: pl.Series | None) -> pl.DataFrame:
        numbers = pl.int_range(pl.len(), dtype=pl.UInt32).alias(index)
        if hashes is not None:
            return hashes.to_frame("_hash").select(numbers, "_hash")
        return frame.select(numbers, _key_hash(on))

    pairs = hashed(left, "_left", left_hash).join(hashed(right, "_right", None), on="_hash").drop("_hash")
    same = pl.repeat(True, pairs.height, eager=True)
    for c in on:
        same = same & (left[c].gather(pairs["_left"]) == right[c].gather(pairs["_right"]))
    return pairs.filter(same)


def _stored_sessions(existing: pl.DataFrame, shares: list[Share], key_types: dict) -> pl.DataFrame:
    """Key and place of each stored session, the location in its canonical spelling (row i = existing row i)."""
    return pl.DataFrame([
        existing["subject"].cast(key_types["subject"]),
        existing["session_start"].cast(key_types["session_start"]),
        normalise_locations(existing["location"].cast(pl.String), shares),
        existing["group"].cast(pl.String).fill_null(""),
    ]).rechunk()


def _stored_lists(existing: pl.DataFrame, index: pl.Series) -> list[pl.Series]:
    """The stored sessions' serials, recordings and outputs at ``index``; missing columns filled in."""
    out = []
    for name, short in (("existing_serials", "_db_serials"), ("existing_recordings", "_db_recordings"),
                        ("existing_outputs", "_db_outputs")):
        if name in existing.columns:
            out.append(existing[name].cast(pl.List(pl.String)).rechunk().gather(index).alias(short))
        else:  # no serials or recordings known; outputs not recorded
            value = None if name == "existing_outputs" else []
            out.append(pl.repeat(value, len(index), dtype=pl.List(pl.String), eager=True).alias(short))
    return out


def _stored_as(existing: pl.DataFrame, index: pl.Series) -> pl.Series:
    """How a reason names the stored session at ``index`` (null where null): its id (subject and start as
    stored), its location as stored, and the ingest that inserted it when the snapshot has it, e.g.
    "25843/2024-03-05_10-30-58 (at N:\\recordings\\...; inserted by ingest 8f24... on 2024-06-01)".
    Only the rows named are formatted."""
    def column(name: str, dtype: pl.DataType) -> pl.Series:
        if name not in existing.columns:
            return pl.repeat(None, len(index), dtype=dtype, eager=True).alias(name)
        return existing[name].cast(dtype).rechunk().gather(index).alias(name)

    rows = pl.DataFrame([column("subject", pl.String), column("session_start", pl.Datetime("us")),
                         column("group", pl.String), column("location", pl.String),
                         column("ingest_id", pl.String), column("ingested_at", pl.Datetime("us"))])
    group = pl.col("group").fill_null("")
    stored_id = pl.concat_str(
        pl.col("subject"), pl.lit("/"),
        pl.col("session_start").dt.strftime("%Y-%m-%d_%H-%M-%S").fill_null("unknown-time"),
        pl.when(group != "").then(pl.lit("/") + group).otherwise(pl.lit("")))
    by = (pl.when(pl.col("ingest_id").is_null()).then(pl.lit(""))
          .otherwise(pl.concat_str(pl.lit("; inserted by ingest "), pl.col("ingest_id"),
                                   pl.when(pl.col("ingested_at").is_null()).then(pl.lit(""))
                                   .otherwise(pl.lit(" on ") + pl.col("ingested_at").dt.strftime("%Y-%m-%d")))))
    named = pl.when(pl.col("subject").is_not_null()).then(pl.format("{} (at {}{})", stored_id, "location", by))
    return rows.select(named.alias("_stored_as")).to_series()


def _with_new_outputs(frame: pl.DataFrame) -> pl.DataFrame:
    """``_row`` and ``_new_parts`` of the rows with new outputs: "output <kind> <path>" of each complete output
    whose folder the pipeline does not list, then the row's new probes.

    One explode and an anti-join (list expressions cannot look at another column), only on the rows
    that have some (``_has_new_outputs``).
    """
    rows = frame.filter("_has_new_outputs")
    found = (rows.select("_row", pl.col("outputs").list.filter(pl.element().struct.field("complete")))
             .explode("outputs").drop_nulls("outputs")
             .select("_row", pl.col("outputs").struct.field("path"),
                     pl.format("output {} {}", pl.col("outputs").struct.field("kind"),
                               pl.col("outputs").struct.field("path")).alias("_new_outputs")))
    stored = rows.select("_row", pl.col("_db_outputs").alias("path")).explode("path").drop_nulls("path")
    return (found.join(stored, on=["_row", "path"], how="anti", maintain_order="left")
            .group_by("_row", maintain_order=True).agg("_new_outputs")
            .join(rows.select("_row", "_new_probes"), on="_row", maintain_order="left")
            .select("_row", pl.col("_new_outputs").list.concat("_new_probes").alias("_new_parts")))


def _same_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """``_row``, ``_by_serials`` and ``_same_parts`` of rows whose key is stored at another place.

    The same session? Probe serials when both sides know some; else the recording names (sessions
    without probes have none on either side, and nothing contradicts).
    """
    by_serials = (pl.col("_serials").list.len() > 0) & (pl.col("_db_serials").list.len() > 0)
    return frame.select(
        "_row", by_serials.alias("_by_serials"),
        pl.when(by_serials).then(pl.col("_serials").list.set_symmetric_difference("_db_serials").list.len() == 0)
        .otherwise(pl.col("_names").list.set_symmetric_difference("_db_recordings").list.len() == 0)
        .alias("_same_parts"))


def _moved_ok() -> pl.Expr:
    """The folder may be where a stored session moved: same key, same probes, elsewhere, place free."""
    return (pl.col("_eligible") & pl.col("_db").is_not_null() & (pl.col("_db_location") != pl.col("location"))
            & ~pl.col("_taken") & ~pl.col("_known_in_batch") & pl.col("_same_parts").fill_null(False))


def _within_batch(frame: pl.DataFrame, shares: int, rows: int) -> pl.DataFrame:
    """``_row``, ``_known_in_batch`` and ``_kept_row`` of the rows whose (subject, start) is found more than once.

    Known in the batch: the stored place of the session is among its folders, so the others are
    copies, not a move. Kept: the first folder of the session, a folder that can be the moved one
    first, then by share order, then path (the row order); only folders that can be kept at all
    count. The priority ends in the row number, so the smallest one names the kept row.
    """
    frame = frame.with_columns(
        (pl.col("_eligible") & pl.col("_same_place")).cast(pl.Int32).sum().over(KEY).gt(0).alias("_known_in_batch"))
    priority = (_moved_ok().not_().cast(pl.Int64) * (shares + 1) * rows + pl.col("_share_rank") * rows
                + pl.col("_row").cast(pl.Int64))
    return frame.select(
        "_row", "_known_in_batch",
        (pl.when(pl.col("_eligible")).then(priority).min().over(KEY) % rows).cast(pl.UInt32).alias("_kept_row"))


def _listed(names: pl.Expr) -> pl.Expr:
    return pl.when(names.list.len() == 0).then(pl.lit("none")).otherwise(names.list.sort().list.join(", "))


def _conflict_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    """``_row`` and reason of each stored key found elsewhere with other probes: a person decides."""
    what = pl.when(pl.col("_by_serials")).then(pl.lit("probe serials")).otherwise(pl.lit("recording names"))
    here = pl.when(pl.col("_by_serials")).then(_listed(pl.col("_serials"))).otherwise(_listed(pl.col("_names")))
    there = (pl.when(pl.col("_by_serials")).then(_listed(pl.col("_db_serials")))
             .otherwise(_listed(pl.col("_db_recordings"))))
    return frame.filter("_conflict").select(
        "_row", pl.format("already in the pipeline as {} but with other {} (here: {}; stored: {}): a "
                          "conflict for a person to resolve", "_stored_as", what, here, there)
        .alias("_conflict_reason"))


def _output_order(light: pl.DataFrame) -> pl.Series | None:
    """Row order that sorts by (share, rel_path, group); None when the rows are in that order already.

    Discovery emits each share sorted, so a whole-frame string sort is mostly avoided. When one is
    needed, it sorts one binary key, the three columns joined by a NUL byte: the same order as the
    three columns (NUL sorts below every other byte, and no path holds one), at half the cost of a
    sort on three columns. A stable sort makes the rest cheaper, as it merges runs already in order.
    """
    cols = ["share", "rel_path", "group"]
    if light.select(pl.any_horizontal(pl.col(cols).is_null().any())).item():
        return light.select(pl.arg_sort_by(cols, maintain_order=True)).to_series()
    later = [pl.col(c).shift(-1) for c in cols]
    ahead = (pl.col("share") > later[0]) | ((pl.col("share") == later[0]) & (
        (pl.col("rel_path") > later[1]) | ((pl.col("rel_path") == later[1]) & (pl.col("group") > later[2]))))
    if not light.select(ahead.any()).item():
        return None
    if light.select(pl.any_horizontal(pl.col(cols).str.contains("\x00", literal=True).any())).item():
        return light.select(pl.arg_sort_by(cols, maintain_order=True)).to_series()
    key = pl.concat_str(cols, separator="\x00").cast(pl.Binary)
    return light.select(pl.arg_sort_by(key, maintain_order=True)).to_series()


def deduplicate(candidates: pl.DataFrame, existing: pl.DataFrame, shares: list[Share]) -> pl.DataFrame:
    """Add ``status`` (see the module docstring), ``duplicate_of``, ``dedup_reason`` and ``new_parts``.

    Args:
        candidates: discovery frames of all shares, concatenated (canonical locations).
        existing: sessions already in the pipeline (:data:`EXISTING_SCHEMA`; the list and ingest columns may
            be missing), one row per (subject, session_start) as the database's key guarantees. Their
            locations may be written with any alias of a share, in any case.
        shares: the profile's shares: their roots and aliases map stored locations to canonical ones,
            and their order decides which copy within the batch is kept.

    Returns:
        The candidates sorted by (share, rel_path, group), with :data:`DEDUP_SCHEMA` added.
        ``new_parts`` lists what an ``update`` brings ("output kilosort probe_1/ks25", "probe probe_2");
        it is empty on every other row.
    """
    # 1. Light columns in output order; the heavy ones (probes, findings, ...) move once, at the end.
    # One chunk: gathers from a frame spread over several chunks are much slower.
    light = candidates.select("share", "rel_path", "group", "subject", "session_start", "location", "excluded_by",
                              "session_id").rechunk()
    order = _output_order(light)
    if order is not None:
        light = light[order]
    light = light.with_row_index("_row")
    source = order if order is not None else light["_row"]  # candidates row of each output row
    # 2. Match every candidate with the pipeline by key and by place, and with the batch by key.
    stored = _stored_sessions(existing, shares, candidates.schema)
    key_hash = light.select(_key_hash(KEY)).to_series()
    by_key = _pairs(light, stored, KEY, key_hash).group_by("_left").agg(pl.col("_right").min())
    by_place = _pairs(light, stored, ["location", "group"]).group_by("_left").agg(pl.col("_right").min())
    at_place = by_place["_left"]
    twice = key_hash.is_duplicated()  # all rows of a key, and maybe a few more (shared hashes)
    has_key = light["_row"].is_in(by_key["_left"].implode())
    # Only rows that can be anything but new go on: in the pipeline somehow, repeated, or excluded.
    # A (subject, start) is in the pipeline or repeated for all its rows, so key groups stay whole.
    mask = has_key | light["_row"].is_in(at_place.implode()) | twice | light["excluded_by"].is_not_null()
    some = (light.filter(mask)
            .join(by_key.rename({"_left": "_row", "_right": "_db"}), on="_row", how="left", maintain_order="left")
            .join(by_place.rename({"_left": "_row", "_right": "_at"}), on="_row", how="left", maintain_order="left"))
    # Only the fields used below are gathered: gathering nested columns read from parquet (several
    # chunks) is slow, projecting one field of them is not.
    field = pl.element().struct.field
    parts = candidates.select(
        pl.col("probes").list.eval(field("serial")).alias("_probe_serials"),
        pl.col("probes").list.eval(field("folder")).alias("_probe_folders"),
        pl.col("outputs").list.eval(pl.struct(field("kind"), field("path"), field("complete"))).alias("outputs"),
    ).rechunk()[source.gather(some["_row"])]
    some = some.with_columns(
        pl.col("_at").is_not_null().alias("_taken"),
        twice.filter(mask).alias("_twice"),
        stored["location"].gather(some["_db"]).alias("_db_location"),
        stored["group"].gather(some["_db"]).alias("_db_group"),
        # The stored session a reason names: the one with this key, else the one at this place.
        _stored_as(existing, some.select(pl.coalesce("_db", "_at")).to_series()),
        *_stored_lists(existing, some["_db"])).hstack(parts).drop("_at")
    some = _classify(some, [s.name for s in shares], light["location"])
    # 3. Back to every row: rows left out above are new.
    position = pl.repeat(None, light.height, dtype=pl.UInt32, eager=True).scatter(
        some["_row"], pl.int_range(some.height, dtype=pl.UInt32, eager=True))
    added = some.select(*DEDUP_SCHEMA)[position].with_columns(
        pl.col("status").fill_null("new"), pl.col("new_parts").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    # Gathering nested columns spread over several chunks (a concat of parquet files) is very slow.
    out = candidates.rechunk()[order] if order is not None else candidates
    return out.hstack(added.select([pl.col(c).cast(t) for c, t in DEDUP_SCHEMA.items()]))


def _classify(frame: pl.DataFrame, order: list[str], locations: pl.Series) -> pl.DataFrame:
    """Status, duplicate_of, reason and new parts of the rows that may be something else than new.

    ``frame`` holds whole (subject, start) groups; ``locations`` is the location of every row by
    ``_row``. Costly list work is done only on the few rows that need it (filtered, then joined back).
    """
    empty = pl.lit([], dtype=pl.List(pl.String))
    frame = frame.with_columns(
        pl.col("share").replace_strict(order, list(range(len(order))), default=len(order),
                                       return_dtype=pl.Int64).alias("_share_rank"),
        pl.col("_probe_serials").list.eval(pl.element().drop_nulls()).alias("_serials"),
        # Recording names as insertion stores them: the probe folder, '.' for the session folder.
        pl.col("_probe_folders").list.eval(pl.when(pl.element().fill_null("") == "").then(pl.lit("."))
                                           .otherwise(pl.element())).alias("_names"))
    excluded = pl.col("excluded_by").is_not_null()
    eligible = pl.col("session_start").is_not_null() & ~excluded
    has_key = pl.col("_db").is_not_null()
    same_place = has_key & (pl.col("_db_location") == pl.col("location")) & (pl.col("_db_group") == pl.col("group"))
    # 1. What a folder at its stored place holds beyond the stored session.
    new_probes = pl.col("_names").list.set_difference("_db_recordings")
    complete_paths = (pl.col("outputs").list.filter(pl.element().struct.field("complete"))
                      .list.eval(pl.element().struct.field("path")))
    frame = frame.with_columns(
        eligible.alias("_eligible"), same_place.alias("_same_place"),
        pl.when(same_place).then(new_probes.list.eval(pl.format("probe {}", pl.element())))
        .otherwise(empty).alias("_new_probes"),
        (same_place & pl.col("_db_outputs").is_not_null()
         & (complete_paths.list.set_difference(pl.col("_db_outputs")).list.len() > 0)).alias("_has_new_outputs"))
    frame = frame.join(_same_parts(frame.filter(has_key & ~pl.col("_same_place"))), on="_row", how="left",
                       maintain_order="left")
    frame = (frame.join(_with_new_outputs(frame), on="_row", how="left", maintain_order="left")
             .with_columns(pl.col("_new_parts").fill_null(pl.col("_new_probes"))))
    # 2. Within the batch: whether the stored place is found too, and which folder of a session is kept.
    frame = frame.join(_within_batch(frame.filter("_twice"), len(order), len(locations)), on="_row", how="left",
                       maintain_order="left")
    frame = frame.with_columns(
        pl.col("_known_in_batch").fill_null(pl.col("_eligible") & pl.col("_same_place")),
        pl.col("_kept_row").fill_null(pl.when(pl.col("_eligible")).then(pl.col("_row"))))
    frame = frame.with_columns(_moved_ok().alias("_moved_ok"), locations.gather(frame["_kept_row"]).alias("_kept"))
    kept_elsewhere = pl.col("_eligible") & (pl.col("_kept") != pl.col("location"))
    moved = pl.col("_moved_ok") & ~kept_elsewhere
    update = pl.col("_same_place") & (pl.col("_new_parts").list.len() > 0)
    in_db = has_key | pl.col("_taken")
    frame = change_status(
        frame,
        pl.when(excluded).then(pl.lit(Status.EXCLUDED))
        .when(update).then(pl.lit(Status.UPDATE))
        .when(pl.col("_same_place")).then(pl.lit(Status.DUPLICATE))
        .when(moved).then(pl.lit(Status.MOVED))
        .when(pl.col("_moved_ok")).then(pl.lit(Status.COPY))
        .when(in_db).then(pl.lit(Status.DUPLICATE))
        .when(kept_elsewhere).then(pl.lit(Status.COPY))
        .otherwise(pl.lit(Status.NEW)))
    frame = frame.with_columns(
        pl.when(excluded).then(None)
        .when(pl.col("_same_place") | moved).then(pl.col("_db_location"))
        .when(pl.col("_moved_ok")).then(pl.col("_kept"))
        .when(in_db).then(pl.coalesce("_db_location", "location"))
        .when(kept_elsewhere).then(pl.col("_kept")).alias("duplicate_of"),
    )
    # 3. Why, in words.
    status = pl.col("status")
    frame = frame.with_columns(
        ((status == Status.DUPLICATE) & ~pl.col("_same_parts").fill_null(True)).alias("_conflict"))
    frame = frame.join(_conflict_reasons(frame), on="_row", how="left", maintain_order="left")
    what = pl.when(pl.col("_by_serials")).then(pl.lit("probe serials")).otherwise(pl.lit("recording names"))
    return frame.with_columns(
        pl.when(status == Status.UPDATE)
        .then(pl.format("in the pipeline as {}, which lacks: {}", "_stored_as", pl.col("_new_parts").list.join(", ")))
        .when(status == Status.MOVED)
        .then(pl.format("moved from {} (same subject, start and {})", "duplicate_of", what))
        .when(pl.col("_conflict")).then(pl.col("_conflict_reason"))
        .when(status == Status.DUPLICATE)
        .then(pl.format("already in the pipeline as {}", "_stored_as"))
        .when(status == Status.COPY)
        .then(pl.format("same session as {} (subject and start time match)", "duplicate_of"))
        .when(status == Status.EXCLUDED).then(pl.col("excluded_by"))
        .alias("dedup_reason"),
        pl.when(status == Status.UPDATE).then(pl.col("_new_parts")).otherwise(empty).alias("new_parts"))


def deduplicate_discovered(frames: list[pl.DataFrame], shares: list[Share]) -> pl.DataFrame:
    """Every share's discovery frame, deduplicated against the pipeline and within the batch."""
    candidates = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=CANDIDATE_SCHEMA)
    return deduplicate(mark_location_collisions(candidates), fetch_existing_sessions(), shares)
