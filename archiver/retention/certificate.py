"""The destruction certificate (JSON and PDF) and the report's PDF for the records manager.

The certificate JSON is canonical, so its sha256 is stable; that hash goes into the audit log
with the ``retention.purge.completed`` event. The PDF lists every disposed item up to
:data:`PDF_ITEM_LIMIT` lines (then refers to the JSON, named by its hash), so it stays printable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from archiver.canonical import canonical_json

if TYPE_CHECKING:
    from archiver.pdf import DocumentInfo

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
    first_items: list[dict[str, Any]] = field(default_factory=list)


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
                           items: Iterable[dict[str, Any]]) -> CertificateJson:
    """Write the canonical JSON of ``head`` plus ``"items"``, taking the items one at a time.

    The bytes are exactly ``certificate_bytes({**head, "items": list(items)})``: keys in sorted
    order, each value in canonical JSON, the list written chunk by chunk. So the certificate of
    100k items never exists whole in memory, as Python values or as bytes. Keeps the first
    :data:`PDF_ITEM_LIMIT` + 1 items, all :func:`certificate_pdf` prints.
    """
    if "items" in head:
        raise ValueError("the certificate head must not hold the items")
    out = _Hashing(target)
    first: list[dict[str, Any]] = []
    out.write(b"{")
    for n, key in enumerate(sorted([*head, "items"])):
        out.write(b"," if n else b"")
        out.write(canonical_json(key) + b":")
        if key != "items":
            out.write(canonical_json(head[key]))
            continue
        out.write(b"[")
        chunk: list[dict[str, Any]] = []
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


def _write_items(out: _Hashing, chunk: list[dict[str, Any]], written: int) -> int:
    """Append ``chunk`` to a JSON list being written; clears it; the new count written."""
    if chunk:
        # One encoder call per chunk: a canonical list is its canonical items joined by ",".
        text = canonical_json(chunk)[1:-1]
        out.write(b"," + text if written else text)
    written += len(chunk)
    chunk.clear()
    return written


def _pdf(title: str, lines: Iterable[str], signature: bool, about: DocumentInfo) -> bytes:
    from archiver.pdf import text_pdf

    return text_pdf(title, lines, signature=signature, about=about)


def certificate_pdf(certificate: dict[str, Any], json_sha256: str, *,
                    about: DocumentInfo) -> bytes:
    """A printable destruction certificate. ``certificate["items"]`` may hold just the first
    items (see :func:`write_certificate_json`): the count of the rest comes from ``item_count``.
    ``about`` says who made the PDF and when (:func:`archiver.pdf.document_info`)."""
    lines = [
        f"Disposition {certificate['disposition_id']}, as of {certificate['as_of']}",
        f"Approved by {certificate['approved_by']} at {certificate['approved_at']}",
        f"Completed at {certificate['completed_at']}",
        f"Schedule {certificate['schedule']} (sha256 {certificate['schedule_sha256']})",
        f"Items destroyed: {certificate['item_count']}",
        f"Certificate JSON sha256: {json_sha256}", "",
    ]
    for s in certificate["series"]:
        lines.append(f"{s['code']} {s['title']}: {s['count']} items, action {s['action']}; "
                     f"authority: {s['authority']} {s['authority_url'] or ''}")
    blobs = certificate["blobs"]
    lines += ["", f"Blobs deleted: {blobs['deleted']}; kept (still used by kept records): "
                  f"{blobs['kept']}; not yet deletable (storage lock): {len(blobs['locked'])}"]
    for entry in blobs["locked"][:50]:
        lines.append(f"  locked {entry['sha256']}: {entry['detail']}")
    if certificate.get("transfer"):
        t = certificate["transfer"]
        lines.append(f"Transfer package (BagIt): {t['path']} ({t['payload_oxum']} octets.streams)")
    lines += ["", "Item  Platform  External id  Series  Published  Disposition date  Tombstone"]
    for n, item in enumerate(certificate["items"]):
        if n >= PDF_ITEM_LIMIT:
            lines.append(f"... {certificate['item_count'] - n} more items: see the certificate "
                         f"JSON (sha256 {json_sha256})")
            break
        lines.append(f"{item['item_id']}  {item['platform']}  {item['external_id']}  "
                     f"{item['series']}  {item['published_at'] or '-'}  "
                     f"{item['disposition_date']}  {item['tombstone_sha256'][:16]}")
    return _pdf("Certificate of records destruction", lines, True, about)


def report_lines(report: dict[str, Any]) -> list[str]:
    """The lines of the disposition report's PDF (``report`` is ``RetentionReport.as_json()``)."""
    lines = [f"As of {report['as_of']}; schedule {report['schedule']} "
             f"(sha256 {report['schedule_sha256']})",
             f"Eligible for disposition: {report['eligible']} items"]
    for b in report.get("blocked_by_requests", []):
        lines.append(f"Disposition blocked: {b['reason']}")
    lines.append("")
    for s in report["series"]:
        lines.append(f"{s['code']} {s['title']}: {s['count']} items ({s['action']}); published "
                     f"{s['oldest_published']} to {s['newest_published']}; authority "
                     f"{s['authority']} {s['authority_url'] or ''}")
    lines.append("")
    for h in report["held_back_by_hold"]:
        lines.append(f"Held back by hold {h['hold']} (matter {h['matter']}): {h['items']} items")
    lines.append(f"Held back by open records requests: {report['held_back_by_requests']} items")
    for u in report["held_back_unconfirmed"]:
        lines.append(f"Held back, series {u['series']}: {u['items']} items: {u['reason']}")
    lines.append(json.dumps({"items_without_series": report["without_series"]}))
    return lines


def report_pdf(report: dict[str, Any], *, about: DocumentInfo) -> bytes:
    """The disposition report, for the records manager's signature before purging."""
    return _pdf("Records disposition report", report_lines(report), True, about)
