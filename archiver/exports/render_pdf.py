"""PDF renderings of threads and items (the drawing is shared: :mod:`archiver.pdf.writer`).

Each opens with the package's header and legend (:mod:`archiver.exports.reading`), as the HTML
does; times are in the agency's zone, and a removal's proof is drawn under the removed version.

Each media file a version showed is named with its sha256 (the file itself is in the package);
an image is drawn under it when the archive holds its bytes and ReportLab can read them.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from reportlab.lib.utils import ImageReader

from archiver.blobs.interface import BlobStore
from archiver.connectors.records import ItemStatus
from archiver.dates import show_moment
from archiver.errors import BlobNotFound
from archiver.exports.reading import (
    FILE_HASH,
    PROOF_HASH,
    VERSION_HASH,
    PackageHeader,
    Proof,
    item_title,
    removal_proof,
    thread_title,
)
from archiver.exports.selection import ItemView, StoredMedia, ThreadView
from archiver.pdf.writer import BODY_SIZE, BOLD, MARGIN, META_SIZE, DocumentInfo, Page, new_canvas

INDENT = 18.0
# Larger images are listed, not drawn: decoding one costs memory in proportion to its pixels.
MAX_IMAGE_BYTES = 20 * 1024**2
MAX_IMAGE_PIXELS = 25_000_000
MAX_IMAGE_HEIGHT = 216.0  # three inches


class _Images:
    """Readable images by sha256, each read once per document (None: not drawable)."""

    def __init__(self, store: BlobStore | None) -> None:
        self.store = store
        self.read: dict[str, ImageReader | None] = {}

    def get(self, media: StoredMedia) -> ImageReader | None:
        if media.sha256 not in self.read:
            self.read[media.sha256] = self._load(media)
        return self.read[media.sha256]

    def _load(self, media: StoredMedia) -> ImageReader | None:
        if (self.store is None or not media.is_image or media.size is None
                or media.size > MAX_IMAGE_BYTES):
            return None
        try:
            data = self.store.get(media.sha256)
        except BlobNotFound:
            return None
        try:
            reader = ImageReader(io.BytesIO(data))
            width, height = reader.getSize()
            if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
                return None
            reader.getRGBData()  # decode now: a broken file must fail here, not mid-page
        except Exception:  # the bytes came from the internet; any decoder failure means "list it"
            return None
        return reader


def _flags(item: ItemView, tz: ZoneInfo) -> str:
    flags = []
    if item.status == ItemStatus.REMOVED:
        flags.append(f"REMOVED (detected {show_moment(item.removed_detected_at, tz)})")
    if item.status == ItemStatus.HIDDEN:
        flags.append("HIDDEN")
    elif item.ever_hidden:
        flags.append(f"HIDDEN earlier (from {show_moment(item.first_hidden_at, tz)})")
    if item.edited:
        flags.append(f"EDITED ({len(item.versions)} versions)")
    return "  ".join(flags)


def _draw_media(page: Page, media: StoredMedia, images: _Images, indent: float) -> None:
    size = f" · {media.size} bytes" if media.size is not None else ""
    page.lines(f"media file {media.name} · {media.media_type or 'unknown type'}{size} · "
               f"{FILE_HASH} {media.sha256}", size=META_SIZE, indent=indent)
    image = images.get(media)
    if image is None:
        return
    width, height = image.getSize()
    # Natural size at 72 dpi, shrunk to fit the text column and three inches of height.
    scale = min(1.0, (page.width - 2 * MARGIN - indent) / width, MAX_IMAGE_HEIGHT / height)
    page.image(image, width * scale, height * scale, indent=indent)


def _draw_proof(page: Page, proof: Proof, indent: float) -> None:
    page.lines(f"Proof of removal: the platform was asked {proof.asked_at}. Its answer:",
               font=BOLD, size=META_SIZE + 0.5, indent=indent)
    page.lines(proof.answer, size=META_SIZE, indent=indent + 6)
    page.lines(f"{PROOF_HASH} {proof.sha256}", size=META_SIZE, indent=indent + 6)


def _draw_item(page: Page, item: ItemView, indent: float, images: _Images,
               tz: ZoneInfo) -> None:
    def when(moment: datetime | None) -> str:
        return show_moment(moment, tz)

    header = f"{item.kind} {item.item_id} by {item.current.author or '(unknown)'}"
    page.lines(header, font=BOLD, size=BODY_SIZE + 1, indent=indent)
    flags = _flags(item, tz)
    if flags:
        page.lines(flags, font=BOLD, size=META_SIZE + 0.5, indent=indent)
    page.lines(
        f"{item.platform} · {item.account} · id {item.external_id} · published "
        f"{when(item.current.created_at)} · first captured {when(item.first_captured_at)} · "
        f"last seen {when(item.last_seen_at)} · source {item.current.url or '(none)'}",
        size=META_SIZE, indent=indent,
    )
    for v in item.versions:
        status = v.status + (f" ({v.platform_status})" if v.platform_status else "")
        page.lines(f"version {v.seq} · captured {when(v.captured_at)} · status {status} · "
                   f"{VERSION_HASH} {v.sha256}", size=META_SIZE, indent=indent + 6)
        proof = removal_proof(v, tz)
        if proof is not None:
            _draw_proof(page, proof, indent + 6)
        page.lines(v.text or "", indent=indent + 6)
        for m in v.media:
            page.lines(f"media: {m.get('media_type') or ''} {m.get('url') or ''}",
                       size=META_SIZE, indent=indent + 6)
        for media in v.media_files:
            _draw_media(page, media, images, indent + 6)
    page.gap(BODY_SIZE)


def _draw_header(page: Page, title: str, header: PackageHeader) -> None:
    page.lines(header.title, size=BODY_SIZE)
    page.lines(title, font=BOLD, size=BODY_SIZE + 3)
    page.gap(BODY_SIZE / 2)
    for fact in header.facts:
        page.lines(f"{fact.label}: {fact.value}", size=BODY_SIZE)
    page.gap(BODY_SIZE / 2)
    page.lines("What the marks mean", font=BOLD, size=META_SIZE + 0.5)
    for fact in header.legend:
        page.lines(f"{fact.label}: {fact.value}", size=META_SIZE)
    page.gap(BODY_SIZE)


def _render(target: Path | BinaryIO, title: str, header: PackageHeader, items: list[ItemView],
            footer: str, store: BlobStore | None, tz: ZoneInfo, about: DocumentInfo) -> int:
    canvas = new_canvas(str(target) if isinstance(target, Path) else target,
                        f"{title} — {header.title}", about)
    images = _Images(store)
    page = Page(canvas, footer)
    page.start()
    _draw_header(page, title, header)
    base_depth = min((i.depth for i in items), default=0)
    for item in items:
        _draw_item(page, item, INDENT * min(item.depth - base_depth, 3), images, tz)
    page.finish()
    return page.pages


def render_thread_pdf(target: Path | BinaryIO, thread: ThreadView, header: PackageHeader,
                      tz: ZoneInfo, store: BlobStore | None = None, *,
                      about: DocumentInfo) -> int:
    """Write the thread's PDF to ``target`` (a path or a binary stream) under the package's
    ``header``, times in ``tz``; returns the page count. Images are drawn from ``store``
    (without one, media files are only listed); ``about`` says who made the PDF and when
    (:func:`archiver.pdf.writer.document_info`)."""
    return _render(target, thread_title(thread), header, thread.items, header.title, store, tz,
                   about)


def render_item_pdf(target: Path | BinaryIO, item: ItemView, header: PackageHeader,
                    label: str, tz: ZoneInfo, store: BlobStore | None = None, *,
                    about: DocumentInfo) -> int:
    """Write one item's PDF (a production image, ``label`` its Bates number in the footer) to
    ``target`` under ``header``; returns the page count."""
    return _render(target, f"{label} — {item_title(item)}", header, [item], label, store, tz,
                   about)
