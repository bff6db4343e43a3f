"""Disposition in the WARC files: destroyed content leaves the captures too.

After a purge's batches, every stored WARC file of an account that lost items is read and, if it
carries any of them, rewritten as a new blob (the old one is then deleted):

* a record whose items are all destroyed is removed, with the request and metadata records
  made with it;
* a record that also carries surviving items becomes a WARC ``conversion`` record
  (``WARC-Refers-To`` the original) whose JSON body lacks every object whose ``id`` is a
  destroyed item's; if any destroyed text still shows in it, it is removed instead, unless it
  carries a held or requested item (held content is never touched; the audit event says so);
* a media download of a file only destroyed items showed is removed.

Versions keep their link: a converted record's row takes the new record's id, place and digest
and keeps the original's id and digest; a removed record's row keeps both, with no place.

Killed anywhere, the step is finished by running the purge again: the rewritten file is made
the same way byte for byte (a conversion's id and date come from the disposition), a stored but
unrecorded new blob is simply stored again, and a rewrite recorded before its old blob was
deleted (:class:`~archiver.store.models.WarcRewrite` ``rewritten``) is finished first.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from archiver.connectors.exchanges import object_ids
from archiver.errors import BlobLocked, BlobNotFound
from archiver.retention.holds import held_item_ids
from archiver.retention.protection import protected_by_requests
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.db import insert_ignore
from archiver.store.models import (
    Blob,
    Disposition,
    DispositionItem,
    Item,
    ItemVersion,
    MediaFile,
    VersionMedia,
    WarcFile,
    WarcRecord,
    WarcRewrite,
)
from archiver.store.vocabulary import DispositionItemState, WarcRewriteStatus, WarcStatus
from archiver.store.warcs import WARC_MEDIA_TYPE, ReadRecord, WarcOut, read_records, record_id

# A destroyed object's strings worth looking for elsewhere: prose (it has a space) long enough
# not to be a name or a word that any record may hold.
TEXT_MIN = 16
_NAMESPACE = uuid.UUID("6f1c1a4e-7c55-4f0e-9a51-0d1b8f3f2a10")


@dataclass
class WarcPurge:
    """What the purge did to the WARC files (counts only: never the destroyed content)."""

    files_rewritten: int = 0
    records_removed: int = 0
    records_converted: int = 0
    kept_for_protection: int = 0
    old_files_locked: list[dict[str, str | None]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class _Doomed:
    """What one account loses: destroyed ids, ids still protected, media only they showed."""

    destroyed: frozenset[str]
    known: frozenset[str]  # every item id of the account
    protected: frozenset[str]
    media_urls: frozenset[str]


@dataclass
class _Rewrite:
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # old record id -> row values
    removed: int = 0
    converted: int = 0
    kept: int = 0


def purge_warcs(archive: Archive, disposition_id: int,
                step: Callable[[str, int], None]) -> WarcPurge:
    """Take the disposition's destroyed items out of every stored WARC file."""
    result = WarcPurge()
    _finish_rewrites(archive, disposition_id, result)
    with archive.sessions() as s:
        d = s.get(Disposition, disposition_id)
        assert d is not None
        when = d.started_at
        accounts = sorted(set(s.scalars(select(Item.account_id).join(
            DispositionItem, DispositionItem.item_id == Item.id).where(
            DispositionItem.disposition_id == disposition_id,
            DispositionItem.state == DispositionItemState.DESTROYED))))
    for account_id in accounts:
        with archive.sessions() as s:
            doomed = _doomed(s, disposition_id, account_id)
            files = s.execute(select(WarcFile.id, WarcFile.sha256).where(
                WarcFile.account_id == account_id, WarcFile.status == WarcStatus.STORED,
                ~exists().where(WarcRewrite.disposition_id == disposition_id,
                                WarcRewrite.warc_file_id == WarcFile.id))
                .order_by(WarcFile.id)).all()
        for file_id, sha in files:
            if sha is not None:
                _rewrite_file(archive, disposition_id, file_id, sha, doomed, when, result)
                step("warc", file_id)
    with archive.sessions() as s:
        rows = s.scalars(select(WarcRewrite).where(
            WarcRewrite.disposition_id == disposition_id)).all()
        result.files_rewritten = sum(1 for r in rows if r.new_sha256 != r.old_sha256)
        result.records_removed = sum(r.removed for r in rows)
        result.records_converted = sum(r.converted for r in rows)
        result.old_files_locked = [{"sha256": r.old_sha256, "detail": r.detail}
                                   for r in rows if r.detail and "lock" in r.detail]
    return result


