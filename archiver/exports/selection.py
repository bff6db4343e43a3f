"""Which items an export covers, and reading them thread by thread.

An export is scoped by a search query (with filters), explicit item ids, or a legal hold; it
always covers whole threads (a post with every comment and reply), because a comment is only
readable in its thread and a production's families are threads. Threads are loaded one at a
time so memory stays flat however many items are exported.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archiver.blobs.interface import BlobStore
from archiver.connectors.records import ROOT_SCOPE, ItemStatus
from archiver.errors import ArchiverError, BlobNotFound, NotFound
from archiver.exports.redaction import NO_REDACTION, Redaction, Redactor
from archiver.search.interface import SearchFilters
from archiver.store.archive import Archive
from archiver.store.item_json import ITEM_COLUMNS, ItemRecord, VersionRecord, item_record
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit, ids_within
from archiver.store.models import Account, Item, ItemVersion, MediaFile, VersionMedia
from archiver.store.threads import in_threads, thread_key, thread_roots
from archiver.store.vocabulary import MediaStatus

CHUNK = 500


@dataclass(frozen=True)
class Scope:
    """What was asked for: a query with filters, explicit items, or a hold; only ever items of
    the accounts ``within`` allows (the account limit of whoever asked)."""

    query: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    item_ids: tuple[int, ...] = ()
    hold: str | None = None
    # The reader's account limit: the export covers nothing outside it.
    within: AccountLimit = EVERY_ACCOUNT

    def describe(self) -> dict[str, Any]:
        """The scope as JSON for request.json, the export row and the audit log."""
        described: dict[str, Any] = {"query": self.query, "filters": self.filters.as_json(),
                                     "item_ids": list(self.item_ids), "hold": self.hold}
        if self.within.account_ids is not None:
            described["within_accounts"] = sorted(self.within.account_ids)
        return described


# Media types a browser shows in <img> and the PDF writer may try to draw; anything else (video,
# unknown bytes) is listed by name and hash only.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/bmp": ".bmp", "image/heic": ".heic", "image/tiff": ".tif", "video/mp4": ".mp4",
    "video/quicktime": ".mov", "video/webm": ".webm", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "application/pdf": ".pdf",
}


@dataclass(frozen=True)
class StoredMedia:
    """A media file a version showed whose bytes the archive holds (downloaded, ``stored``).

    Its file name in a package is its sha256 and an extension from a fixed table of media
    types: never anything taken from the URL or other platform text.
    """

    sha256: str
    media_type: str | None
    size: int | None

    @property
    def name(self) -> str:
        return self.sha256 + _EXTENSIONS.get(self.media_type or "", ".bin")

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES


@dataclass(frozen=True)
class VersionView(VersionRecord):
    """One captured version; every platform string already redacted when redaction is on."""

    # The media of ``media`` the archive downloaded, in the order they were first seen.
    media_files: tuple[StoredMedia, ...] = ()
    # The proof of a removal as stored (the platform's answer), parsed and redacted like the
    # text; None when the version has none.
    evidence: Any = None


@dataclass(frozen=True)
class ItemView(ItemRecord):
    """One item of a thread with its whole history, oldest version first; its account and
    external id redacted like its versions."""

    depth: int
    matched: bool
    versions: list[VersionView]

    @property
    def current(self) -> VersionView:
        return self.versions[-1]

    @property
    def edited(self) -> bool:
        return len({v.text for v in self.versions}) > 1

    @property
    def ever_hidden(self) -> bool:
        return any(v.status == ItemStatus.HIDDEN for v in self.versions)

    @property
    def first_hidden_at(self) -> datetime | None:
        return next((v.captured_at for v in self.versions if v.status == ItemStatus.HIDDEN), None)


@dataclass(frozen=True)
class ThreadView:
    """A post and everything said on it, in reading order (headed, while the archive lacks the
    post, by the first item captured of it: :mod:`archiver.store.threads`)."""

    root_id: int
    items: list[ItemView]
    redactions: list[Redaction]
    # A window of a long thread (ThreadWindow): ``items`` are the head, then the thread's items
    # from reading position ``start``; ``total`` counts the whole thread. None: all of it.
    start: int = 0
    total: int | None = None

    @property
    def count(self) -> int:
        """How many items the whole thread holds."""
        return len(self.items) if self.total is None else self.total

    @property
    def shown_until(self) -> int:
        """The reading position after the last item shown."""
        return self.start + len(self.items) - (1 if self.start else 0)


@dataclass(frozen=True)
class ThreadWindow:
    """Part of a long thread, so a reader's page does not load thousands of comments: ``size``
    items in reading order from position ``start``, or, without ``start``, the part holding
    item ``around``. The head (the post) always comes first."""

    size: int
    start: int | None = None
    around: int | None = None


def resolve_item_ids(archive: Archive, scope: Scope) -> list[int]:
    """The item ids the scope names directly (before whole threads are added), within its
    account limit. A thread never spans accounts, so whole threads stay within it too."""
    found = _named_item_ids(archive, scope)
    with archive.sessions() as s:
        return ids_within(s, found, scope.within)


def _named_item_ids(archive: Archive, scope: Scope) -> list[int]:
    within = scope.within
    if scope.hold is not None:
        return _hold_items(archive, scope.hold, within)
    if scope.item_ids:
        with archive.sessions() as s:
            found = set(ids_within(s, list(scope.item_ids), scope.within))
        # An item outside the limit is answered like an item that does not exist.
        missing = [i for i in scope.item_ids if i not in found]
        if missing:
            raise NotFound(f"no item with id {', '.join(map(str, missing))}")
        return sorted(found)
    if scope.query is None:
        raise ArchiverError("give a query, item ids or a hold to say what to export")
    # One search for every hit: each search re-evaluates the query and its filters over the
    # whole index, so paging through the hits costs a full search per page. The archive's item
    # count bounds the hits.
    with archive.sessions() as s:
        bound = s.scalar(select(func.count()).select_from(Item)) or 0
    filters = scope.filters
    if not within.unlimited:
        filters = replace(filters, account_ids=within.narrowed(filters.account_ids))
    results = archive.index.search(scope.query, filters, limit=max(bound, 1))
    return sorted({hit.item_id for hit in results.hits})


def _hold_items(archive: Archive, name: str, within: AccountLimit) -> list[int]:
    from archiver.store.models import Hold, HoldItem

    with archive.sessions() as s:
        hold = s.scalar(select(Hold).where(Hold.name == name))
        if hold is None:
            raise NotFound(f"no hold named {name!r}")
        return sorted(s.scalars(select(HoldItem.item_id)
                                .join(Item, Item.id == HoldItem.item_id)
                                .where(HoldItem.hold_id == hold.id,
                                       within.clause(Item.account_id))))


def threads_of(archive: Archive, item_ids: Sequence[int]) -> list[int]:
    """The distinct items heading the threads of ``item_ids`` (:mod:`archiver.store.threads`),
    oldest first (by item id). A thread lies in one account, so the heads of items a reader
    may see are ones they may see too."""
    with archive.sessions() as s:
        return sorted(set(thread_roots(s, item_ids).values()))


# Threads are read as plain rows, not ORM objects: building and tracking an ORM object per item
# and version cost more than the rest of reading a thread.
# Both column sets start with how an item hangs in its thread, so that the reading order reads
# those four by position: a row's attribute lookup costs ten times its index.
_LINK_COLUMNS = (Item.id, Item.external_id, Item.parent_external_id, Item.parent_id)
_ITEM_COLUMNS = (*_LINK_COLUMNS, *(c for c in ITEM_COLUMNS
                                   if c.key not in {k.key for k in _LINK_COLUMNS}))
# What a thread's reading order needs of each item.
_ORDER_COLUMNS = (*_LINK_COLUMNS, Item.account_id, Item.scope)
_VERSION_COLUMNS = (ItemVersion.id, ItemVersion.item_id, ItemVersion.seq, ItemVersion.captured_at,
                    ItemVersion.capture_run_id, ItemVersion.status, ItemVersion.platform_status,
                    ItemVersion.text, ItemVersion.author_name, ItemVersion.created_at,
                    ItemVersion.updated_at, ItemVersion.url, ItemVersion.media_json,
                    ItemVersion.record_sha256, ItemVersion.evidence_sha256, ItemVersion.sha256,
                    ItemVersion.prev_sha256, ItemVersion.secrets_scrubbed)


def iter_threads(archive: Archive, roots: Iterable[int], matched: set[int] | None = None,
                 redactor: Redactor = NO_REDACTION, *,
                 within: AccountLimit = EVERY_ACCOUNT,
                 window: ThreadWindow | None = None) -> Iterator[ThreadView]:
    """Each thread, loaded and redacted one at a time (with the proof of every removal), whole
    or the ``window`` of it. A root outside the reader's account limit ``within`` is not
    found."""
    accounts: dict[int, Account] = {}
    with archive.sessions() as s:
        for account in s.scalars(select(Account)):
            if within.allows(account.id):
                accounts[account.id] = account
                s.expunge(account)
    with archive.sessions() as s:
        for root_id in roots:
            yield load_thread(s, root_id, accounts, matched or set(), redactor, archive.store,
                              window)


def read_json_blob(store: BlobStore, sha: str | None) -> Any:
    """The JSON blob ``sha`` parsed (None for None); a blob the store lacks is named, not fatal,
    so an export still shows everything else and says what is missing."""
    if sha is None:
        return None
    try:
        return json.loads(store.get(sha))
    except BlobNotFound:
        return {"missing_blob": sha}


def load_thread(s: Session, root_id: int, accounts: dict[int, Account], matched: set[int],
                redactor: Redactor, store: BlobStore,
                window: ThreadWindow | None = None) -> ThreadView:
    """One thread in reading order: the post, then comments by time, each followed by replies,
    with the proof of each removal read from ``store`` (a handful of small blobs). With a
    ``window``, only its items' versions, media and proofs are read."""
    root = s.execute(select(*_ITEM_COLUMNS).where(Item.id == root_id)).first()
    if root is None or root.account_id not in accounts:  # ``accounts``: those one may read
        raise NotFound(f"no item with id {root_id}")
    key = thread_key(root.account_id, root.external_id, root.scope)
    in_thread = (in_threads(key.account_id, [key.post]), Item.id != root.id)
    history: dict[int, list[Any]] = defaultdict(list)
    if window is None:
        members: list[Any] = [root, *s.execute(select(*_ITEM_COLUMNS).where(*in_thread))]
        history.update(_versions(s, [m.id for m in members]))
        by_time = sorted(history, key=lambda i: (_seconds(history[i][-1].created_at), i))
    else:
        # Reading order needs only how items hang together and the order of their newest
        # publication times, which the database sorts; whole rows are read for the window's
        # items alone.
        # (The root heads its thread, so the thread's condition holds for it too.)
        linked = s.execute(
            select(*_ORDER_COLUMNS, ItemVersion.item_id)
            .outerjoin(ItemVersion, and_(ItemVersion.item_id == Item.id,
                                         ItemVersion.seq == Item.current_seq))
            .where(in_thread[0])
            .order_by(ItemVersion.created_at.asc().nulls_first(), Item.id)).all()
        members = [root, *(row for row in linked if row[0] != root.id)]
        by_time = [row[0] for row in linked if row[-1] is not None]
    rank = {item_id: n for n, item_id in enumerate(by_time)}
    ordered = [(m, depth) for m, depth in _reading_order(root, members, rank)
               if m[0] in rank]
    start = 0
    if window is not None:
        ordered, start = _windowed(ordered, window)
        wanted = [m.id for m, _ in ordered]
        rows = {root.id: root}
        for at in range(0, len(wanted), CHUNK):
            rows.update((r.id, r) for r in s.execute(
                select(*_ITEM_COLUMNS).where(Item.id.in_(wanted[at:at + CHUNK]))))
        ordered = [(rows[m.id], depth) for m, depth in ordered]
        history.update(_versions(s, wanted))
    stored = _stored_media(s, [v.id for versions in history.values() for v in versions])
    log: list[Redaction] = []
    proofs = {v.evidence_sha256: read_json_blob(store, v.evidence_sha256)
              for versions in history.values() for v in versions
              if v.evidence_sha256 is not None}
    items = [_item_view(item, root_id, depth, history[item.id], accounts[item.account_id],
                        item.id in matched, redactor, log, stored, proofs)
             for item, depth in ordered]
    return ThreadView(root_id=root_id, items=items, redactions=log, start=start,
                      total=None if window is None else len(rank))


