"""The archive's tables, as SQLAlchemy 2 typed models.

Append-only by design: ``ItemVersion`` and ``AuditEvent`` rows are only ever inserted. ``Item``
keeps the little mutable state capture needs to work fast (current status, last seen, the hash of
the latest version so the chain head can be checked), and ``archiver verify`` checks it against the
versions.

Timestamps are stored in UTC. SQLite has no time zones, so :class:`UTCDateTime` stores naive UTC and
hands back aware UTC datetimes on both databases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep Alembic autogenerate stable on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH = String(64)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC, returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """One official page or channel, approved under General Order 80.11 III.A.1.a."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_accounts_platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(255))
    approved_on: Mapped[date | None] = mapped_column(Date)
    admin_unit: Mapped[str | None] = mapped_column(String(255))
    api_base: Mapped[str | None] = mapped_column(Text)
    # The *name* of the environment variable holding the token; the token itself is never stored.
    token_env: Mapped[str] = mapped_column(String(255))
    tags: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Blob(Base):
    """A content-addressed object in the blob store (raw payloads, evidence, media)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(HASH, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaptureRun(Base):
    """One capture of one account: when, how it ended, and what it found."""

    __tablename__ = "capture_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # running | succeeded | failed | interrupted
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(32), default="manual")
    error: Mapped[str | None] = mapped_column(Text)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    new_versions: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)


class Item(Base):
    """One thing on a page (post, comment, reply, ...). Its history is in ``item_versions``."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_items_account_external"),
        Index("ix_items_account_scope", "account_id", "scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    # The listing the item belongs to (ROOT_SCOPE "" or its post's external id).
    scope: Mapped[str] = mapped_column(String(255))
    parent_external_id: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    first_captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_run_id: Mapped[int | None] = mapped_column(Integer)
    removed_detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removal_evidence_sha256: Mapped[str | None] = mapped_column(HASH)
    # Chain head: the latest version's number, its record hash and its content fingerprint.
    current_seq: Mapped[int] = mapped_column(Integer)
    current_sha256: Mapped[str] = mapped_column(HASH)
    content_sha256: Mapped[str] = mapped_column(HASH)
    # The version last written to the search index; differs from current_seq until indexed.
    indexed_seq: Mapped[int | None] = mapped_column(Integer)


class ItemVersion(Base):
    """One state of an item as captured. Append-only; ``sha256`` chains to ``prev_sha256``."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_item_versions_item_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    seq: Mapped[int] = mapped_column(Integer)
    capture_run_id: Mapped[int | None] = mapped_column(ForeignKey("capture_runs.id"), index=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    platform_status: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    # JSON list of {"url", "media_type"}: what media the item showed in this version.
    media_json: Mapped[str] = mapped_column(Text, default="[]")
    raw_sha256: Mapped[str | None] = mapped_column(HASH)
    evidence_sha256: Mapped[str | None] = mapped_column(HASH)
    content_sha256: Mapped[str] = mapped_column(HASH)
    prev_sha256: Mapped[str | None] = mapped_column(HASH)
    sha256: Mapped[str] = mapped_column(HASH)


class AuditEvent(Base):
    """Who did what, when, to what. Append-only; each event's hash covers the one before it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(255))
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    prev_sha256: Mapped[str | None] = mapped_column(HASH)
    sha256: Mapped[str] = mapped_column(HASH)


class AuditHead(Base):
    """The audit chain's head: one row, locked by every append so the chain never forks.

    It also lets ``verify`` notice the loss of the *last* events, which a chain alone cannot show.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_id: Mapped[int | None] = mapped_column(Integer)
    last_sha256: Mapped[str | None] = mapped_column(HASH)
