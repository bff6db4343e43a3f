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
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from archiver.store.vocabulary import RunTrigger

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
    """A content-addressed object in the blob store (item records, evidence, media, WARC files)."""

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
    # The closed vocabularies of these String columns are in archiver.store.vocabulary.
    status: Mapped[str] = mapped_column(String(16))  # RunStatus
    trigger: Mapped[str] = mapped_column(String(32), default=RunTrigger.MANUAL)
    error: Mapped[str | None] = mapped_column(Text)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    new_versions: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    # Credentials taken out of what this run read before it was stored
    # (archiver.connectors.secrets).
    secrets_scrubbed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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
    kind: Mapped[str] = mapped_column(String(32))  # ItemKind (archiver.connectors.records)
    # The listing the item belongs to (ROOT_SCOPE "" or its post's external id).
    scope: Mapped[str] = mapped_column(String(255))
    parent_external_id: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # ItemStatus (archiver.connectors.records)
    # Indexed, like removed_detected_at: the dashboard counts what arrived and went this week.
    first_captured_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_run_id: Mapped[int | None] = mapped_column(Integer)
    removed_detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Indexed, like the version hashes below: purge asks whether a blob is still used.
    removal_evidence_sha256: Mapped[str | None] = mapped_column(HASH, index=True)
    # Chain head: the latest version's number, its record hash and its content fingerprint.
    current_seq: Mapped[int] = mapped_column(Integer)
    current_sha256: Mapped[str] = mapped_column(HASH)
    content_sha256: Mapped[str] = mapped_column(HASH)
    # The version last written to the search index; differs from current_seq until indexed.
    indexed_seq: Mapped[int | None] = mapped_column(Integer)
    # Retention (archiver.retention.assign): the record series, the publication time, the day the
    # retention clock started, the first day the item may be disposed (None: permanent or not yet
    # triggered) and when its content was destroyed (a tombstone then holds what remains).
    series_code: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retention_start: Mapped[date | None] = mapped_column(Date)
    disposition_date: Mapped[date | None] = mapped_column(Date, index=True)
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ItemVersion(Base):
    """One state of an item as captured. Append-only; ``sha256`` chains to ``prev_sha256``."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "seq", name="uq_item_versions_item_seq"),
        # Covers the dashboard's counts by capture time (per day, later versions by status)
        # without reading the versions themselves.
        Index("ix_item_versions_captured", "captured_at", "seq", "status"),
    )

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
    # The item's record as parsed (the platform's payload written back out as canonical JSON): a
    # blob. The bytes the platform sent are in the WARC record ``warc_record_id`` names.
    record_sha256: Mapped[str | None] = mapped_column(HASH, index=True)
    evidence_sha256: Mapped[str | None] = mapped_column(HASH, index=True)
    content_sha256: Mapped[str] = mapped_column(HASH)
    prev_sha256: Mapped[str | None] = mapped_column(HASH)
    sha256: Mapped[str] = mapped_column(HASH)
    # Credentials taken out of this version's payload and fields before they were stored.
    secrets_scrubbed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The WARC response record whose page carried the item (not hashed: a purge may rewrite
    # that record for the items it destroys, and the version then names the rewritten one).
    warc_record_id: Mapped[int | None] = mapped_column(ForeignKey("warc_records.id"), index=True)
    # Which canonical bytes ``sha256`` covers (archiver.store.canonical.HashScheme).
    hash_scheme: Mapped[str] = mapped_column(String(16), default="legacy",
                                             server_default="legacy")


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
    # Which canonical bytes ``sha256`` covers (archiver.store.canonical.HashScheme).
    hash_scheme: Mapped[str] = mapped_column(String(16), default="legacy",
                                             server_default="legacy")


class AuditHead(Base):
    """The audit chain's head: one row, locked by every append so the chain never forks.

    It also lets ``verify`` notice the loss of the *last* events, which a chain alone cannot show.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_id: Mapped[int | None] = mapped_column(Integer)
    last_sha256: Mapped[str | None] = mapped_column(HASH)


class OpenRecordsRequest(Base):
    """A records request (KORA K.S.A. 45-218) and its due date; open until a custodian closes it.

    While open, the items in its scope are protected from disposition.
    """

    __tablename__ = "open_records_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(255), unique=True)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    requester: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # RequestStatus
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(255))


