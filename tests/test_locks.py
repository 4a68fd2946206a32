"""The insertion lock of a share, held by one database session and refused to another (no Prefect)."""

from __future__ import annotations

import datajoint as dj
import pytest

from mass_ingest.db.locks import share_locks
from mass_ingest.errors import DatabaseError
from tests.fault_points import _FaultPoint

pytestmark = pytest.mark.usefixtures("database")


def second_connection() -> dj.Connection:
    """Another session on the same database, as a second ingest process would have."""
    other = dj.Connection(dj.config["database.host"], dj.config["database.user"], "", dj.config["database.port"],
                          use_tls=False, backend="postgresql")
    other.connect()
    return other


class TestShareLocks:
    def test_a_share_locked_by_one_session_is_refused_to_another_until_released(self):
        other = second_connection()
        try:
            with share_locks(dj.conn(), ["N", "backup"]):
                with pytest.raises(DatabaseError, match=r"^share N: another ingest has been inserting into it for "
                                                        r"more than 0 s; check `mass-ingest db status`"):
                    with share_locks(other, ["N"], wait_s=0.2):
                        pass
                with share_locks(other, ["other-share"], wait_s=0.2):
                    pass  # another share is not held
            with share_locks(other, ["N", "backup"], wait_s=0.2):
                pass  # released on the way out
        finally:
            other.close()

    def test_a_closed_session_releases_its_locks(self):
        holder, other = second_connection(), second_connection()
        try:
            with share_locks(holder, ["N"]):
                holder.close()  # the process died: its session and locks go with it
                with share_locks(other, ["N"], wait_s=5):
                    pass
        finally:
            other.close()


class TestFaultPointSpec:
    @pytest.mark.parametrize("spec", ["insert-chunk", "insert-chunk explode", "quality hold", "quality kill /tmp/x"])
    def test_a_malformed_spec_is_refused_with_the_forms_it_takes(self, spec):
        with pytest.raises(ValueError, match="is not '<task>\\[#n\\] kill' or '<task>\\[#n\\] hold <file>'"):
            _FaultPoint(spec)

    def test_a_spec_names_the_task_its_completion_and_the_action(self, tmp_path):
        point = _FaultPoint(f"insert-chunk#3 hold {tmp_path / 'h'}")
        assert (point.task_name, point.nth, point.action, point.hold_file) == ("insert-chunk", 3, "hold", tmp_path / "h")
