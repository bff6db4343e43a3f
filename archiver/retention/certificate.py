"""The destruction certificate (JSON and PDF) and the report's PDF for the records manager.

The certificate JSON is canonical, so its sha256 is stable; that hash goes into the audit log
with the ``retention.purge.completed`` event. The PDF lists every disposed item up to
:data:`PDF_ITEM_LIMIT` lines (then refers to the JSON, named by its hash), so it stays printable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select

from archiver.retention.schedule import DispositionAction
from archiver.store.archive import Archive
from archiver.store.canonical import canonical_json
from archiver.store.checkpoints import checkpoint_lines
from archiver.store.item_json import CERTIFICATE_KEYS, ITEM_COLUMNS, ItemJson, item_record
from archiver.store.models import Account, Item, Tombstone
from archiver.store.threads import roots_of, thread_key
from archiver.wording import counted

if TYPE_CHECKING:
    from archiver.pdf.writer import DocumentInfo

PDF_ITEM_LIMIT = 5000
_CHUNK = 1000  # certificate items encoded per call


def certificate_bytes(certificate: dict[str, Any]) -> bytes:
    """Canonical JSON of the certificate (what is hashed and stored)."""
    return canonical_json(certificate)


@dataclass(frozen=True)
class CertificateJson:
    """What :func:`write_certificate_json` wrote: its hash, its size, and its first items."""

    sha256: str
    size: int
    first_items: list[Mapping[str, Any]] = field(default_factory=list)


class _Hashing:
    """Writes to ``target`` and hashes and counts what passes."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)


def write_certificate_json(target: BinaryIO, head: dict[str, Any],
                           items: Iterable[Mapping[str, Any]]) -> CertificateJson:
    """Write the canonical JSON of ``head`` plus ``"items"``, taking the items one at a time.

    The bytes are exactly ``certificate_bytes({**head, "items": list(items)})``: keys in sorted
    order, each value in canonical JSON, the list written chunk by chunk. So the certificate of
    100k items never exists whole in memory, as Python values or as bytes. Keeps the first
    :data:`PDF_ITEM_LIMIT` + 1 items, all :func:`certificate_pdf` prints.
    """
    if "items" in head:
        raise ValueError("the certificate head must not hold the items")
    out = _Hashing(target)
    first: list[Mapping[str, Any]] = []
    out.write(b"{")
    for n, key in enumerate(sorted([*head, "items"])):
        out.write(b"," if n else b"")
        out.write(canonical_json(key) + b":")
        if key != "items":
            out.write(canonical_json(head[key]))
            continue
        out.write(b"[")
        chunk: list[Mapping[str, Any]] = []
        written = 0
        for item in items:
            if len(first) <= PDF_ITEM_LIMIT:
                first.append(item)
            chunk.append(item)
            if len(chunk) == _CHUNK:
                written = _write_items(out, chunk, written)
        _write_items(out, chunk, written)
        out.write(b"]")
    out.write(b"}")
    return CertificateJson(out.digest.hexdigest(), out.size, first)


def _write_items(out: _Hashing, chunk: list[Mapping[str, Any]], written: int) -> int:
    """Append ``chunk`` to a JSON list being written; clears it; the new count written."""
    if chunk:
        # One encoder call per chunk: a canonical list is its canonical items joined by ",".
        text = canonical_json(chunk)[1:-1]
        out.write(b"," + text if written else text)
    written += len(chunk)
    chunk.clear()
    return written


def certificate_items(archive: Archive, disposition_id: int,
                      batch: int = 5000) -> Iterator[ItemJson]:
    """The certificate's items, by item id: each destroyed item in the one shape
    (:mod:`archiver.store.item_json`), naming it and the series it went under but none of its
    content, with its tombstone's hash and the series' authority as the tombstone sealed them.

    Read a batch at a time (by item id), so 100k items never sit in memory at once."""
    after = 0
    while True:
        with archive.sessions() as s:
            rows = s.execute(
                select(*ITEM_COLUMNS, Account.platform, Account.handle,
                       Tombstone.series_code.label("sealed_series"),
                       Tombstone.published_at.label("sealed_published_at"),
                       Tombstone.disposition_date.label("sealed_disposition_date"),
                       Tombstone.authority, Tombstone.sha256.label("tombstone_sha256"))
                .join(Tombstone, Tombstone.item_id == Item.id)
                .join(Account, Account.id == Item.account_id)
                .where(Tombstone.disposition_id == disposition_id, Item.id > after)
                .order_by(Item.id).limit(batch)).all()
            if not rows:
                return
            roots = roots_of(s, {r.id: thread_key(r.account_id, r.external_id, r.scope)
                                 for r in rows})
        for r in rows:
            record = replace(item_record(r, r, roots[r.id]), series=r.sealed_series,
                             published_at=r.sealed_published_at,
                             disposition_date=r.sealed_disposition_date)
            item = record.to_json(CERTIFICATE_KEYS)
            item["authority"] = r.authority
            item["tombstone_sha256"] = r.tombstone_sha256
            yield item
        after = rows[-1].id


def _pdf(title: str, lines: Iterable[str], signature: bool, about: DocumentInfo) -> bytes:
    from archiver.pdf.writer import text_pdf

    return text_pdf(title, lines, signature=signature, about=about)