class RequestScope(Base):
    """One query (with its filters) that defines part of a request's scope."""

    __tablename__ = "request_scopes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("open_records_requests.id"), index=True)
    query: Mapped[str] = mapped_column(Text)
    filters_json: Mapped[str] = mapped_column(Text, default="{}")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RequestItem(Base):
    """An item a request's export covered: protected while the request is open."""

    __tablename__ = "request_items"
    __table_args__ = (UniqueConstraint("request_pk", "item_id", name="uq_request_items_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("open_records_requests.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)


class Export(Base):
    """One package handed over: an open-records bag or a litigation production.

    A production is ``<prefix>-PROD<production_number>`` on volume ``<prefix>-VOL<number>``:
    numbered per Bates prefix so two productions never share a folder or a volume name.
    """

    __tablename__ = "exports"
    __table_args__ = (UniqueConstraint("bates_prefix", "production_number",
                                       name="uq_exports_production"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # ExportKind
    request_pk: Mapped[int | None] = mapped_column(ForeignKey("open_records_requests.id"),
                                                   index=True)
    hold_name: Mapped[str | None] = mapped_column(String(255))
    query: Mapped[str | None] = mapped_column(Text)
    filters_json: Mapped[str] = mapped_column(Text, default="{}")
    actor: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(HASH)
    size: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int] = mapped_column(Integer)
    redactions: Mapped[int] = mapped_column(Integer, default=0)
    bates_prefix: Mapped[str | None] = mapped_column(String(64))
    bates_first: Mapped[int | None] = mapped_column(BigInteger)
    bates_last: Mapped[int | None] = mapped_column(BigInteger)
    production_number: Mapped[int | None] = mapped_column(Integer)


class BatesCounter(Base):
    """The next Bates number and production number per prefix: never reused by a later
    production."""

    __tablename__ = "bates_counters"

    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_number: Mapped[int] = mapped_column(BigInteger)
    next_production: Mapped[int] = mapped_column(Integer, default=1)


# -- retention, holds and disposition (archiver.retention) --------------------------------------


class RetentionSchedule(Base):
    """A loaded schedule file; exactly one is active and assigns every item its series."""

    __tablename__ = "retention_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(HASH)
    # The validated schedule as canonical JSON: what assignment actually used.
    document_json: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Hold(Base):
    """A legal hold (freeze): its scope covers matching items now and later until released."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    matter: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    custodians: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(255))
    release_reason: Mapped[str | None] = mapped_column(Text)


class HoldItem(Base):
    """An item covered by a hold (kept after release, as the record of what was held)."""

    __tablename__ = "hold_items"

    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProtectionLock(Base):
    """One row that serialises adding protection from disposition with a purge batch.

    Creating a hold, registering a request or its scope, and recording an export's items lock it
    first; so does every purge batch before it checks holds and requests and destroys. A batch
    therefore never destroys what a hold or request made meanwhile covers. ``holder`` and
    ``taken_at`` name the last taker, for whoever asks who is waiting for whom.
    """

    __tablename__ = "protection_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(Text, default="")
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Disposition(Base):
    """One approved purge: the frozen list of items it destroys, and its certificate."""

    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    approved_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # DispositionStatus
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    schedule_sha256: Mapped[str | None] = mapped_column(HASH)
    certificate_sha256: Mapped[str | None] = mapped_column(HASH)
    certificate_pdf_sha256: Mapped[str | None] = mapped_column(HASH)
    transfer_path: Mapped[str | None] = mapped_column(Text)


class DispositionItem(Base):
    """An item a disposition planned to destroy, and what became of it."""

    __tablename__ = "disposition_items"

    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)
    state: Mapped[str] = mapped_column(String(16))  # DispositionItemState
    reason: Mapped[str | None] = mapped_column(Text)


class Tombstone(Base):
    """What stays of a destroyed item: who it was, its series, dates and the hashes destroyed."""

    __tablename__ = "tombstones"
    __table_args__ = (
        UniqueConstraint("item_id", "disposition_id", name="uq_tombstones_item_disposition"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), index=True)
    account_id: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    series_code: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    authority: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disposition_date: Mapped[date] = mapped_column(Date)
    destroyed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(Integer)
    chain_head_sha256: Mapped[str] = mapped_column(HASH)
    version_hashes_json: Mapped[str] = mapped_column(Text)
    blob_hashes_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(HASH)


class DisposedBlob(Base):
    """A blob a disposition set out to delete: deleted, kept (still referenced) or locked."""

    __tablename__ = "disposed_blobs"

    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(HASH, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # BlobDisposal
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- capture operations: the per-account capture lock and media files ----------------------------


class CaptureLock(Base):
    """The one capture allowed per account at a time, across processes and machines.

    ``owner`` is empty when free. A holder refreshes ``heartbeat_at``/``expires_at`` while it
    works; a holder that died stops refreshing, and its lock may be taken once it expired.
    """

    __tablename__ = "capture_locks"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), default="")
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MediaFile(Base):
    """A media file (image, video) some version showed: downloaded once into the blob store.

    ``status`` (a :class:`~archiver.store.vocabulary.MediaStatus`) is ``pending`` (never tried),
    ``stored`` (``sha256`` names the blob) or ``failed`` (retried on the next run; ``attempts``
    and ``last_error`` say how it went).
    """

    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # URLs can be long: uniqueness is on their hash.
    url_sha256: Mapped[str] = mapped_column(HASH, unique=True)
    url: Mapped[str] = mapped_column(Text)
    declared_type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    sha256: Mapped[str | None] = mapped_column(HASH)
    size: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VersionMedia(Base):
    """Which version showed which media file."""

    __tablename__ = "version_media"

    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), primary_key=True)
    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id"), primary_key=True, index=True
    )


# -- people: who may sign in to the records desk, and with what (archiver.access) ---------------


class User(Base):
    """A person who signs in to the records desk (``archiver web``), with one role.

    Only an argon2 hash of the password is kept. ``failed_sign_ins`` and ``locked_until`` carry
    the lock-out after repeated wrong passwords. Each session carries the user's
    ``session_epoch`` of when it began; raising it (sign-out, a password change) ends them all.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # viewer | custodian | legal | records_manager | admin (archiver.access.roles.Role)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # True: only the accounts in user_accounts; False: every account.
    limited: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class UserAccount(Base):
    """An account a limited user may see (a unit sees its own pages)."""

    __tablename__ = "user_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)


class ApiToken(Base):
    """A bearer token for ``/api/``: it acts as its user. Only its sha256 is kept (the token is
    random, 256 bits: a slow hash would add nothing but time on every request)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(255))
    token_sha256: Mapped[str] = mapped_column(HASH, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """Long work the records desk started (an open-records package, a production, a purge), run
    in the background by :mod:`archiver.jobs`; it outlives the process that started it.

    ``runner`` and ``lease_until`` say which process is running it and until when that process
    has promised to say it is still alive: a job whose runner died is found and run again.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # open_records | production | purge (archiver.jobs.kinds.JobKind)
    kind: Mapped[str] = mapped_column(String(32))
    # queued | running | done | failed | interrupted (archiver.jobs.kinds.JobState)
    state: Mapped[str] = mapped_column(String(16), index=True)
    # What the job is about: the request id, the hold name, the purge's as-of date.
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    requested_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    runner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phase: Mapped[str] = mapped_column(String(64), default="")
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    # A file under ARCHIVER_HOME named by the job's id, never by anything a person typed.
    result_path: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class WarcFile(Base):
    """One WARC file: every exchange of one capture run of one account (:mod:`archiver.warc`).

    Written to a spool file under ARCHIVER_HOME while the run goes on, then stored as one blob
    (``sha256``) when the run ends; a purge may replace that blob by a rewritten one.
    """

    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    capture_run_id: Mapped[int | None] = mapped_column(ForeignKey("capture_runs.id"), index=True)
    # writing | stored | lost (archiver.store.vocabulary.WarcStatus)
    status: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str | None] = mapped_column(HASH, index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WarcRecord(Base):
    """One record of a WARC file: where it starts (``file_offset``, in the gzip stream) and what
    its payload hashes to. A record a purge rewrote keeps the original's id and digest; one it
    removed keeps them with no place in the file (``removed_at``)."""

    __tablename__ = "warc_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(64), index=True)  # WARC-Record-ID
    record_type: Mapped[str] = mapped_column(String(16))  # response | request | conversion ...
    target_uri: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    file_offset: Mapped[int | None] = mapped_column(BigInteger)
    length: Mapped[int | None] = mapped_column(BigInteger)  # compressed bytes in the file
    payload_digest: Mapped[str | None] = mapped_column(String(80))  # WARC-Payload-Digest
    original_record_id: Mapped[str | None] = mapped_column(String(64))
    original_payload_digest: Mapped[str | None] = mapped_column(String(80))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WarcRewrite(Base):
    """A purge's rewrite of one WARC file: recorded before the old blob is deleted, so a purge
    killed in between finishes the deletion when run again."""

    __tablename__ = "warc_rewrites"
    __table_args__ = (UniqueConstraint("disposition_id", "warc_file_id",
                                       name="uq_warc_rewrites_disposition_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), index=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"))
    old_sha256: Mapped[str] = mapped_column(HASH)
    new_sha256: Mapped[str | None] = mapped_column(HASH)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    converted: Mapped[int] = mapped_column(Integer, default=0)
    # rewritten (the new blob is recorded) | done (the old blob is deleted)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
class Checkpoint(Base):
    """The archive's state at one moment, to be witnessed outside the database
    (:mod:`archiver.store.checkpoints`): ``document`` is the checkpoint's canonical JSON, whose
    sha256 is ``sha256``; ``tsa_token`` the DER RFC 3161 time-stamp token over that hash, when a
    time-stamping authority is configured."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sha256: Mapped[str] = mapped_column(HASH, unique=True)
    hash_scheme: Mapped[str] = mapped_column(String(16))
    merkle_root: Mapped[str] = mapped_column(HASH)
    item_count: Mapped[int] = mapped_column(BigInteger)
    audit_event_count: Mapped[int] = mapped_column(BigInteger)
    audit_last_event_id: Mapped[int | None] = mapped_column(Integer)
    audit_last_sha256: Mapped[str | None] = mapped_column(HASH)
    document: Mapped[str] = mapped_column(Text)
    tsa_url: Mapped[str | None] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    tsa_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tsa_error: Mapped[str | None] = mapped_column(Text)
