"""Which items an export covers, and reading them thread by thread.

An export is scoped by a search query (with filters), explicit item ids, or a legal hold; it
always covers whole threads (a post with every comment and reply), because a comment is only
readable in its thread and a production's families are threads. Threads are loaded one at a
time so memory stays flat however many items are exported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from archiver.blobs.interface import BlobStore
from archiver.connectors.records import ROOT_SCOPE
from archiver.errors import ArchiverError, BlobNotFound, NotFound
from archiver.exports.redaction import NO_REDACTION, Redaction, Redactor
from archiver.search.interface import SearchFilters
from archiver.store.archive import Archive
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit, ids_within
from archiver.store.models import MEDIA_STORED, Account, Item, ItemVersion, MediaFile, VersionMedia

CHUNK = 500


@dataclass(frozen=True)
class Scope:
    """What was asked for: a query with filters, explicit items, or a hold; only ever items of
    the accounts ``within`` allows (the account limit of whoever asked)."""

    query: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    item_ids: tuple[int, ...] = ()
    hold: str | None = None
    within: AccountLimit = EVERY_ACCOUNT

    def describe(self) -> dict[str, Any]:
        """The scope as JSON for request.json, the export row and the audit log."""
        filters = {k: (v.isoformat() if isinstance(v, datetime) else v)
                   for k, v in vars(self.filters).items() if v is not None}
        described: dict[str, Any] = {"query": self.query, "filters": filters,
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
class VersionView:
    """One captured version; every platform string already redacted when redaction is on."""

    seq: int
    captured_at: datetime
    capture_run_id: int | None
    status: str
    platform_status: str | None
    text: str | None
    author: str | None
    created_at: datetime | None
    updated_at: datetime | None
    url: str | None
    media: list[dict[str, Any]]
    raw_sha256: str | None
    evidence_sha256: str | None
    sha256: str
    prev_sha256: str | None
    # The media of ``media`` the archive downloaded, in the order they were first seen.
    media_files: tuple[StoredMedia, ...] = ()
    # The proof of a removal as stored (the platform's answer), parsed and redacted like the
    # text; None when the version has none.
    evidence: Any = None


@dataclass(frozen=True)
class ItemView:
    """One item of a thread with its whole history, oldest version first."""

    item_id: int
    account_id: int
    account: str
    platform: str
    external_id: str
    kind: str
    status: str
    parent_id: int | None
    depth: int
    matched: bool
    first_captured_at: datetime
    last_seen_at: datetime
    removed_detected_at: datetime | None
    versions: list[VersionView]

    @property
    def current(self) -> VersionView:
        return self.versions[-1]

    @property
    def edited(self) -> bool:
        return len({v.text for v in self.versions}) > 1

    @property
    def ever_hidden(self) -> bool:
        return any(v.status == "hidden" for v in self.versions)

    @property
    def first_hidden_at(self) -> datetime | None:
        return next((v.captured_at for v in self.versions if v.status == "hidden"), None)


@dataclass(frozen=True)
class ThreadView:
    """A post (or an orphan item) and everything under it, in reading order."""

    root_id: int
    items: list[ItemView]
    redactions: list[Redaction]


def resolve_item_ids(archive: Archive, scope: Scope) -> list[int]:
    """The item ids the scope names directly (before whole threads are added), within its
    account limit. A thread never spans accounts, so whole threads stay within it too."""
    found = _named_item_ids(archive, scope)
    with archive.sessions() as s:
        return ids_within(s, found, scope.within)


def _named_item_ids(archive: Archive, scope: Scope) -> list[int]:
    if scope.hold is not None:
        return _hold_items(archive, scope.hold)
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
    results = archive.index.search(scope.query, scope.filters, limit=max(bound, 1))
    return sorted({hit.item_id for hit in results.hits})


def _hold_items(archive: Archive, name: str) -> list[int]:
    from archiver.store.models import Hold, HoldItem

    with archive.sessions() as s:
        hold = s.scalar(select(Hold).where(Hold.name == name))
        if hold is None:
            raise NotFound(f"no hold named {name!r}")
        return sorted(s.scalars(select(HoldItem.item_id).where(HoldItem.hold_id == hold.id)))


def thread_roots(archive: Archive, item_ids: Sequence[int]) -> list[int]:
    """The distinct thread heads of ``item_ids``, oldest first (by item id)."""
    roots: set[int] = set()
    with archive.sessions() as s:
        for start in range(0, len(item_ids), CHUNK):
            chunk = item_ids[start : start + CHUNK]
            rows = s.execute(select(Item.id, Item.account_id, Item.scope)
                             .where(Item.id.in_(chunk))).all()
            wanted: dict[tuple[int, str], list[int]] = defaultdict(list)
            for item_id, account_id, scope in rows:
                if scope == ROOT_SCOPE:
                    roots.add(item_id)
                else:
                    wanted[(account_id, scope)].append(item_id)
            if wanted:
                conditions = [and_(Item.account_id == a, Item.external_id == e)
                              for a, e in wanted]
                heads = {(a, e): i for i, a, e in s.execute(
                    select(Item.id, Item.account_id, Item.external_id).where(or_(*conditions)))}
                for key, members in wanted.items():
                    if key in heads:
                        roots.add(heads[key])
                    else:
                        roots.update(members)
    return sorted(roots)


# Threads are read as plain rows, not ORM objects: building and tracking an ORM object per item
# and version cost more than the rest of reading a thread.
_ITEM_COLUMNS = (Item.id, Item.account_id, Item.external_id, Item.kind, Item.status, Item.scope,
                 Item.parent_id, Item.first_captured_at, Item.last_seen_at,
                 Item.removed_detected_at)
_VERSION_COLUMNS = (ItemVersion.id, ItemVersion.item_id, ItemVersion.seq, ItemVersion.captured_at,
                    ItemVersion.capture_run_id, ItemVersion.status, ItemVersion.platform_status,
                    ItemVersion.text, ItemVersion.author_name, ItemVersion.created_at,
                    ItemVersion.updated_at, ItemVersion.url, ItemVersion.media_json,
                    ItemVersion.raw_sha256, ItemVersion.evidence_sha256, ItemVersion.sha256,
                    ItemVersion.prev_sha256)


def iter_threads(archive: Archive, roots: Iterable[int], matched: set[int] | None = None,
                 redactor: Redactor = NO_REDACTION) -> Iterator[ThreadView]:
    """Each thread, loaded and redacted one at a time (with the proof of every removal)."""
    accounts: dict[int, Account] = {}
    with archive.sessions() as s:
        for account in s.scalars(select(Account)):
            accounts[account.id] = account
            s.expunge(account)
    with archive.sessions() as s:
        for root_id in roots:
            yield load_thread(s, root_id, accounts, matched or set(), redactor, archive.store)


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
                redactor: Redactor, store: BlobStore) -> ThreadView:
    """One thread in reading order: the post, then comments by time, each followed by replies,
    with the proof of each removal read from ``store`` (a handful of small blobs)."""
    root = s.execute(select(*_ITEM_COLUMNS).where(Item.id == root_id)).first()
    if root is None:
        raise NotFound(f"no item with id {root_id}")
    members: list[Any] = [root]
    if root.scope == ROOT_SCOPE:
        members += s.execute(select(*_ITEM_COLUMNS).where(
            Item.account_id == root.account_id, Item.scope == root.external_id,
            Item.id != root.id)).all()
    ids = [m.id for m in members]
    history: dict[int, list[Any]] = defaultdict(list)
    for v in s.execute(select(*_VERSION_COLUMNS).where(ItemVersion.item_id.in_(ids))
                       .order_by(ItemVersion.item_id, ItemVersion.seq)):
        history[v.item_id].append(v)
    stored = _stored_media(s, [v.id for versions in history.values() for v in versions])
    log: list[Redaction] = []
    ordered = _reading_order(root, members, history)
    proofs = {v.evidence_sha256: read_json_blob(store, v.evidence_sha256)
              for versions in history.values() for v in versions
              if v.evidence_sha256 is not None}
    items = [_item_view(item, depth, history[item.id], accounts[item.account_id],
                        item.id in matched, redactor, log, stored, proofs)
             for item, depth in ordered if history[item.id]]
    return ThreadView(root_id=root_id, items=items, redactions=log)


def _stored_media(s: Session, version_ids: Sequence[int]) -> dict[int, list[StoredMedia]]:
    """The downloaded media of each version (downloads are linked in ``version_media``)."""
    found: dict[int, list[StoredMedia]] = defaultdict(list)
    for start in range(0, len(version_ids), CHUNK):
        chunk = version_ids[start : start + CHUNK]
        for version_id, sha, kind, size in s.execute(
                select(VersionMedia.version_id, MediaFile.sha256, MediaFile.media_type,
                       MediaFile.size)
                .join(MediaFile, MediaFile.id == VersionMedia.media_file_id)
                .where(VersionMedia.version_id.in_(chunk), MediaFile.status == MEDIA_STORED,
                       MediaFile.sha256.is_not(None))
                .order_by(VersionMedia.version_id, MediaFile.id)):
            if sha is not None:  # never None here (the query says so); this tells the type
                found[version_id].append(StoredMedia(sha256=sha, media_type=kind, size=size))
    return found


def _reading_order(root: Any, members: list[Any],
                   history: dict[int, list[Any]]) -> list[tuple[Any, int]]:
    children: dict[int, list[Any]] = defaultdict(list)
    ids = {m.id for m in members}
    for m in members:
        if m.id != root.id:
            parent = m.parent_id if m.parent_id in ids else root.id
            children[parent].append(m)

    def when(item: Any) -> tuple[str, int]:
        versions = history.get(item.id) or []
        created = versions[-1].created_at if versions else None
        return (created.isoformat() if created else "", item.id)

    out: list[tuple[Any, int]] = []
    stack: list[tuple[Any, int]] = [(root, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if item.id in seen:
            continue
        seen.add(item.id)
        out.append((item, depth))
        for child in sorted(children.get(item.id, []), key=when, reverse=True):
            stack.append((child, depth + 1))
    return out


def _item_view(item: Any, depth: int, versions: list[Any], account: Account,
               matched: bool, redactor: Redactor, log: list[Redaction],
               stored: dict[int, list[StoredMedia]], proofs: dict[str, Any]) -> ItemView:
    return ItemView(
        item_id=item.id, account_id=item.account_id,
        account=redactor.metadata(item.id, None, "account", account.handle, log) or "",
        platform=account.platform,
        external_id=redactor.metadata(item.id, None, "external_id", item.external_id,
                                      log) or "",
        kind=item.kind,
        status=item.status, parent_id=item.parent_id, depth=depth, matched=matched,
        first_captured_at=item.first_captured_at, last_seen_at=item.last_seen_at,
        removed_detected_at=item.removed_detected_at,
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
        raw_sha256=v.raw_sha256,
        evidence_sha256=v.evidence_sha256, sha256=v.sha256, prev_sha256=v.prev_sha256,
        media_files=() if redactor.withholds(item_id) else tuple(stored), evidence=evidence,
    )