def _doomed(s: Session, disposition_id: int, account_id: int) -> _Doomed:
    items = s.execute(select(Item.id, Item.external_id).where(
        Item.account_id == account_id)).all()
    destroyed_ids = set(s.scalars(select(DispositionItem.item_id).join(
        Item, Item.id == DispositionItem.item_id).where(
        DispositionItem.disposition_id == disposition_id, Item.account_id == account_id,
        DispositionItem.state == DispositionItemState.DESTROYED)))
    by_id = {i: ext for i, ext in items}
    survivors = [i for i in by_id if i not in destroyed_ids]
    protected = held_item_ids(s, survivors) | protected_by_requests(s, survivors)
    shown_by_destroyed = select(VersionMedia.media_file_id).join(
        ItemVersion, ItemVersion.id == VersionMedia.version_id).where(
        ItemVersion.item_id.in_(destroyed_ids))
    shown_by_survivors = select(VersionMedia.media_file_id).join(
        ItemVersion, ItemVersion.id == VersionMedia.version_id).where(
        ItemVersion.item_id.in_(survivors))
    media = set(s.scalars(select(MediaFile.url).where(
        MediaFile.id.in_(shown_by_destroyed), MediaFile.id.not_in(shown_by_survivors))))
    return _Doomed(destroyed=frozenset(by_id[i] for i in destroyed_ids),
                   known=frozenset(by_id.values()),
                   protected=frozenset(by_id[i] for i in protected),
                   media_urls=frozenset(media))


def _ids(payload: Any) -> set[str]:
    return set(object_ids(payload))


def _is_doomed(node: Any, destroyed: frozenset[str]) -> bool:
    return isinstance(node, dict) and str(node.get("id")) in destroyed


