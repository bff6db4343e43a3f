"""Which accounts' items a reader may see: every account, or only some (a unit sees its own).

The library's reading calls (search, item detail, threads, exports) take an
:class:`AccountLimit` and apply it themselves, so no caller (a web page, an API endpoint) can
forget it. An item outside the limit is answered exactly like an item that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class AccountLimit:
    """``account_ids`` None: every account; otherwise only these (possibly none)."""

    account_ids: frozenset[int] | None = None

    @classmethod
    def only(cls, account_ids: Iterable[int]) -> AccountLimit:
        return cls(frozenset(account_ids))

    @property
    def unlimited(self) -> bool:
        return self.account_ids is None

    def allows(self, account_id: int | None) -> bool:
        """Whether an item of ``account_id`` may be seen (an unknown account: only unlimited)."""
        if self.account_ids is None:
            return True
        return account_id is not None and account_id in self.account_ids

    def clause(self, column: Any) -> ColumnElement[bool]:
        """A SQL condition on an account id column that keeps only what the limit allows."""
        if self.account_ids is None:
            return true()
        if not self.account_ids:
            return false()
        return column.in_(sorted(self.account_ids))

    def narrowed(self, account_ids: frozenset[int] | None) -> frozenset[int] | None:
        """``account_ids`` (None: any) further narrowed to what this limit allows."""
        if self.account_ids is None:
            return account_ids
        if account_ids is None:
            return self.account_ids
        return account_ids & self.account_ids


EVERY_ACCOUNT = AccountLimit()
_CHUNK = 1000


def ids_within(session: Session, item_ids: Sequence[int], limit: AccountLimit) -> list[int]:
    """Those of ``item_ids`` whose account ``limit`` allows, in the order given."""
    if limit.unlimited:
        return list(item_ids)
    from archiver.store.models import Item

    allowed: set[int] = set()
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start:start + _CHUNK]
        allowed.update(session.scalars(select(Item.id).where(
            Item.id.in_(chunk), limit.clause(Item.account_id))))
    return [i for i in item_ids if i in allowed]