def certificate_pdf(certificate: dict[str, Any], json_sha256: str, *,
                    about: DocumentInfo) -> bytes:
    """A printable destruction certificate. ``certificate["items"]`` may hold just the first
    items (see :func:`write_certificate_json`): the count of the rest comes from ``item_count``.
    ``about`` says who made the PDF and when (:func:`archiver.pdf.writer.document_info`)."""
    lines = [
        f"Disposition {certificate['disposition_id']}, as of {certificate['as_of']}",
        f"Approved by {certificate['approved_by']} at {certificate['approved_at']}",
        f"Completed at {certificate['completed_at']}",
        f"Schedule {certificate['schedule']} (sha256 {certificate['schedule_sha256']})",
        f"Items destroyed: {certificate['item_count']}",
        f"Certificate JSON sha256: {json_sha256}", "",
    ]
    for s in certificate["series"]:
        lines.append(f"{s['code']} {s['title']}: {counted(s['count'], 'item')}, action "
                     f"{s['action']}; authority: {s['authority']} {s['authority_url'] or ''}")
    blobs = certificate["blobs"]
    lines += ["", f"Blobs deleted: {blobs['deleted']}; kept (still used by kept records): "
                  f"{blobs['kept']}; not yet deletable (storage lock): {len(blobs['locked'])}"]
    for entry in blobs["locked"][:50]:
        lines.append(f"  locked {entry['sha256']}: {entry['detail']}")
    if certificate.get("transfer"):
        t = certificate["transfer"]
        lines.append(f"Transfer package (BagIt): {t['path']} ({t['payload_oxum']} octets.streams)")
    lines += ["", *checkpoint_lines(certificate.get("checkpoint"))]
    lines += ["", "Item  Platform  External id  Series  Published  Disposition date  Tombstone"]
    for n, item in enumerate(certificate["items"]):
        if n >= PDF_ITEM_LIMIT:
            rest = counted(certificate["item_count"] - n, "more item")
            lines.append(f"... {rest}: see the certificate JSON (sha256 {json_sha256})")
            break
        lines.append(f"{item['item_id']}  {item['platform']}  {item['external_id']}  "
                     f"{item['series']}  {item['published_at'] or '-'}  "
                     f"{item['disposition_date']}  {item['tombstone_sha256'][:16]}")
    return _pdf("Certificate of records destruction", lines, True, about)


# What happens to a series' items, as the report says it.
_ACTIONS = {DispositionAction.DESTROY: "to be destroyed",
            DispositionAction.TRANSFER: "to be transferred"}


def _are(count: int, singular: str = "is", plural: str = "are") -> str:
    """The verb agreeing with ``count`` (``1 item is``, ``2 items are``)."""
    return singular if count == 1 else plural


def report_lines(report: dict[str, Any]) -> list[str]:
    """The disposition report's PDF as sentences (``report`` is ``RetentionReport.as_json()``)."""
    if report["schedule"] is None:
        lines = [f"As of {report['as_of']} no retention schedule is loaded ('archiver init' loads "
                 "the shipped one), so nothing is eligible for disposition."]
    else:
        lines = [f"As of {report['as_of']}, under the retention schedule {report['schedule']} "
                 f"(sha256 {report['schedule_sha256']}):",
                 f"{counted(report['eligible'], 'item')} {_are(report['eligible'])} eligible for "
                 "disposition."]
    for b in report.get("blocked_by_requests", []):
        lines.append(f"Disposition is blocked: {b['reason']}.")
    lines.append("")
    for s in report["series"]:
        action = _ACTIONS.get(s["action"], f"to {s['action']}")
        published = (f"published from {s['oldest_published']} to {s['newest_published']}"
                     if s["oldest_published"] else "publication dates unknown")
        authority = ", ".join(filter(None, (s["authority"], s["authority_url"])))
        lines.append(f"Series {s['code']} ({s['title']}): {counted(s['count'], 'item')} {action}, "
                     f"{published}; authority: {authority}.")
    lines.append("")
    for h in report["held_back_by_hold"]:
        lines.append(f"{counted(h['items'], 'item')} {_are(h['items'])} held back by the legal "
                     f"hold {h['hold']} (matter: {h['matter']}).")
    requested = report["held_back_by_requests"]
    lines.append(f"{counted(requested, 'item')} {_are(requested)} held back by open records "
                 "requests." if requested else
                 "No item is held back by an open records request.")
    for u in report["held_back_unconfirmed"]:
        lines.append(f"{counted(u['items'], 'item')} of series {u['series']} "
                     f"{_are(u['items'])} not disposable: {u['reason']}.")
    unassigned = report["without_series"]
    lines.append(f"{counted(unassigned, 'item')} {_are(unassigned, 'has', 'have')} no record "
                 f"series yet, so {_are(unassigned, 'it is', 'they are')} not eligible for "
                 "disposition." if unassigned else "Every item has a record series.")
    return lines


def report_pdf(report: dict[str, Any], *, about: DocumentInfo) -> bytes:
    """The disposition report, for the records manager's signature before purging."""
    return _pdf("Records disposition report", report_lines(report), True, about)
