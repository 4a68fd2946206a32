"""Task hints: ``sessions.txt`` in the session folder, one task per line."""

from __future__ import annotations

from mass_ingest.readers import read_head
from mass_ingest.readers.sessions_txt import parse_sessions_txt
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class SessionsTxt(RecordingSystem):
    name = "tasks"
    display_name = "Task list (sessions.txt)"
    modality = "behaviour"
    associated_suffixes = ("sessions.txt",)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        if "sessions.txt" not in session.files.names_in(""):
            return Recognised()
        try:
            text = read_head(session.files.path("sessions.txt")).decode("utf-8", errors="replace")
        except OSError as exc:
            return Recognised(findings=[session.finding("TASKS.UNREADABLE", "sessions.txt",
                                                        f"cannot be read ({exc.strerror}); enter the tasks by hand "
                                                        "once the session is in (`mass-ingest todo`)")])
        hints, findings = parse_sessions_txt(text, share=session.share, rel_path=f"{session.session_rel}/sessions.txt")
        return Recognised(task_hints=hints, findings=findings)
