"""Keeping the search index in step with the database.

The database is the record; the index is derived from it and can always be rebuilt. Each item
remembers the version last indexed (``indexed_seq``), so an index update that a crash cut short is
simply done again by the next capture or by ``archiver index rebuild``.

The index cannot always be trusted to hold what ``indexed_seq`` says: its folder can be lost or
restored from an older backup, and a crash can cut a batch short anywhere. So the index also
carries a mark (:class:`~archiver.search.interface.IndexMark`): the item version and tombstone row
ids up to which it is known to follow the database. Indexing moves the mark over the versions it
has just indexed; :func:`catch_up_index` (at the start of every capture, and in ``archiver
init``) compares the mark with the database's newest ids, which costs two look-ups when nothing
is behind, and otherwise indexes the items changed since the mark and drops the destroyed ones.
An index with no mark (new, cleared, or another archive's) is compared with the database item by
item (:mod:`archiver.search.index_drift`) and repaired.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.orm import Session

from archiver.connectors.records import ROOT_SCOPE
from archiver.search.index_drift import compare_index
from archiver.search.interface import IndexDoc, IndexMark
from archiver.store.archive import Archive
from archiver.store.models import Account, Item, ItemVersion, Tombstone
from archiver.store.threads import CHUNK as THREAD_CHUNK
from archiver.store.threads import in_threads, roots_of, thread_key

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
    versions: dict[int, list[Row[*tuple[Any, ...]]]] = defaultdict(list)
    for v in session.execute(
        select(ItemVersion.item_id, ItemVersion.seq, ItemVersion.text, ItemVersion.author_name,
               ItemVersion.created_at, ItemVersion.captured_at)
        .where(ItemVersion.item_id.in_(item_ids)).order_by(ItemVersion.item_id, ItemVersion.seq)
    ):
        versions[v.item_id].append(v)
    accounts = {a.id: (a.platform, a.handle)
                for a in session.execute(select(Account.id, Account.platform, Account.handle))}
    roots = roots_of(session, {item.id: thread_key(item.account_id, item.external_id, item.scope)
                               for item in items})
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
                seq=current.seq,
            )
        )
    return docs


def _headed_late(session: Session, item_ids: Sequence[int]) -> list[int]:
    """Items already indexed, outside ``item_ids``, whose post is among ``item_ids`` and indexed
    for the first time: they were indexed under the thread's first item (see
    :mod:`archiver.store.threads`) and now belong under the post."""
    posts: dict[int, list[str]] = defaultdict(list)
    for account_id, external_id in session.execute(
            select(Item.account_id, Item.external_id)
            .where(Item.id.in_(item_ids), Item.scope == ROOT_SCOPE, Item.indexed_seq.is_(None))):
        posts[account_id].append(external_id)
    wanted = set(item_ids)
    late: list[int] = []
    for account_id, names in posts.items():
        for start in range(0, len(names), THREAD_CHUNK):
            late.extend(i for i in session.scalars(select(Item.id).where(
                in_threads(account_id, names[start:start + THREAD_CHUNK]),
                Item.indexed_seq.is_not(None), Item.disposed_at.is_(None)))
                if i not in wanted)
    return late


def index_items(
    archive: Archive,
    *,
    item_ids: Sequence[int] | None = None,
    account_id: int | None = None,
    advance: bool = True,
) -> int:
    """Index the given items, or every item whose newest version is not yet indexed.

    With ``advance`` the index's mark moves over the versions just indexed (see the module).
    """
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
    indexed: dict[int, int] = {}  # item id -> version written, over every chunk of this call
    for chunk in _chunks(list(item_ids)):
        with archive.transaction() as s:
            docs = build_docs(s, [*chunk, *_headed_late(s, chunk)])
            archive.index.add(docs)
            s.execute(
                update(Item).where(Item.id.in_([d.item_id for d in docs]))
                .values(indexed_seq=Item.current_seq)
            )
        total += len(docs)
        if advance and docs:
            indexed.update((d.item_id, d.seq) for d in docs)
            _advance_mark(archive, indexed)
    return total


def _advance_mark(archive: Archive, indexed: dict[int, int]) -> None:
    """Move the mark over the versions after it that ``indexed`` (item id -> the version just
    written to the index) covers, stopping at the first one it does not: a version another
    process stored and has not indexed yet, or one stored after these docs were built."""
    mark = archive.index.mark()
    if mark is None:
        return  # only a comparison with the database sets a first mark
    last = mark.versions
    with archive.sessions() as s:
        rows = s.connection().execute(
            select(ItemVersion.id, ItemVersion.item_id, ItemVersion.seq)
            .where(ItemVersion.id > mark.versions).order_by(ItemVersion.id)
            .execution_options(yield_per=5000))
        for version_id, item_id, seq in rows:
            if indexed.get(item_id, 0) < seq:
                break
            last = version_id
    if last > mark.versions:
        archive.index.set_mark(IndexMark(last, mark.tombstones), expected=mark)


def database_head(session: Session) -> IndexMark:
    """The newest item version and tombstone row ids: the mark of an index fully up to date."""
    return IndexMark(
        versions=int(session.scalar(select(func.max(ItemVersion.id))) or 0),
        tombstones=int(session.scalar(select(func.max(Tombstone.id))) or 0),
    )


@dataclass(frozen=True)
class CatchUp:
    """What :func:`catch_up_index` did: items (re)indexed, items taken out, and whether the
    index was compared with the database item by item."""

    indexed: int = 0
    removed: int = 0
    compared: bool = False


def catch_up_index(
    archive: Archive, *, account_id: int | None = None, compare: bool = False
) -> CatchUp:
    """Bring the index up to date with the database, wherever it fell behind.

    Cheap when nothing is behind: the index's mark equals the database's newest ids. Behind the
    mark (a crash, an interrupted run, concurrent writers): the items with versions stored since
    are indexed again and the items destroyed since are taken out, whatever ``indexed_seq`` says
    (an index restored from a backup is behind what the database believes). No mark, a mark
    from some other database, or ``compare``: item by item comparison and repair. With
    ``account_id``, that account's items not yet indexed are indexed too.
    """
    index = archive.index
    mark = index.mark()
    with archive.sessions() as s:
        head = database_head(s)
    result = CatchUp()
    if compare or mark is None or mark.versions > head.versions or (
            mark.tombstones > head.tombstones):
        result = _repair(archive)
    elif mark != head:
        with archive.sessions() as s:
            changed = list(s.scalars(
                select(ItemVersion.item_id).distinct()
                .where(ItemVersion.id > mark.versions, ItemVersion.id <= head.versions)
                .order_by(ItemVersion.item_id)))
            destroyed = list(s.scalars(select(Tombstone.item_id).where(
                Tombstone.id > mark.tombstones, Tombstone.id <= head.tombstones)))
        result = CatchUp(indexed=index_items(archive, item_ids=changed, advance=False),
                         removed=index.delete(destroyed))
    if mark != head or compare:
        index.set_mark(head, expected=mark)
    if account_id is not None:
        extra = index_items(archive, account_id=account_id)
        result = CatchUp(result.indexed + extra, result.removed, result.compared)
    return result


def _repair(archive: Archive) -> CatchUp:
    """Compare the index with the database and index what it lacks or holds at an older
    version, and take out what it holds but the database no longer does."""
    drift = compare_index(archive)
    redo = sorted(drift.missing + drift.stale)
    if drift.statuses and not (redo or drift.extra):
        # Same items at the same versions, yet other statuses: no way to tell which, so all.
        with archive.sessions() as s:
            redo = list(s.scalars(select(Item.id).where(Item.disposed_at.is_(None))
                                  .order_by(Item.id)))
    indexed = index_items(archive, item_ids=redo, advance=False) if redo else 0
    removed = archive.index.delete(drift.extra) if drift.extra else 0
    return CatchUp(indexed=indexed, removed=removed, compared=True)


def rebuild_index(archive: Archive) -> int:
    """Empty the index and index every item again from the database."""
    with archive.sessions() as s:
        head = database_head(s)
    archive.index.clear()
    with archive.transaction() as s:
        s.execute(update(Item).values(indexed_seq=None))
    total = index_items(archive, advance=False)
    archive.index.set_mark(head, expected=None)
    return total
