"""The tables of comment monitoring, the review queue, page-compliance checks and notices.

They sit beside :mod:`archiver.store.models` on the same declarative base (the migrations'
environment imports both). Nothing here changes a captured record: a flag points at one version
of an item, a decision says what a reviewer did on the platform, and both stay.

* :class:`MonitoringRules`: a loaded rule file (:mod:`archiver.monitoring.rules`); the active one
  flags items and says what a page must state. None loaded: the shipped GO 80.11 file.
* :class:`ReviewFlag`: one rule that matched one version of an item; open until decided.
* :class:`ReviewDecision`: keep, hide or remove on the platform, with the policy ground and who
  decided; the same decision is an audit event.
* :class:`MonitoringMark`: the newest version of each item the rules have seen, so a run of the
  rules after a crash (or for a webhook's items) checks only what is new.
* :class:`PolicyCheck`: one account's public profile against the page requirements, with the
  profile kept as an evidence blob.
* :class:`Notice`: one message to staff (flags, a failed requirement, capture health, a monthly
  report): written once under a unique key, delivered by e-mail and webhook, retried until sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archiver.store.models import HASH, Base, UTCDateTime


class MonitoringRules(Base):
    """A loaded monitoring rule file; exactly one is active once any has been loaded."""

    __tablename__ = "monitoring_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(HASH)
    # The file's text as loaded: validated again on every use, so it is what runs.
    document: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewFlag(Base):
    """One rule that matched one version of an item (a field of it), waiting for a reviewer."""

    __tablename__ = "review_flags"
    __table_args__ = (UniqueConstraint("item_id", "seq", "rule", name="uq_review_flags_match"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(128))
    # obscenity | threat | personal_attack | personal_info | link | off_topic | blocked_author
    # | own_post (archiver.monitoring.rules.CATEGORIES)
    category: Mapped[str] = mapped_column(String(32))
    ground: Mapped[str] = mapped_column(Text)
    # visitor | department: whose words the rule was run on.
    audience: Mapped[str] = mapped_column(String(16))
    # text | author; the first match's span in that field and how many matches there were.
    field: Mapped[str] = mapped_column(String(16))
    match_start: Mapped[int | None] = mapped_column(Integer)
    match_end: Mapped[int | None] = mapped_column(Integer)
    match_count: Mapped[int] = mapped_column(Integer, default=1)
    # capture | webhook | catch_up | manual: what ran the rules.
    origin: Mapped[str] = mapped_column(String(16))
    rules_sha256: Mapped[str] = mapped_column(HASH)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # open | decided
    state: Mapped[str] = mapped_column(String(16), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("review_decisions.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)


class ReviewDecision(Base):
    """What a reviewer did about an item on the platform, and on what ground. Append-only."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    # The version the reviewer saw.
    seq: Mapped[int] = mapped_column(Integer)
    # keep | hide | remove
    decision: Mapped[str] = mapped_column(String(16))
    ground: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who ran the command (the audit log's actor), when not the reviewer named.
    recorded_by: Mapped[str] = mapped_column(String(255))
    audit_event_id: Mapped[int] = mapped_column(Integer)


class MonitoringMark(Base):
    """The newest version of an item the monitoring rules have looked at."""

    __tablename__ = "monitoring_marks"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    checked_seq: Mapped[int] = mapped_column(Integer)
    # The hash of the text and author the rules last saw: a version that changes only the
    # status (hidden, removed) is not flagged again.
    words_sha256: Mapped[str] = mapped_column(HASH)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PolicyCheck(Base):
    """One account's public profile checked against the page requirements."""

    __tablename__ = "policy_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # checked | unreadable (the profile could not be read: ``error`` says why)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    # Every requirement met (None when unreadable).
    passed: Mapped[bool | None] = mapped_column(Boolean)
    # [{"requirement", "ground", "title", "passed", "found": [{"field", "text"}]}]
    results_json: Mapped[str] = mapped_column(Text, default="[]")
    # The profile as read (canonical JSON in the blob store).
    evidence_sha256: Mapped[str | None] = mapped_column(HASH, index=True)
    rules_sha256: Mapped[str] = mapped_column(HASH)


class Notice(Base):
    """A message to staff, written once per ``key``, delivered until it is sent."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("key", name="uq_notices_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # flags | policy | capture_failed | capture_stale | token | monthly_report
    kind: Mapped[str] = mapped_column(String(32), index=True)
    key: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    subject: Mapped[str] = mapped_column(Text)
    # The message: {"lines": [...], "data": {...}, "attachments": [{"name", "media_type",
    # "sha256"}]}; attachments are blobs.
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The channels it went out on, e.g. "email,webhook".
    channels: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
