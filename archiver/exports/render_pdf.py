"""PDF renderings of threads and items (the drawing is shared: :mod:`archiver.pdf`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archiver.exports.selection import ItemView, ThreadView
from archiver.pdf import BODY_SIZE, BOLD, META_SIZE, Page, new_canvas

INDENT = 18.0


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "(unknown)"


def _flags(item: ItemView) -> str:
    flags = []
    if item.status == "removed":
        flags.append(f"REMOVED (detected {_when(item.removed_detected_at)})")
    if item.status == "hidden":
        flags.append("HIDDEN")
    elif item.ever_hidden:
        flags.append(f"HIDDEN earlier (from {_when(item.first_hidden_at)})")
    if item.edited:
        flags.append(f"EDITED ({len(item.versions)} versions)")
    return "  ".join(flags)


def _draw_item(page: Page, item: ItemView, indent: float) -> None:
    header = f"{item.kind} {item.item_id} by {item.current.author or '(unknown)'}"
    page.lines(header, font=BOLD, size=BODY_SIZE + 1, indent=indent)
    flags = _flags(item)
    if flags:
        page.lines(flags, font=BOLD, size=META_SIZE + 0.5, indent=indent)
    page.lines(
        f"{item.platform} · {item.account} · id {item.external_id} · published "
        f"{_when(item.current.created_at)} · first captured {_when(item.first_captured_at)} · "
        f"last seen {_when(item.last_seen_at)} · source {item.current.url or '(none)'}",
        size=META_SIZE, indent=indent,
    )
    for v in item.versions:
        status = v.status + (f" ({v.platform_status})" if v.platform_status else "")
        page.lines(f"version {v.seq} · captured {_when(v.captured_at)} · status {status} · "
                   f"sha256 {v.sha256}", size=META_SIZE, indent=indent + 6)
        page.lines(v.text or "", indent=indent + 6)
        for m in v.media:
            page.lines(f"media: {m.get('media_type') or ''} {m.get('url') or ''}",
                       size=META_SIZE, indent=indent + 6)
    page.gap(BODY_SIZE)


def _render(target: Path | BinaryIO, title: str, items: list[ItemView], footer: str) -> int:
    canvas = new_canvas(str(target) if isinstance(target, Path) else target, title)
    page = Page(canvas, footer)
    page.start()
    page.lines(title, font=BOLD, size=BODY_SIZE + 3)
    page.gap(BODY_SIZE)
    base_depth = min((i.depth for i in items), default=0)
    for item in items:
        _draw_item(page, item, INDENT * min(item.depth - base_depth, 3))
    canvas.showPage()
    canvas.save()
    return page.pages


def render_thread_pdf(target: Path | BinaryIO, thread: ThreadView, heading: str) -> int:
    """Write the thread's PDF to ``target`` (a path or a binary stream); returns the page count."""
    return _render(target, f"Thread {thread.root_id} — {heading}", thread.items, heading)


def render_item_pdf(target: Path | BinaryIO, item: ItemView, label: str) -> int:
    """Write one item's PDF (a production image) to ``target``; returns the page count."""
    return _render(target, f"{label} — item {item.item_id}", [item], label)
