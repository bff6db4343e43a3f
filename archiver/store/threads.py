"""Threads: which post an item belongs to, and which item heads its thread.

A thread is a post and everything said on it. Every item names its listing in ``scope``: the
account's top level (:data:`ROOT_SCOPE`) for a post, the post's external id for its comments
and for replies to them, on every platform. So an item's thread is known from its own row, by
its :class:`ThreadKey`, even when the post is not in the archive: real-time capture stores a
comment when the platform reports it, possibly before the post, and a reply before its comment
(whose ``parent_id`` then stays empty). The parent chain is not used for this reason.

The item heading a thread (its *root*) is the post when the archive holds it; until then, the
first item captured of the thread (the lowest id), so all comments on a post are one thread
from the start and a thread's root only ever changes once: when its post is captured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from archiver.connectors.records import ROOT_SCOPE
from archiver.store.models import Item

CHUNK = 1000  # ids or names per statement, well under every database's parameter limit


class ThreadKey(NamedTuple):
    """A thread: the account and its post's external id (the post may not be archived)."""

    account_id: int
    post: str


def thread_key(account_id: int, external_id: str, scope: str) -> ThreadKey:
    """The thread of the item with these columns: its own if it is a post, else its post's."""
    return ThreadKey(account_id, external_id if scope == ROOT_SCOPE else scope)


def in_threads(account_id: int, posts: Sequence[str]) -> ColumnElement[bool]:
    """A condition on ``items`` selecting every item of the account's threads ``posts``."""
    # Two index searches (account and scope; account and external id) joined in a subquery:
    # written as one OR, SQLite reads every item of the account and filters.
    return Item.id.in_(
        select(Item.id).where(Item.account_id == account_id, Item.scope.in_(posts))
        .union_all(select(Item.id).where(Item.account_id == account_id,
                                         Item.scope == ROOT_SCOPE,
                                         Item.external_id.in_(posts))))


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def thread_keys(session: Session, item_ids: Iterable[int]) -> dict[int, ThreadKey]:
    """item id -> its thread, for each of ``item_ids`` the archive holds."""
    keys: dict[int, ThreadKey] = {}
    for chunk in _chunks(list(dict.fromkeys(item_ids))):
        for item_id, account_id, external_id, scope in session.execute(
                select(Item.id, Item.account_id, Item.external_id, Item.scope)
                .where(Item.id.in_(chunk))):
            keys[item_id] = thread_key(account_id, external_id, scope)
    return keys


def thread_heads(session: Session, keys: Iterable[ThreadKey]) -> dict[ThreadKey, int]:
    """thread -> the id of the item heading it (see the module), for threads with any item."""
    by_account: dict[int, set[str]] = defaultdict(set)
    for key in keys:
        by_account[key.account_id].add(key.post)
    heads: dict[ThreadKey, int] = {}
    for account_id, posts in by_account.items():
        for part in _chunks(sorted(posts)):
            for external_id, item_id in session.execute(
                    select(Item.external_id, Item.id).where(
                        Item.account_id == account_id, Item.scope == ROOT_SCOPE,
                        Item.external_id.in_(part))):
                heads[ThreadKey(account_id, external_id)] = item_id
            orphans = [p for p in part if ThreadKey(account_id, p) not in heads]
            if orphans:
                for scope, first in session.execute(
                        select(Item.scope, func.min(Item.id))
                        .where(Item.account_id == account_id, Item.scope.in_(orphans))
                        .group_by(Item.scope)):
                    heads[ThreadKey(account_id, scope)] = first
    return heads


def thread_roots(session: Session, item_ids: Iterable[int]) -> dict[int, int]:
    """item id -> the id of the item heading its thread, for each of ``item_ids`` the archive
    holds (a post heads its own). A few statements per thousand threads, whatever the count of
    items."""
    return roots_of(session, thread_keys(session, item_ids))


def roots_of(session: Session, keys: dict[int, ThreadKey]) -> dict[int, int]:
    """item id -> the id of the item heading its thread, for items whose threads are known
    (from rows already read, see :func:`thread_key`)."""
    heads = thread_heads(session, set(keys.values()))
    return {item_id: heads.get(key, item_id) for item_id, key in keys.items()}


def thread_root(session: Session, item_id: int) -> int | None:
    """The id of the item heading ``item_id``'s thread; None if there is no such item."""
    return thread_roots(session, [item_id]).get(item_id)
