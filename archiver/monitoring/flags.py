"""Flagging: the active rules run on stored items and fill the review queue.

:func:`flag_items` is the one entry point. It takes the caller's session and the ids of items
just stored (new, or with a new version) and flags each item's newest version: visitors'
comments and replies against the visitor rules, the department's own posts and replies against
the department rules. It writes inside the caller's transaction and never commits, so it can be
told of every batch capture stores (one subscriber line), and the same call serves webhook
deliveries (:func:`flag_runs`) and a catch-up of everything the rules have not seen yet
(:func:`flag_unchecked`, which the scheduler's notices job runs).

Each item's newest checked version is kept (:class:`~archiver.store.monitoring.MonitoringMark`),
so running the rules twice flags nothing twice, and a version that changes only the status
(hidden, removed) is not flagged again. A flag is unique per item, version and rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from archiver.monitoring.loading import active_rules
from archiver.monitoring.matching import run_rules
from archiver.monitoring.rules import RuleSet
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.db import dialect_insert, table_of
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.monitoring import MonitoringMark, ReviewFlag

# The kinds a department publishes; a comment or reply is the department's when its author is
# the account itself.
OWN_KINDS = frozenset({"post", "media", "page_revision"})
# Platforms whose listing of posts may hold a visitor's post (a Facebook Page's feed).
VISITOR_POSTS = frozenset({"facebook"})
CHUNK = 500
OPEN = "open"
DECIDED = "decided"


@dataclass
class FlagOutcome:
    """What one run of the rules did."""

    checked: int = 0
    flag_ids: list[int] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        """How many new flags were written."""
        return len(self.flag_ids)

    def add(self, other: FlagOutcome) -> None:
        self.checked += other.checked
        self.flag_ids += other.flag_ids


def audience_of(platform: str, account_external_id: str, kind: str,
                author_id: str | None) -> str:
    """``department`` for the account's own words, else ``visitors``."""
    if author_id is not None and author_id == account_external_id:
        return "department"
    if kind in OWN_KINDS and not (platform in VISITOR_POSTS and author_id is not None):
        return "department"
    return "visitors"


def words_hash(text: str | None, author_name: str | None, author_id: str | None) -> str:
    """What the rules look at in a version, as one hash."""
    data = "\x00".join(v if v is not None else "\x01" for v in (text, author_name, author_id))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def flag_items(session: Session, archive: Archive, item_ids: Iterable[int], *,
               origin: str = "capture", rules: RuleSet | None = None) -> FlagOutcome:
    """Run the rules (``rules``, else the active ones) on the newest version of each item of
    ``item_ids`` not checked yet; write flags and marks in ``session`` (never committed here).

    ``origin`` says what stored the items (``capture``, ``webhook``, ``catch_up``, ...).
    """
    ids = sorted(set(item_ids))
    outcome = FlagOutcome()
    if not ids:
        return outcome
    session.flush()
    rules = rules or active_rules(session)
    now = archive.clock()
    for start in range(0, len(ids), CHUNK):
        outcome.add(_flag_chunk(session, rules, ids[start:start + CHUNK], origin, now))
    if outcome.flag_ids:
        record_event(session, action="review.flagged", occurred_at=now,
                     target_type="review_flags", target_id=outcome.flag_ids[0],
                     details={"origin": origin, "rules": rules.name,
                              "rules_sha256": rules.sha256, "items_checked": outcome.checked,
                              "flags": outcome.flagged, "flag_ids": outcome.flag_ids})
    return outcome


def _flag_chunk(session: Session, rules: RuleSet, ids: list[int], origin: str,
                now: datetime) -> FlagOutcome:
    rows = session.execute(
        select(Item.id, Item.account_id, Item.kind, Item.current_seq, Account.platform,
               Account.external_id, ItemVersion.text, ItemVersion.author_name,
               ItemVersion.author_id, MonitoringMark.checked_seq, MonitoringMark.words_sha256)
        .join(Account, Account.id == Item.account_id)
        .join(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                ItemVersion.seq == Item.current_seq))
        .outerjoin(MonitoringMark, MonitoringMark.item_id == Item.id)
        .where(Item.id.in_(ids), Item.disposed_at.is_(None))
    ).all()
    outcome = FlagOutcome()
    flags: list[dict[str, object]] = []
    marks: list[dict[str, object]] = []
    for (item_id, account_id, kind, seq, platform, external_id, text, author_name, author_id,
         checked_seq, checked_words) in rows:
        if checked_seq is not None and checked_seq >= seq:
            continue
        outcome.checked += 1
        words = words_hash(text, author_name, author_id)
        marks.append({"item_id": item_id, "checked_seq": seq, "words_sha256": words,
                      "checked_at": now})
        if words == checked_words:
            continue  # only the status changed: the rules saw these words already
        audience = audience_of(platform, external_id, kind, author_id)
        for hit in run_rules(rules.for_audience(audience), text, author_name, author_id):
            flags.append({
                "item_id": item_id, "account_id": account_id, "seq": seq, "rule": hit.rule.name,
                "category": hit.rule.category, "ground": hit.rule.ground, "audience": audience,
                "field": hit.field, "match_start": hit.start, "match_end": hit.end,
                "match_count": hit.count, "origin": origin, "rules_sha256": rules.sha256,
                "flagged_at": now, "state": OPEN, "decision_id": None, "notice_id": None,
            })
    if flags:
        # A flag already made (the same item, version and rule) is skipped, not repeated.
        inserted = session.execute(
            dialect_insert(session, ReviewFlag).on_conflict_do_nothing().returning(ReviewFlag.id),
            flags)
        outcome.flag_ids = sorted(inserted.scalars())
    _save_marks(session, marks)
    return outcome


def _save_marks(session: Session, marks: list[dict[str, object]]) -> None:
    if not marks:
        return
    table = table_of(MonitoringMark)
    statement = dialect_insert(session, MonitoringMark)
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.item_id],
        set_={"checked_seq": statement.excluded.checked_seq,
              "words_sha256": statement.excluded.words_sha256,
              "checked_at": statement.excluded.checked_at}), marks)


def unchecked_item_ids(session: Session, limit: int | None = None) -> list[int]:
    """Items whose newest version the rules have not seen (oldest first)."""
    query = (select(Item.id).outerjoin(MonitoringMark, MonitoringMark.item_id == Item.id)
             .where(Item.disposed_at.is_(None), Item.current_seq > 0,
                    (MonitoringMark.checked_seq.is_(None))
                    | (MonitoringMark.checked_seq < Item.current_seq))
             .order_by(Item.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def flag_unchecked(archive: Archive, *, origin: str = "catch_up",
                   batch: int = 2000) -> FlagOutcome:
    """Run the rules on every item not checked yet, a transaction per batch."""
    outcome = FlagOutcome()
    while True:
        with archive.transaction() as s:
            ids = unchecked_item_ids(s, batch)
            if not ids:
                return outcome
            outcome.add(flag_items(s, archive, ids, origin=origin))


def flag_runs(archive: Archive, run_ids: Sequence[int | None], *,
              origin: str = "webhook") -> FlagOutcome:
    """Run the rules on the items the given capture runs (a webhook delivery's) stored."""
    wanted = [r for r in run_ids if r is not None]
    if not wanted:
        return FlagOutcome()
    with archive.transaction() as s:
        ids = list(s.scalars(select(ItemVersion.item_id).distinct()
                             .where(ItemVersion.capture_run_id.in_(wanted))))
        return flag_items(s, archive, ids, origin=origin)
