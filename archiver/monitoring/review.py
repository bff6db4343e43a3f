"""The review queue: open flags, a reviewer's decision, and an item's review history.

A decision says what the reviewer did *on the platform* (keep the comment up, hide it, remove
it) and on what policy ground; the archive records it (a ``review_decisions`` row and a
``review.decided`` audit event in the hash chain) and closes the item's open flags. The archive
itself never hides, deletes or alters the record: a comment the department removes stays in the
archive, and the next capture records its removal as the platform shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError, NotFound
from archiver.monitoring.flags import DECIDED, OPEN
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Account, Item, ItemVersion
from archiver.store.monitoring import ReviewDecision, ReviewFlag
from archiver.terminal import has_control_characters

# Characters of context shown on each side of a match: enough to read it, no more.
CONTEXT = 40
_TARGET = re.compile(r"^(?:(?P<flag>f|flag:?)\s*(?P<fid>\d+)|(?:item:?)?\s*(?P<iid>\d+))$",
                     re.IGNORECASE)


class Decision(StrEnum):
    """What the reviewer did on the platform."""

    KEEP = "keep"
    HIDE = "hide"
    REMOVE = "remove"


def excerpt(text: str | None, start: int | None, end: int | None, category: str, *,
            context: int = CONTEXT) -> str:
    """No more of ``text`` than a reviewer needs: the match with ``context`` characters each
    side, one line. Personal information is not repeated: its match shows as ``[withheld]``."""
    if not text:
        return ""
    if start is None or end is None:
        start = end = 0
    shown = "[withheld]" if category == "personal_info" else text[start:end]
    before = text[max(0, start - context):start]
    after = text[end:end + context]
    out = (("…" if start > context else "") + before + shown + after
           + ("…" if end + context < len(text) else ""))
    return " ".join(out.split())


@dataclass(frozen=True)
class Target:
    """What ``review decide`` names: a flag (``F12``) or an item (``42``)."""

    flag_id: int | None = None
    item_id: int | None = None


def parse_target(text: str) -> Target:
    """``F12``, ``flag:12`` -> flag 12; ``42``, ``item:42`` -> item 42."""
    found = _TARGET.match(text.strip())
    if found is None:
        raise ArchiverError(f"{text!r} names no flag or item: give an item id (42) or a flag "
                            "id as 'review list' shows it (F12)")
    if found["fid"] is not None:
        return Target(flag_id=int(found["fid"]))
    return Target(item_id=int(found["iid"]))


def flag_json(flag: ReviewFlag, text: str | None) -> dict[str, Any]:
    """A flag as ``review list --json`` and ``items show`` print it."""
    return {
        "flag_id": f"F{flag.id}", "item_id": flag.item_id, "seq": flag.seq, "rule": flag.rule,
        "category": flag.category, "ground": flag.ground, "audience": flag.audience,
        "field": flag.field, "matches": flag.match_count, "origin": flag.origin,
        "flagged_at": flag.flagged_at.isoformat(), "state": flag.state,
        "decision_id": flag.decision_id, "rules_sha256": flag.rules_sha256,
        "excerpt": excerpt(text, flag.match_start, flag.match_end, flag.category),
    }


def decision_json(d: ReviewDecision) -> dict[str, Any]:
    """A decision as ``review decide`` and ``items show`` print it."""
    return {"decision_id": d.id, "item_id": d.item_id, "seq": d.seq, "decision": d.decision,
            "ground": d.ground, "decided_by": d.decided_by, "decided_at": d.decided_at.isoformat(),
            "recorded_by": d.recorded_by, "audit_event_id": d.audit_event_id}


def review_queue(archive: Archive, *, include_decided: bool = False,
                 account_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Open flags (``include_decided``: all), oldest first, with the item they are about."""
    query = (select(ReviewFlag, ItemVersion.text, Item.external_id, Item.kind, Item.status,
                    Item.current_seq, ItemVersion.author_name, ItemVersion.url,
                    Account.platform, Account.handle)
             .join(Item, Item.id == ReviewFlag.item_id)
             .join(Account, Account.id == ReviewFlag.account_id)
             .join(ItemVersion, and_(ItemVersion.item_id == ReviewFlag.item_id,
                                     ItemVersion.seq == ReviewFlag.seq))
             .order_by(ReviewFlag.id))
    if not include_decided:
        query = query.where(ReviewFlag.state == OPEN)
    if account_id is not None:
        query = query.where(ReviewFlag.account_id == account_id)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    with archive.sessions() as s:
        for (flag, text, external_id, kind, status, current_seq, author, url, platform,
             handle) in s.execute(query):
            rows.append({**flag_json(flag, text), "account_id": flag.account_id,
                         "platform": platform, "account": handle, "external_id": external_id,
                         "kind": kind, "item_status": status, "current_seq": current_seq,
                         "author": author, "url": url})
    return rows


