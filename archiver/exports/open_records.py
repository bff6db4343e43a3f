"""The open-records package: a ZIP holding one valid BagIt bag (RFC 8493) for one request.

Layout of the bag's payload (``data/``)::

    items/<item id>/record.json     the native record: every version with its record as parsed
    items/<item id>/media/<sha256>.<ext>   media files the archive holds
    threads/<post item id>.html     the whole thread, readable; .pdf the same pages
    index.csv, index.html           every item; table of contents
    request.json                    the request, the scope, who exported it and when, counts
    redactions.csv                  every redaction with its rule and exemption

File names come from item ids only. Threads are read and written one at a time, straight into
the ZIP (:mod:`archiver.exports.bagzip`), so memory and temporary disk stay flat.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.errors import ArchiverError
from archiver.exports.authenticity import authenticity_certificate
from archiver.exports.bagzip import CHECKSUMS, BagZip, check_bag_zip, validate_with_bagit
from archiver.exports.cells import SafeCsvWriter
from archiver.exports.natives import iso, media_files, native_record
from archiver.exports.package import ExportResult, ProgressCallback, finish_export
from archiver.exports.reading import PackageHeader, request_header, thread_title
from archiver.exports.redaction import NO_REDACTION, Redaction, Redactor
from archiver.exports.render_html import HtmlRenderer
from archiver.exports.render_pdf import render_thread_pdf
from archiver.exports.requests import get_request, record_scope
from archiver.exports.selection import (
    Scope,
    StoredMedia,
    ThreadView,
    iter_threads,
    resolve_item_ids,
    threads_of,
)
from archiver.exports.zipout import check_output, pending_file, safe_name
from archiver.pdf.writer import DocumentInfo, document_info
from archiver.store.archive import Archive
from archiver.store.checkpoints import checkpoint_bag_info, latest_checkpoint
from archiver.store.vocabulary import ExportKind

# Times are exact UTC (ISO 8601), as in the JSON records; the HTML and PDF show local times.
INDEX_FIELDS = ("item_id", "thread_id", "platform", "account", "kind", "author", "published",
                "captured", "status", "url", "version_record_sha256", "record")
REDACTION_FIELDS = ("item_id", "version", "field", "rule", "exemption", "count")


@dataclass
class OpenRecordsOptions:
    """Everything the package needs besides the archive and the scope."""

    request_id: str
    out: Path
    actor: str
    redactor: Redactor = field(default_factory=lambda: NO_REDACTION)
    force: bool = False
    pdf: bool = True
    organization: str | None = None
    # Full validation with bagit-python (the reference implementation) before delivery.
    validate: bool = True


@dataclass
class _Counts:
    items: int = 0
    threads: int = 0
    redactions: int = 0
    pages: int = 0


def export_open_records(archive: Archive, scope: Scope, options: OpenRecordsOptions,
                        progress: ProgressCallback | None = None) -> ExportResult:
    """Write the package for ``options.request_id`` covering the whole threads of ``scope``."""
    out = options.out
    check_output(out, options.force)
    with archive.sessions() as s:
        request = get_request(s, options.request_id)
        request_info = {"request_id": request.request_id, "requester": request.requester,
                        "description": request.description,
                        "received_on": request.received_on.isoformat(),
                        "due_on": request.due_on.isoformat(), "status": request.status}
    matched = resolve_item_ids(archive, scope)
    if not matched:
        raise ArchiverError("nothing matched the request's scope: refusing to write an empty "
                            "package")
    roots = threads_of(archive, matched)
    now = archive.clock()
    counts = _Counts()
    item_ids: list[int] = []
    tz = archive.settings.tz
    header = request_header(request_info, scope, matched=len(matched), exported_at=now,
                            actor=options.actor, tz=tz, redacted=options.redactor.active)
    renderer = HtmlRenderer.create(tz)
    about = document_info(archive, f"Social media records of open-records request "
                          f"{options.request_id}", agency=options.organization, at=now)
    root = safe_name(f"open-records-{options.request_id}")
    with pending_file(out) as temp:
        bag = BagZip(temp, root, CHECKSUMS)
        try:
            # index.csv and redactions.csv are spooled to disk: they grow with the package.
            # Thread titles too, for the table of contents.
            with _spool() as index_fh, _spool() as red_fh, _spool() as titles_fh:
                titles = csv.writer(titles_fh)
                # Every cell is guarded: authors, URLs and exemptions are typed by people.
                index_csv = SafeCsvWriter(index_fh)
                index_csv.writerow(INDEX_FIELDS)
                red_csv = SafeCsvWriter(red_fh)
                red_csv.writerow(REDACTION_FIELDS)
                for thread in iter_threads(archive, roots, set(matched), options.redactor):
                    log: list[Redaction] = list(thread.redactions)
                    _write_thread(archive, bag, thread, options, renderer, header, log,
                                  index_csv, counts, about)
                    titles.writerow([thread.root_id, thread_title(thread)])
                    item_ids.extend(i.item_id for i in thread.items)
                    for r in log:
                        red_csv.writerow([r.item_id, r.version or "", r.field, r.rule,
                                          r.exemption, r.count])
                    counts.redactions += sum(r.count for r in log)
                    counts.threads += 1
                    if progress:
                        progress(len(thread.items))
                _add_spooled(bag, "index.csv", index_fh)
                _add_spooled(bag, "redactions.csv", red_fh)
                _write_index_html(bag, index_fh, titles_fh, renderer, header, options, counts)
            request_json = {
                "request": request_info, "scope": scope.describe(),
                "exported_by": options.actor, "exported_at": now.isoformat(),
                "redacted": options.redactor.active,
                "counts": {"matched_items": len(matched), "items": counts.items,
                           "threads": counts.threads, "redactions": counts.redactions,
                           "pdf_pages": counts.pages},
            }
            bag.add("request.json", json.dumps(request_json, indent=2, ensure_ascii=False))
            certificate = authenticity_certificate(
                archive, item_ids, package=f"open-records request {options.request_id}",
                actor=options.actor, now=now, redactor=options.redactor)
            for file_name, data in certificate.files():
                bag.add(file_name, data)
            bag.finish(_bag_info(options, archive, now))
        except BaseException:
            bag.abort()
            raise
        check_bag_zip(temp, root)
        if options.validate:
            validate_with_bagit(temp, root)

        def remember(session: Any, export: Any) -> None:
            req = get_request(session, options.request_id)
            export.request_pk = req.id
            record_scope(session, req, query=scope.query,
                         filters=scope.describe()["filters"], item_ids=item_ids, now=now)

        export_id, sha, size = finish_export(
            archive, temp=temp, out=out, force=options.force, kind=ExportKind.OPEN_RECORDS,
            actor=options.actor,
            details={"request_id": options.request_id, "scope": scope.describe(),
                     "items": counts.items, "threads": counts.threads,
                     "redactions": counts.redactions},
            row={"query": scope.query, "filters": scope.describe(),
                 "hold_name": scope.hold, "item_count": counts.items,
                 "redactions": counts.redactions},
            extra=remember,
        )
    return ExportResult(export_id=export_id, kind=ExportKind.OPEN_RECORDS, path=out, sha256=sha,
                        size=size, items=counts.items, threads=counts.threads,
                        redactions=counts.redactions, pages=counts.pages)


def _spool() -> Any:
    return tempfile.TemporaryFile("w+", encoding="utf-8", newline="")


def _add_spooled(bag: BagZip, name: str, fh: Any) -> None:
    fh.flush()
    fh.seek(0)
    bag.add_stream(name, fh.buffer)
    fh.seek(0)


def _write_thread(archive: Archive, bag: BagZip, thread: ThreadView,
                  options: OpenRecordsOptions, renderer: HtmlRenderer, header: PackageHeader,
                  log: list[Redaction], index_csv: Any, counts: _Counts,
                  about: DocumentInfo) -> None:
    bag.add(f"threads/{thread.root_id}.html",
            renderer.thread(thread, header=header, media_href=_media_href))
    if options.pdf:
        pdf = io.BytesIO()
        counts.pages += render_thread_pdf(pdf, thread, header, archive.settings.tz,
                                          archive.store, about=about)
        bag.add(f"threads/{thread.root_id}.pdf", pdf.getvalue())
    for item in thread.items:
        folder = f"items/{item.item_id}"
        bag.add(f"{folder}/record.json", native_record(item, archive.store, options.redactor, log))
        for media in media_files(item, archive.store):
            with archive.store.open(media.sha256) as src:
                bag.add_stream(media_path(item.item_id, media), src)
        current = item.current
        index_csv.writerow([
            item.item_id, thread.root_id, item.platform, item.account, item.kind,
            current.author, iso(current.created_at) or "",
            iso(item.first_captured_at), item.status, current.url, current.sha256,
            f"{folder}/record.json",
        ])
        counts.items += 1


def media_path(item_id: int, media: StoredMedia) -> str:
    """Where a media file of an item lies in the bag's payload."""
    return f"items/{item_id}/media/{media.name}"


