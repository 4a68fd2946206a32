"""What waits for a person now, and what became of one session folder: status, history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mass_ingest.cli.app import JsonOpt, app
from mass_ingest.cli.render import fail, out, print_json
from mass_ingest.errors import MassIngestError

EXAMPLES_SHOWN = 3  # sessions named per reason, held and pending list; --json lists every one


def say(text: str) -> None:
    # Reasons and notes are the lab's text: never rich markup, never highlighted.
    out.print(text, markup=False, highlight=False)


def _profile_names(profile: str | None) -> list[str] | None:
    """The profile names ``profile`` means: a profile file's name, or a name the database knows."""
    from mass_ingest.db.status import known_profiles
    from mass_ingest.profile import load_profile

    if profile is None:
        return None
    if Path(profile).is_file():
        return [load_profile(profile).name]
    known = known_profiles()
    if profile not in known:
        raise MassIngestError(f"'{profile}' is neither a profile file nor a profile with ingests in the database "
                              f"(it knows: {', '.join(known) or 'none yet'}); give the profile's YAML or one of "
                              "these names")
    return [profile]


def _more(shown: int, total: int) -> None:
    if total > shown:
        say(f"      ... and {total - shown} more (`mass-ingest status --json` lists every one)")


def _print_profile(p) -> None:
    from mass_ingest.db.held import REASONS
    from mass_ingest.deciding import how_to_decide

    latest = p.latest_ingest
    say(f"profile {p.profile}" + (f": latest ingest {latest['ingest_id']} ({latest['status']}, started "
                                  f"{latest['started_at']:%Y-%m-%d %H:%M:%S})" if latest else ": no ingest yet"))
    for w in p.waiting:
        say(f"  waiting for approval: ingest {w.ingest_id}, paused {w.paused_at:%Y-%m-%d %H:%M:%S}"
            + (f", gives up {w.timeout_at:%Y-%m-%d %H:%M:%S}" if w.timeout_at else ""))
        say("\n".join("  " + line for line in how_to_decide(w.flow_run_id, w.flow_run_name).splitlines()))
    for share in p.shares:
        quarantined = [f for f in p.quarantined if f.share == share]
        pending = [f for f in p.pending if f.share == share]
        held = [f for f in p.held if f.share == share]
        say(f"  share {share}: {len(quarantined)} quarantined, {len(pending)} pending, {len(held)} held")
        if quarantined:
            say("    quarantined, by reason:")
        for group in (g for g in p.reasons if g.share == share):
            say(f"      {group.code or '(no code)'} ({group.sessions} session{'s' * (group.sessions != 1)}): "
                f"{group.title}")
            for example in group.examples:
                say(f"        {example['session_id']}: {example['reason']}")
            _more(len(group.examples), group.sessions)
        if pending:
            say("    pending (data still arriving; the next run looks again):")
        for f in pending[:EXAMPLES_SHOWN]:
            say(f"      {f.session_id} ({f.rel_path}) since ingest {f.ingest_id} of {f.since:%Y-%m-%d}: "
                + "; ".join(f.reasons))
        _more(min(len(pending), EXAMPLES_SHOWN), len(pending))
        if held:
            say("    held (no run inserts them until `mass-ingest release SESSION --note WHY`):")
        for f in held[:EXAMPLES_SHOWN]:
            note = f": '{f.note}'" if f.note else ""
            why = REASONS.get(f.reason, f.reason)
            say(f"      {f.session_id} ({f.rel_path}): {why} by {f.held_by} on {f.held_at:%Y-%m-%d %H:%M}{note} "
                f"(ingest {f.ingest_id})")
        _more(min(len(held), EXAMPLES_SHOWN), len(held))


def _totals(profiles) -> dict[str, int]:
    return {"quarantined": sum(len(p.quarantined) for p in profiles),
            "pending": sum(len(p.pending) for p in profiles), "held": sum(len(p.held) for p in profiles),
            "waiting for approval": sum(len(p.waiting) for p in profiles), "profiles": len(profiles)}


@app.command()
def status(
    profile: Annotated[Optional[str], typer.Argument(metavar="PROFILE", help="A profile YAML, or the name of a "
                                                     "profile with ingests; without it, every profile in the "
                                                     "database.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """What waits for a person now, per profile and share.

    Quarantined sessions grouped by finding code, with examples and their reason (what was found and
    what to do); pending ones (data still arriving); held ones (who, when, why); and ingests waiting
    for approval, with the commands that decide them.

    \b
    Example: mass-ingest status profiles/moser-ephys.yaml
    """
    from mass_ingest.db.status import status_report

    try:
        profiles = status_report(_profile_names(profile))
    except MassIngestError as exc:
        fail(exc, code=1)
    totals = _totals(profiles)
    if as_json:
        print_json({"profiles": [p.model_dump(mode="json") for p in profiles], "totals": totals})
        return
    for p in profiles:
        _print_profile(p)
    say(f"total: {totals['quarantined']} quarantined, {totals['pending']} pending, {totals['held']} held, "
        f"{totals['waiting for approval']} waiting for approval, in {totals['profiles']} profile"
        f"{'s' * (totals['profiles'] != 1)}")


@app.command()
def history(
    sessions: Annotated[list[str], typer.Argument(metavar="SESSION...", help="Session folders by id, glob or "
                                                  "folder path (as `release` takes them).", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """What every ingest did with a session folder, oldest first.

    Quarantined (why, codes), pending, inserted (approved by whom), late data added, moved, left out,
    rejected, undone, released.

    \b
    Example: mass-ingest history 25843/2024-03-05_10-30-58 'm9/*'
    """
    from mass_ingest.db.history import NOT_RECORDED, folder_history

    try:
        folders = folder_history(sessions)
    except MassIngestError as exc:
        fail(exc)
    if as_json:
        print_json({"folders": [f.model_dump(mode="json") for f in folders], "not_recorded": NOT_RECORDED})
        return
    for folder in folders:
        say(f"{folder.session_id} ({folder.share}:{folder.rel_path})")
        for e in folder.events:
            codes = f" [{', '.join(e.codes)}]" if e.codes else ""
            by = f" by {e.by}" if e.by and e.what != "inserted" else ""
            note = f": '{e.note}'" if e.note and e.what != "inserted" else ""
            ingest = f"ingest {e.ingest_id} ({e.profile})" if e.ingest_id else ""
            say(f"  {e.when:%Y-%m-%d %H:%M:%S}  {e.what}{by}{note}{codes}  {ingest}")
            if e.detail:
                say(f"      {e.detail}")
    say(NOT_RECORDED)