def decide(archive: Archive, target: str, decision: str, *, ground: str, decided_by: str,
           actor: str) -> dict[str, Any]:
    """Record the reviewer's ``decision`` on the item ``target`` names (audited) and close its
    open flags; the record itself is not touched."""
    chosen = _decision(decision)
    ground = _one_line(ground, "--ground", "the policy ground, e.g. \"GO 80.11 III.A.1.d(1)\"")
    decided_by = _one_line(decided_by, "--by", "the reviewer's name")
    named = parse_target(target)
    now = archive.clock()
    with archive.transaction() as s:
        item_id = _item_of(s, named)
        item = s.get(Item, item_id, with_for_update=True)
        if item is None:
            raise NotFound(f"no item with id {item_id}")
        open_flags = list(s.scalars(select(ReviewFlag.id).where(
            ReviewFlag.item_id == item_id, ReviewFlag.state == OPEN).order_by(ReviewFlag.id)))
        event = record_event(
            s, action="review.decided", occurred_at=now, actor=actor, target_type="item",
            target_id=item_id,
            details={"decision": chosen.value, "ground": ground, "decided_by": decided_by,
                     "seq": item.current_seq, "flags_closed": [f"F{i}" for i in open_flags],
                     "named": target.strip(),
                     "record": "kept as captured: the decision is about the platform"})
        row = ReviewDecision(item_id=item_id, seq=item.current_seq, decision=chosen.value,
                             ground=ground, decided_by=decided_by, decided_at=now,
                             recorded_by=actor, audit_event_id=event.id)
        s.add(row)
        s.flush()
        if open_flags:
            s.execute(update(ReviewFlag).where(ReviewFlag.id.in_(open_flags))
                      .values(state=DECIDED, decision_id=row.id))
        return {**decision_json(row), "flags_closed": [f"F{i}" for i in open_flags]}


def _decision(value: str) -> Decision:
    try:
        return Decision(value.strip().lower())
    except ValueError:
        raise ArchiverError(f"--decision: {value!r} is not one of "
                            f"{', '.join(d.value for d in Decision)}") from None


def _one_line(value: str, option: str, what: str) -> str:
    value = value.strip()
    if not value or has_control_characters(value):
        raise ArchiverError(f"{option}: give {what} on one line")
    return value


def _item_of(s: Session, target: Target) -> int:
    if target.flag_id is not None:
        item_id = s.scalar(select(ReviewFlag.item_id).where(ReviewFlag.id == target.flag_id))
        if item_id is None:
            raise NotFound(f"no flag F{target.flag_id} (see 'archiver review list --all')")
        return int(item_id)
    assert target.item_id is not None
    return target.item_id


def item_review(session: Session, item_id: int) -> dict[str, Any]:
    """An item's review history for ``items show``: its flags and the decisions on it."""
    flags = [flag_json(flag, text) for flag, text in session.execute(
        select(ReviewFlag, ItemVersion.text)
        .join(ItemVersion, and_(ItemVersion.item_id == ReviewFlag.item_id,
                                ItemVersion.seq == ReviewFlag.seq))
        .where(ReviewFlag.item_id == item_id).order_by(ReviewFlag.id))]
    decisions = [decision_json(d) for d in session.scalars(
        select(ReviewDecision).where(ReviewDecision.item_id == item_id)
        .order_by(ReviewDecision.id))]
    return {"flags": flags, "decisions": decisions}

