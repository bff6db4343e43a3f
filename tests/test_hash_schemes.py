"""New versions and audit events are sealed over RFC 8785 bytes an outside JCS library
reproduces; rows sealed before (legacy bytes) keep verifying after the upgrade."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import rfc8785
from alembic import command
from sqlalchemy import select, text

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.store import db
from archiver.store.archive import Archive, open_archive
from archiver.store.audit import check_chain, event_payload, record_event
from archiver.store.canonical import canonical_json, iso_utc
from archiver.store.models import AuditEvent, ItemVersion
from archiver.store.versions import version_payload
from archiver.verify import verify_archive
from tests.support.retention import Captured, captured  # noqa: F401


def _examiner_bytes(payload: dict[str, object]) -> bytes:
    """What an outside examiner's JCS library gives for a record, times as the record's text."""
    plain = json.loads(json.dumps(payload, default=lambda v: iso_utc(v)))
    return rfc8785.dumps(plain)


def test_new_records_hash_over_rfc8785_bytes(captured: Captured) -> None:  # noqa: F811
    with captured.archive.sessions() as s:
        versions = list(s.scalars(select(ItemVersion)))
        events = list(s.scalars(select(AuditEvent)))
    assert versions and events
    for v in versions:
        assert v.hash_scheme == "jcs"
        assert hashlib.sha256(_examiner_bytes(version_payload(v))).hexdigest() == v.sha256
    for e in events:
        assert e.hash_scheme == "jcs"
        assert hashlib.sha256(_examiner_bytes(event_payload(e))).hexdigest() == e.sha256


def test_legacy_audit_events_verify_after_the_upgrade(settings: Settings) -> None:
    """Events written before the schemes existed, one whose legacy bytes differ from JCS's
    (a float), still verify; new events chain on under JCS."""
    engine = db.make_engine(settings.db_url)
    try:
        config = db.alembic_config(engine)
        command.upgrade(config, "0011")
        prev = None
        with engine.begin() as conn:
            for n, details in enumerate([{"ratio": 1.0}, {"n": 2}], start=1):
                moment = datetime(2024, 5, n, tzinfo=UTC)
                payload = {"id": n, "occurred_at": moment, "actor": "old", "action": "old.event",
                           "target_type": None, "target_id": None, "details": details,
                           "prev_sha256": prev}
                sha = hashlib.sha256(canonical_json(payload)).hexdigest()
                conn.execute(text(
                    "INSERT INTO audit_events (id, occurred_at, actor, action, details_json, "
                    "prev_sha256, sha256) VALUES (:id, :at, 'old', 'old.event', :d, :p, :s)"),
                    {"id": n, "at": moment.replace(tzinfo=None), "d": json.dumps(details),
                     "p": prev, "s": sha})
                prev = sha
            conn.execute(text("UPDATE audit_head SET event_count = 2, last_event_id = 2, "
                              "last_sha256 = :s WHERE id = 1"), {"s": prev})
            if engine.dialect.name == "postgresql":  # ids given by hand: move the sequence on
                conn.execute(text("SELECT setval('audit_events_id_seq', 2)"))
    finally:
        engine.dispose()
    assert canonical_json({"ratio": 1.0}) != rfc8785.dumps({"ratio": 1.0})

    initialise(settings)  # migrates to the head
    archive: Archive = open_archive(settings)
    try:
        with archive.transaction() as s:
            record_event(s, action="new.event", occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
        with archive.sessions() as s:
            schemes = list(s.scalars(select(AuditEvent.hash_scheme).order_by(AuditEvent.id)))
            problems = [p for p in check_chain(s) if not isinstance(p, int)]
        assert schemes[:3] == ["legacy", "legacy", "jcs"]
        assert problems == []
        report = verify_archive(archive)
        assert report.ok, report.problems
        # The scheme is part of what is checked: the legacy event read as JCS no longer holds.
        with archive.transaction() as s:
            s.execute(text("UPDATE audit_events SET hash_scheme = 'jcs' WHERE id = 1"))
        with archive.sessions() as s:
            assert [p for p in check_chain(s) if not isinstance(p, int)]
    finally:
        archive.close()