def _media_href(item_id: int, media: StoredMedia) -> str:
    return "../" + media_path(item_id, media)  # from threads/<id>.html


def _write_index_html(bag: BagZip, index_fh: Any, titles_fh: Any, renderer: HtmlRenderer,
                      header: PackageHeader, options: OpenRecordsOptions,
                      counts: _Counts) -> None:
    has_pdf = options.pdf and counts.threads > 0

    def threads() -> Any:
        titles_fh.seek(0)
        for root, title in csv.reader(titles_fh):
            yield {"title": title, "html": f"threads/{root}.html",
                   "pdf": f"threads/{root}.pdf" if has_pdf else None}

    def rows() -> Any:
        # Read back from the spooled index.csv so the table of contents streams too.
        index_fh.seek(0)
        for row in csv.DictReader(index_fh):
            yield {
                "item_id": row["item_id"], "kind": row["kind"], "author": row["author"],
                "published": datetime.fromisoformat(row["published"])
                if row["published"] else None,
                "status": row["status"],
                "thread_html": f"threads/{row['thread_id']}.html",
                "thread_pdf": f"threads/{row['thread_id']}.pdf" if has_pdf else None,
                "record": row["record"],
            }

    with _spool() as fh:
        renderer.write_index(fh, header=header, threads=threads(), rows=rows(),
                             item_count=counts.items, thread_count=counts.threads)
        _add_spooled(bag, "index.html", fh)


def _bag_info(options: OpenRecordsOptions, archive: Archive, now: Any) -> dict[str, str]:
    with archive.sessions() as s:
        latest = latest_checkpoint(s)
    return {
        "Source-Organization": options.organization or "Records custodian",
        "External-Identifier": options.request_id,
        "External-Description": f"Open-records request {options.request_id}: social media "
                                f"records exported by archiver",
        "Bagging-Date": now.astimezone(archive.settings.tz).date().isoformat(),
        "Contact-Name": options.actor,
        **checkpoint_bag_info(latest),
    }
