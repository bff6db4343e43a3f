"""Helpers for the monitoring tests: run the rules on what the sample capture stored, and read
the flags back by the items' external ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archiver.monitoring.flags import FlagOutcome, flag_items
from archiver.store.archive import Archive
from archiver.store.models import Item
from archiver.store.monitoring import ReviewFlag


@dataclass(frozen=True)
class SeenFlag:
    """A flag as a test reads it: the item's external id, the rule and what it matched."""

    flag_id: int
    item_id: int
    external_id: str
    rule: str
    category: str
    audience: str
    seq: int
    matched: str | None
    origin: str


def flag_stored_items(archive: Archive, origin: str = "capture") -> FlagOutcome:
    """:func:`flag_items` on every item the archive holds (as capture would, once stored)."""
    with archive.transaction() as s:
        ids = list(s.scalars(select(Item.id)))
        return flag_items(s, archive, ids, origin=origin)


def item_ids(archive: Archive) -> dict[str, int]:
    """Item ids by external id."""
    with archive.sessions() as s:
        return {ext: item_id for ext, item_id in s.execute(select(Item.external_id, Item.id))}


def seen_flags(archive: Archive) -> list[SeenFlag]:
    """Every flag, oldest first, with the text it matched (from the flagged version)."""
    from archiver.store.models import ItemVersion

    out: list[SeenFlag] = []
    with archive.sessions() as s:
        for flag, external_id, text in s.execute(
                select(ReviewFlag, Item.external_id, ItemVersion.text)
                .join(Item, Item.id == ReviewFlag.item_id)
                .join(ItemVersion, (ItemVersion.item_id == ReviewFlag.item_id)
                      & (ItemVersion.seq == ReviewFlag.seq))
                .order_by(ReviewFlag.id)):
            matched = (text[flag.match_start:flag.match_end]
                       if text is not None and flag.match_start is not None else None)
            out.append(SeenFlag(flag.id, flag.item_id, external_id, flag.rule, flag.category,
                                flag.audience, flag.seq, matched, flag.origin))
    return out


def rules_by_item(archive: Archive) -> dict[str, set[str]]:
    """The rules that flagged each item, by its external id."""
    out: dict[str, set[str]] = {}
    for f in seen_flags(archive):
        out.setdefault(f.external_id, set()).add(f.rule)
    return out


def rule_file(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    """``text`` written to a rule file under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