def _without(node: Any, destroyed: frozenset[str], texts: set[str]) -> Any:
    """``node`` without the objects whose id is destroyed; their prose goes into ``texts``."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if _is_doomed(value, destroyed):
                texts.update(_prose(value))
                continue
            out[key] = _without(value, destroyed, texts)
        return out
    if isinstance(node, list):
        kept = []
        for value in node:
            if _is_doomed(value, destroyed):
                texts.update(_prose(value))
                continue
            kept.append(_without(value, destroyed, texts))
        return kept
    return node


def _prose(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and len(item) >= TEXT_MIN and " " in item:
            found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _surviving_prose(body: Any, doomed: _Doomed) -> set[str]:
    """The prose of the surviving items' objects in ``body`` (destroyed objects left out)."""
    found: set[str] = set()
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = str(node.get("id"))
            if value in doomed.known and value not in doomed.destroyed:
                found |= _prose(_without(node, doomed.destroyed, set()))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _shows(data: bytes, texts: set[str]) -> bool:
    """Does ``data`` hold any of ``texts``, as plain or JSON-escaped UTF-8?"""
    for text in texts:
        for spelling in (text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
            if spelling.encode("utf-8") in data:
                return True
    return False


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def _rewrite_file(archive: Archive, disposition_id: int, file_id: int, sha: str,
                  doomed: _Doomed, when: datetime, result: WarcPurge) -> None:
    data = archive.store.get(sha)
    records = list(read_records(io.BytesIO(data)))
    # First the prose of every destroyed object in the file, less what surviving objects say
    # too (the page's own name is in every post, destroyed or not).
    texts: set[str] = set()
    shared: set[str] = set()
    for record in records:
        body = _json(record.payload) if record.record_type in ("response", "conversion") else None
        if body is not None and _ids(body) & doomed.destroyed:
            _without(body, doomed.destroyed, texts)
            shared |= _surviving_prose(body, doomed)
    texts -= shared
    path = archive.settings.home / "warc-spool" / f"purge-{disposition_id}-{file_id}.warc.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = _Rewrite()
    with path.open("wb") as fh:
        out = WarcOut(fh)
        gone: set[str] = set()
        for record in records:
            _one(out, data, record, doomed, texts, when, disposition_id, plan, gone)
    now = archive.clock()
    if not plan.changes:
        path.unlink(missing_ok=True)
        with archive.transaction() as s:
            insert_ignore(s, WarcRewrite, [{
                "disposition_id": disposition_id, "warc_file_id": file_id, "old_sha256": sha,
                "new_sha256": sha, "removed": 0, "converted": 0,
                "status": WarcRewriteStatus.DONE, "updated_at": now}])
        return
    new_sha, size = archive.store.put_file(path, media_type=WARC_MEDIA_TYPE)
    path.unlink(missing_ok=True)
    with archive.transaction() as s:
        insert_ignore(s, Blob, [{"sha256": new_sha, "size": size,
                                 "media_type": WARC_MEDIA_TYPE, "created_at": now}])
        for old_id, values in plan.changes.items():
            s.execute(update(WarcRecord).where(WarcRecord.warc_file_id == file_id,
                                               WarcRecord.record_id == old_id)
                      .values(**({"removed_at": now} if values.get("file_offset") is None
                                 and "record_type" not in values else {}), **values)
                      .execution_options(synchronize_session=False))
        s.execute(update(WarcFile).where(WarcFile.id == file_id)
                  .values(sha256=new_sha, size=size))
        insert_ignore(s, WarcRewrite, [{
            "disposition_id": disposition_id, "warc_file_id": file_id, "old_sha256": sha,
            "new_sha256": new_sha, "removed": plan.removed, "converted": plan.converted,
            "status": WarcRewriteStatus.REWRITTEN, "updated_at": now}])
        record_event(s, action="retention.purge.warc", occurred_at=now,
                     target_type="warc_file", target_id=file_id,
                     details={"disposition_id": disposition_id, "old_sha256": sha,
                              "new_sha256": new_sha, "records_removed": plan.removed,
                              "records_converted": plan.converted,
                              "kept_for_protection": plan.kept})
    result.kept_for_protection += plan.kept
    _finish_rewrites(archive, disposition_id, result)


def _one(out: WarcOut, data: bytes, record: ReadRecord, doomed: _Doomed, texts: set[str],
         when: datetime, disposition_id: int, plan: _Rewrite, gone: set[str]) -> None:
    """Copy, convert or drop one record into the new file, noting the row changes."""
    name = record.header("WARC-Record-ID") or ""
    member = data[record.offset:record.offset + record.length]
    concurrent = record.header("WARC-Concurrent-To")
    if record.record_type in ("request", "metadata") and concurrent in gone:
        plan.removed += 1
        plan.changes[name] = {"file_offset": None, "length": None}
        return
    verdict, body = _judge(record, doomed, texts)
    if verdict == "keep":
        start = out.out.tell()
        out.out.write(member)
        if start != record.offset:
            plan.changes[name] = {"file_offset": start, "length": record.length}
        return
    if verdict == "drop":
        gone.add(name)
        plan.removed += 1
        plan.changes[name] = {"file_offset": None, "length": None}
        return
    if verdict == "keep-protected":
        plan.kept += 1
    new_name = record_id(uuid.uuid5(_NAMESPACE, f"{name} disposition {disposition_id}"))
    written = out.write(out.record(
        record.header("WARC-Target-URI") or "", "conversion", body, when=when, name=new_name,
        extra={"WARC-Refers-To": name}, content_type="application/json"))
    plan.converted += 1
    plan.changes[name] = {
        "record_id": written.record_id, "record_type": "conversion",
        "file_offset": written.offset, "length": written.length,
        "payload_digest": written.payload_digest, "captured_at": written.captured_at,
        # A record converted before keeps naming the one the platform's answer was first in.
        "original_record_id": func.coalesce(WarcRecord.original_record_id, name),
        "original_payload_digest": func.coalesce(WarcRecord.original_payload_digest,
                                                 record.header("WARC-Payload-Digest"))}


def _judge(record: ReadRecord, doomed: _Doomed, texts: set[str]) -> tuple[str, bytes]:
    """keep | drop | convert | keep-protected (converted though destroyed prose remains,
    because it carries held or requested items), and the converted body."""
    if record.record_type not in ("response", "conversion"):
        return "keep", b""
    if (record.header("WARC-Target-URI") or "") in doomed.media_urls:
        return "drop", b""
    body = _json(record.payload)
    ids = _ids(body) if body is not None else set()
    hit = ids & doomed.destroyed
    others = (ids - doomed.destroyed) & doomed.known
    protected = bool(others & doomed.protected)
    if not hit:
        if texts and _shows(record.payload, texts):
            return ("keep", b"") if protected else ("drop", b"")
        return "keep", b""
    if not others:
        return "drop", b""
    converted = json.dumps(_without(body, doomed.destroyed, set()), ensure_ascii=False,
                           separators=(",", ":")).encode("utf-8")
    if _shows(converted, texts):
        return ("keep-protected", converted) if protected else ("drop", b"")
    return "convert", converted


def _finish_rewrites(archive: Archive, disposition_id: int, result: WarcPurge) -> None:
    """Delete the old file of every rewrite recorded but not finished (none still in use)."""
    with archive.sessions() as s:
        pending = s.execute(select(WarcRewrite.id, WarcRewrite.old_sha256).where(
            WarcRewrite.disposition_id == disposition_id,
            WarcRewrite.status == WarcRewriteStatus.REWRITTEN)).all()
    for rewrite_id, old in pending:
        with archive.sessions() as s:
            in_use = s.scalar(select(exists().where(WarcFile.sha256 == old)))
        detail: str | None = None
        if not in_use:
            try:
                archive.store.delete(old)
            except BlobNotFound:
                detail = "old file already gone"
            except BlobLocked as exc:
                detail = f"old file kept by the store's lock: {exc}"
        with archive.transaction() as s:
            if not in_use and (detail is None or "gone" in detail):
                s.execute(delete(Blob).where(Blob.sha256 == old))
            s.execute(update(WarcRewrite).where(WarcRewrite.id == rewrite_id).values(
                status=WarcRewriteStatus.DONE, detail=detail, updated_at=archive.clock()))


__all__ = ["WarcPurge", "purge_warcs"]
