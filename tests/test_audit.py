"""The audit log is append-only and hash-chained; damage anywhere is found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from archiver.store.archive import Archive
from archiver.store.audit import AuditProblem, check_chain, record_event
from archiver.store.models import AuditEvent

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _append(archive: Archive, n: int) -> list[int]:
    ids = []
    for i in range(n):
        with archive.transaction() as s:
            event = record_event(
                s, action="test.event", occurred_at=T0 + timedelta(minutes=i), actor="tester",
                target_type="thing", target_id=i, details={"i": i, "note": "ünïcode"},
            )
            ids.append(event.id)
    return ids


def _problems(archive: Archive) -> list[AuditProblem]:
    with archive.sessions() as s:
        return [p for p in check_chain(s) if isinstance(p, AuditProblem)]


def test_chain_links_each_event_to_the_one_before(archive: Archive) -> None:
    ids = _append(archive, 5)
    with archive.sessions() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.id for e in events] == ids
    assert events[0].prev_sha256 is None
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_sha256 == before.sha256
    assert _problems(archive) == []


def test_deleted_middle_event_is_reported(archive: Archive) -> None:
    ids = _append(archive, 5)
    with archive.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
    problems = _problems(archive)
    assert any(p.event_id == ids[3] and "chain broken" in p.reason for p in problems)


def test_deleted_newest_event_is_reported(archive: Archive) -> None:
    ids = _append(archive, 3)
    with archive.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    assert any("deleted" in p.reason for p in _problems(archive))


def test_altered_event_is_reported(archive: Archive) -> None:
    ids = _append(archive, 3)
    with archive.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(actor="mallory"))
    problems = _problems(archive)
    assert [p.event_id for p in problems if "altered" in p.reason] == [ids[1]]