def _versions(s: Session, item_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Every version of each item, oldest first."""
    history: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(item_ids), CHUNK):
        for v in s.execute(select(*_VERSION_COLUMNS)
                           .where(ItemVersion.item_id.in_(item_ids[start:start + CHUNK]))
                           .order_by(ItemVersion.item_id, ItemVersion.seq)):
            history[v.item_id].append(v)
    return history


def _windowed(ordered: list[tuple[Any, int]],
              window: ThreadWindow) -> tuple[list[tuple[Any, int]], int]:
    """The head, then ``window.size`` items from the window's start (by default, the page
    holding ``window.around``), and that start. Rows start with ``_LINK_COLUMNS``."""
    size = max(1, window.size)
    start = window.start
    if start is None:
        at = next((n for n, (m, _) in enumerate(ordered) if m[0] == window.around), 0)
        start = (at // size) * size
    start = max(0, min(start, max(0, len(ordered) - 1)))
    part = ordered[start:start + size]
    return (ordered[:1] + part if start and ordered else part), start


def _stored_media(s: Session, version_ids: Sequence[int]) -> dict[int, list[StoredMedia]]:
    """The downloaded media of each version (downloads are linked in ``version_media``)."""
    found: dict[int, list[StoredMedia]] = defaultdict(list)
    for start in range(0, len(version_ids), CHUNK):
        chunk = version_ids[start : start + CHUNK]
        for version_id, sha, kind, size in s.execute(
                select(VersionMedia.version_id, MediaFile.sha256, MediaFile.media_type,
                       MediaFile.size)
                .join(MediaFile, MediaFile.id == VersionMedia.media_file_id)
                .where(VersionMedia.version_id.in_(chunk), MediaFile.status == MediaStatus.STORED,
                       MediaFile.sha256.is_not(None))
                .order_by(VersionMedia.version_id, MediaFile.id)):
            if sha is not None:  # never None here (the query says so); this tells the type
                found[version_id].append(StoredMedia(sha256=sha, media_type=kind, size=size))
    return found


def _seconds(moment: datetime | None) -> float:
    if moment is None:
        return -math.inf
    if moment.tzinfo is None:  # stored times are UTC; never the machine's local time
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _reading_order(root: Any, members: list[Any],
                   rank: dict[int, int]) -> list[tuple[Any, int]]:
    """Each member with its depth: the post, then each comment by time followed by its replies.

    A parent is found by its external id too: an item stored before its parent keeps no
    ``parent_id``. Items whose parent the thread lacks hang under the post, or, in a thread
    whose post the archive lacks, stand at the top (depth 0) with the item heading it.
    ``members`` are rows starting with ``_LINK_COLUMNS``; ``rank`` is each item's place by
    newest publication time (unknown times first)."""
    root_id = root.id
    by_external = {m[1]: m[0] for m in members}
    ids = set(by_external.values())
    has_post = root.scope == ROOT_SCOPE
    row_of = {m[0]: m for m in members}

    def key(item_id: int) -> tuple[int, int]:
        return rank.get(item_id, -1), item_id

    children: dict[int | None, list[tuple[tuple[int, int], int]]] = defaultdict(list)
    for item_id, _, parent_external_id, parent_id, *_ in members:
        if has_post and item_id == root_id:
            continue
        parent = by_external.get(parent_external_id or "", parent_id)
        if parent not in ids or parent == item_id:
            parent = root_id if has_post else None
        children[parent].append((key(item_id), item_id))

    out: list[tuple[Any, int]] = []
    tops = [(key(root_id), root_id)] if has_post else children[None]
    stack: list[tuple[int, int]] = [(item_id, 0) for _, item_id in sorted(tops, reverse=True)]
    seen: set[int] = set()
    while stack:
        item_id, depth = stack.pop()
        if item_id in seen:
            continue
        seen.add(item_id)
        out.append((row_of[item_id], depth))
        below = children.get(item_id)
        if below:
            stack += [(child, depth + 1) for _, child in sorted(below, reverse=True)]
    # Parents naming each other (never so on a platform) would hide both: show them at the top.
    out += [(row_of[item_id], 0) for item_id in sorted(
        (i for i in row_of if i not in seen), key=key)]
    return out


def _item_view(item: Any, thread_id: int, depth: int, versions: list[Any], account: Account,
               matched: bool, redactor: Redactor, log: list[Redaction],
               stored: dict[int, list[StoredMedia]], proofs: dict[str, Any]) -> ItemView:
    record = vars(item_record(item, account, thread_id))
    record.update(
        account=redactor.metadata(item.id, None, "account", account.handle, log) or "",
        external_id=redactor.metadata(item.id, None, "external_id", item.external_id,
                                      log) or "")
    return ItemView(
        **record, depth=depth, matched=matched,
        versions=[_version_view(item.id, v, redactor, log, stored.get(v.id, []),
                                proofs.get(v.evidence_sha256 or ""))
                  for v in versions],
    )


def _version_view(item_id: int, v: Any, redactor: Redactor, log: list[Redaction],
                  stored: list[StoredMedia], evidence: Any) -> VersionView:
    # Every string the platform gave is redacted here, once, so each rendering (HTML, PDF,
    # index.csv, the native record) shows the same redacted values and proof.
    def meta(name: str, value: str | None) -> str | None:
        return redactor.metadata(item_id, v.seq, name, value, log)

    media = json.loads(v.media_json)
    if redactor.active and evidence is not None:
        evidence = redactor.payload(item_id, v.seq, evidence, log, "evidence")
    return VersionView(
        seq=v.seq, captured_at=v.captured_at, capture_run_id=v.capture_run_id, status=v.status,
        platform_status=meta("platform_status", v.platform_status),
        text=redactor.text(item_id, v.seq, "text", v.text, log),
        author=meta("author", v.author_name), created_at=v.created_at,
        updated_at=v.updated_at, url=meta("url", v.url),
        media=redactor.payload(item_id, v.seq, media, log, "media") if redactor.active else media,
        record_sha256=v.record_sha256,
        evidence_sha256=v.evidence_sha256, sha256=v.sha256, prev_sha256=v.prev_sha256,
        secrets_scrubbed=v.secrets_scrubbed or 0,
        media_files=() if redactor.withholds(item_id) else tuple(stored), evidence=evidence,
    )
