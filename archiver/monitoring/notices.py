"""What staff are sent, and its delivery: an outbox of notices, each written once, sent until sent.

A notice is written under a unique key in the same transaction as what it reports (a batch of
new flags, a requirement a page stopped meeting, a failed capture, a monthly report), so a job
run twice never sends twice; :func:`deliver_pending` sends every unsent notice on every
configured channel (:mod:`archiver.notify`) and keeps trying the channels that failed.

What a notice says about a visitor's comment is no more than a reviewer needs: the rule, the
policy ground, a short excerpt around the match (personal information withheld), and a link to
the item. Text is made safe for a terminal or a mail reader (control and bidirectional characters
escaped); before anything is sent, every credential the caller knows (account tokens, the
mail password, the webhook secret) is scrubbed from the message as a last guard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from archiver.connectors.secrets import SecretScrubber
from archiver.monitoring.flags import OPEN
from archiver.monitoring.review import excerpt
from archiver.notify.mail import send_mail
from archiver.notify.message import Attachment, Message, NotifyError
from archiver.notify.settings import NotifySettings
from archiver.notify.webhook import post_message
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob
from archiver.store.db import dialect_insert
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.monitoring import Notice, ReviewFlag
from archiver.terminal import visible
from archiver.wording import author_or_unknown, counted

# Flags listed one by one in a notice; the rest are counted (the queue has them all).
FLAGS_LISTED = 50
# An excerpt is cut to this many characters, whatever the match's length.
EXCERPT_MAX = 160


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    channels: tuple[str, ...] = ()
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    pending: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "sent": self.sent,
                "failed": [{"notice_id": n, "error": e} for n, e in self.failed],
                "pending": self.pending}


def queue_notice(session: Session, archive: Archive, *, kind: str, key: str, subject: str,
                 lines: Sequence[str], data: dict[str, Any], account_id: int | None = None,
                 attachments: Sequence[Attachment] = ()) -> int | None:
    """Write a notice unless one with ``key`` exists; its id, or None when it existed.

    Attachments go to the blob store; the notice keeps their hashes."""
    if notice_exists(session, key):
        return None
    now = archive.clock()
    files = [{"name": a.name, "media_type": a.media_type,
              "sha256": store_blob(session, archive.store, a.content, a.media_type, now)}
             for a in attachments]
    payload = {"lines": list(lines), "data": data, "attachments": files}
    inserted = session.execute(
        dialect_insert(session, Notice).on_conflict_do_nothing().returning(Notice.id),
        [{"kind": kind, "key": key, "account_id": account_id, "subject": subject,
          "payload_json": json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
          "created_at": now, "sent_at": None, "channels": "", "attempts": 0,
          "last_error": None}]).scalar_one_or_none()
    return inserted


def notice_exists(session: Session, key: str) -> bool:
    """Whether a notice was written under ``key``."""
    return session.scalar(select(Notice.id).where(Notice.key == key)) is not None


def short_excerpt(text: str | None, start: int | None, end: int | None, category: str) -> str:
    """:func:`archiver.monitoring.review.excerpt`, cut to :data:`EXCERPT_MAX` characters."""
    shown = excerpt(text, start, end, category)
    return shown if len(shown) <= EXCERPT_MAX else shown[:EXCERPT_MAX - 1] + "…"


def queue_flag_notice(archive: Archive, settings: NotifySettings) -> int | None:
    """One notice for every open flag not yet in a notice (None when there is none)."""
    with archive.transaction() as s:
        rows = s.execute(
            select(ReviewFlag, ItemVersion.text, ItemVersion.author_name, ItemVersion.url,
                   Item.kind, Account.platform, Account.handle)
            .join(Item, Item.id == ReviewFlag.item_id)
            .join(Account, Account.id == ReviewFlag.account_id)
            .join(ItemVersion, and_(ItemVersion.item_id == ReviewFlag.item_id,
                                    ItemVersion.seq == ReviewFlag.seq))
            .where(ReviewFlag.notice_id.is_(None), ReviewFlag.state == OPEN)
            .order_by(ReviewFlag.id).with_for_update(of=ReviewFlag)).all()
        if not rows:
            return None
        flags = [_flag_entry(settings, *row) for row in rows]
        first, last = flags[0]["flag_id"], flags[-1]["flag_id"]
        subject = f"{counted(len(flags), 'new flag')} to review (GO 80.11 comment monitoring)"
        lines = [subject + ".", ""]
        for entry in flags[:FLAGS_LISTED]:
            lines += _flag_lines(entry)
        if len(flags) > FLAGS_LISTED:
            lines.append(f"... and {len(flags) - FLAGS_LISTED} more: archiver review list")
        lines += ["Record a decision with: archiver review decide FLAG --decision keep|hide|"
                  "remove --ground \"GO 80.11 ...\" --by NAME",
                  "The archive keeps every comment as captured, whatever is decided."]
        notice_id = queue_notice(s, archive, kind="flags", key=f"flags:{first}-{last}",
                                 subject=subject, lines=lines,
                                 data={"total": len(flags), "flags": flags})
        if notice_id is not None:
            s.execute(update(ReviewFlag).where(ReviewFlag.id.in_([r[0].id for r in rows]))
                      .values(notice_id=notice_id))
        return notice_id


def _flag_entry(settings: NotifySettings, flag: ReviewFlag, text: str | None,
                author: str | None, url: str | None, kind: str, platform: str,
                handle: str) -> dict[str, Any]:
    return {"flag_id": f"F{flag.id}", "item_id": flag.item_id, "account_id": flag.account_id,
            "platform": platform, "account": handle, "kind": kind,
            "author": author, "rule": flag.rule, "category": flag.category,
            "ground": flag.ground, "audience": flag.audience,
            "excerpt": short_excerpt(text, flag.match_start, flag.match_end, flag.category),
            "link": settings.item_link(flag.item_id), "platform_url": url}


def _flag_lines(entry: dict[str, Any]) -> list[str]:
    by = "the department" if entry["audience"] == "department" else visible(
        author_or_unknown(entry["author"]))
    lines = [f"{entry['flag_id']}  item {entry['item_id']}  {entry['platform']}:"
             f"{visible(entry['account'])}  {entry['kind']} by {by}",
             f"    rule {entry['rule']} ({entry['category']}): {visible(entry['ground'])}",
             f"    excerpt: {visible(entry['excerpt'])}",
             f"    open: {visible(entry['link'])}"]
    if entry["platform_url"]:
        lines.append(f"    on the platform: {visible(entry['platform_url'])}")
    return [*lines, ""]


def message_of(archive: Archive, notice: Notice) -> Message:
    """The message a notice sends (its files read back from the blob store)."""
    payload = json.loads(notice.payload_json)
    files = tuple(Attachment(a["name"], a["media_type"], archive.store.get(a["sha256"]),
                             a["sha256"]) for a in payload["attachments"])
    data = {"notice_id": notice.id, "key": notice.key, "account_id": notice.account_id,
            "created_at": notice.created_at.isoformat(), "lines": payload["lines"],
            **payload["data"]}
    return Message(kind=notice.kind, subject=notice.subject, lines=tuple(payload["lines"]),
                   data=data, attachments=files)


def _scrubbed(message: Message, scrubber: SecretScrubber) -> Message:
    data, _ = scrubber.json(message.data)
    return Message(kind=message.kind, subject=scrubber(message.subject),
                   lines=tuple(scrubber(line) for line in message.lines), data=data,
                   attachments=message.attachments)


def send(settings: NotifySettings, message: Message, channel: str) -> None:
    """Send ``message`` on one configured channel (``email`` or ``webhook``)."""
    if channel == "email" and settings.mail is not None:
        send_mail(settings.mail, message)
    elif channel == "webhook" and settings.webhook is not None:
        post_message(settings.webhook, message)


def deliver_pending(archive: Archive, settings: NotifySettings, *,
                    secrets: Iterable[str] = ()) -> DeliveryReport:
    """Send every unsent notice on every configured channel not done yet; audited.

    ``secrets`` (account tokens, say) are scrubbed from every message before it leaves."""
    report = DeliveryReport(channels=settings.channels)
    with archive.sessions() as s:
        pending = list(s.scalars(select(Notice).where(Notice.sent_at.is_(None))
                                 .order_by(Notice.id)))
    report.pending = len(pending)
    if not settings.channels:
        return report
    scrubber = SecretScrubber([*secrets, *settings.secrets()])
    for notice in pending:
        message = _scrubbed(message_of(archive, notice), scrubber)
        done = {c for c in notice.channels.split(",") if c}
        errors = []
        for channel in settings.channels:
            if channel in done:
                continue
            try:
                send(settings, message, channel)
                done.add(channel)
            except NotifyError as exc:
                errors.append(f"{channel}: {scrubber(str(exc))}")
        _record_delivery(archive, notice.id, done, errors)
        if errors:
            report.failed.append((notice.id, "; ".join(errors)))
        else:
            report.sent.append(notice.id)
    report.pending -= len(report.sent)
    return report


def _record_delivery(archive: Archive, notice_id: int, done: set[str],
                     errors: list[str]) -> None:
    now = archive.clock()
    with archive.transaction() as s:
        row = s.get(Notice, notice_id, with_for_update=True)
        assert row is not None
        row.attempts += 1
        row.channels = ",".join(sorted(done))
        row.last_error = "; ".join(errors) or None
        if not errors:
            row.sent_at = now
        record_event(s, action="notice.failed" if errors else "notice.sent", occurred_at=now,
                     target_type="notice", target_id=notice_id,
                     details={"kind": row.kind, "key": row.key, "channels": sorted(done),
                              "attempt": row.attempts, "error": row.last_error})


def pending_notices(archive: Archive) -> list[dict[str, Any]]:
    """Every notice not sent yet, oldest first, for ``notices list``."""
    with archive.sessions() as s:
        return [_notice_json(n) for n in s.scalars(
            select(Notice).where(Notice.sent_at.is_(None)).order_by(Notice.id))]


def recent_notices(archive: Archive, since: datetime) -> list[dict[str, Any]]:
    """Notices written since ``since``, oldest first."""
    with archive.sessions() as s:
        return [_notice_json(n) for n in s.scalars(
            select(Notice).where(Notice.created_at >= since).order_by(Notice.id))]


def _notice_json(n: Notice) -> dict[str, Any]:
    return {"notice_id": n.id, "kind": n.kind, "key": n.key, "subject": n.subject,
            "account_id": n.account_id, "created_at": n.created_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None, "channels": n.channels,
            "attempts": n.attempts, "last_error": n.last_error}
