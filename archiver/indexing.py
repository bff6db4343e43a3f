"""Keeping the search index in step with the database.

The database is the record; the index is derived from it and can always be rebuilt. Each item
remembers the version last indexed (``indexed_seq``), so an index update that a crash cut short is
simply done again by the next capture or by ``archiver index rebuild``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session

from archiver.archive import Archive
from archiver.models import Account, Item, ItemVersion
from archiver.search_index import IndexDoc
from connectors.records import ROOT_SCOPE

# Items per index commit. A Whoosh commit costs about one block write per distinct term, so
# small commits pay for the common words again and again: 500 items per commit indexed 10k
# items at 632/s, 5,000 at 1,453/s. Each commit also leaves a segment that every search visits
# (Whoosh merges only tiny ones): 100k items at 5,000 or 20,000 per commit indexed alike
# (1,482 and 1,492/s) into 20 or 5 segments, for 66 MB more at the peak; 50,000 outgrew the
# writer's memory pool and ran at 846/s.
CHUNK = 20_000


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def build_docs(session: Session, item_ids: Sequence[int]) -> list[IndexDoc]:
    """The index documents for ``item_ids`` (current text plus every earlier version's text).

    Plain rows rather than ORM objects, and one query per kind of row, whatever the number of
    threads: this runs for every item capture stores.
    """
    items = session.execute(
        select(Item.id, Item.account_id, Item.external_id, Item.kind, Item.status, Item.scope,
               Item.parent_id)
        .where(Item.id.in_(item_ids), Item.disposed_at.is_(None))  # destroyed: never indexed
    ).all()
    if not items:
        return []
    versions: dict[int, list[Row[Any]]] = defaultdict(list)
    for v in session.execute(
        select(ItemVersion.item_id, ItemVersion.text, ItemVersion.author_name,
               ItemVersion.created_at, ItemVersion.captured_at)
        .where(ItemVersion.item_id.in_(item_ids)).order_by(ItemVersion.item_id, ItemVersion.seq)
    ):
        versions[v.item_id].append(v)
    accounts = {a.id: (a.platform, a.handle)
                for a in session.execute(select(Account.id, Account.platform, Account.handle))}
    roots = _thread_roots(session, items)
    docs = []
    for item in items:
        history = versions.get(item.id)
        if not history:
            continue
        current = history[-1]
        # Only what the current text no longer says: indexing the current text twice would
        # double the index's size and write time for the common single-version item.
        texts = list(dict.fromkeys(
            v.text for v in history[:-1] if v.text and v.text != current.text
        ))
        platform, handle = accounts[item.account_id]
        docs.append(
            IndexDoc(
                item_id=item.id,
                account_id=item.account_id,
                platform=platform,
                account=handle,
                external_id=item.external_id,
                kind=item.kind,
                status=item.status,
                author=current.author_name,
                text=current.text,
                history_text="\n".join(texts),
                created_at=current.created_at,
                first_captured_at=history[0].captured_at,
                last_captured_at=current.captured_at,
                parent_id=item.parent_id,
                thread_id=roots.get(item.id, item.id),
            )
        )
    return docs


def _thread_roots(session: Session, items: Iterable[Row[Any]]) -> dict[int, int]:
    """item id -> the id of the post that heads its thread (its scope)."""
    by_scope: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        if item.scope != ROOT_SCOPE:
            by_scope[item.account_id][item.scope].append(item.id)
    roots: dict[int, int] = {}
    for account_id, scopes in by_scope.items():
        found = dict(session.execute(
            select(Item.external_id, Item.id)
            .where(Item.account_id == account_id, Item.external_id.in_(list(scopes)))
        ).all())
        for scope, ids in scopes.items():
            for item_id in ids:
                roots[item_id] = found.get(scope, item_id)
    return roots


def index_items(
    archive: Archive, *, item_ids: Sequence[int] | None = None, account_id: int | None = None
) -> int:
    """Index the given items, or every item whose newest version is not yet indexed."""
    with archive.sessions() as s:
        if item_ids is None:
            query = select(Item.id).where(
                or_(Item.indexed_seq.is_(None), Item.indexed_seq != Item.current_seq)
            )
            if account_id is not None:
                query = query.where(Item.account_id == account_id)
            item_ids = list(s.scalars(query.order_by(Item.id)))
    if not item_ids:
        return 0
    total = 0
    for chunk in _chunks(list(item_ids)):
        with archive.transaction() as s:
            docs = build_docs(s, chunk)
            archive.index.add(docs)
            s.execute(
                update(Item).where(Item.id.in_([d.item_id for d in docs]))
                .values(indexed_seq=Item.current_seq)
            )
        total += len(docs)
    return total


def rebuild_index(archive: Archive) -> int:
    """Empty the index and index every item again from the database."""
    archive.index.clear()
    with archive.transaction() as s:
        s.execute(update(Item).values(indexed_seq=None))
    return index_items(archive)
