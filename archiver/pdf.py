"""PDF writing shared by every report the archive prints (ReportLab, drawn on the canvas).

Text is set in DejaVu Sans from the TTF files matplotlib ships in its mpl-data (a PyPI package,
so no system font is needed): Latin, Greek, Cyrillic, Hebrew, Arabic and many symbols. Glyphs it
lacks (CJK, emoji) show as empty boxes; the JSON and HTML that go with every PDF keep the text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from archiver.errors import ArchiverError

REGULAR = "ArchiverDejaVuSans"
BOLD = "ArchiverDejaVuSans-Bold"
MARGIN = 50.0
BODY_SIZE = 9.5
META_SIZE = 7.5
LEADING = 1.3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _font_dir() -> Path:
    try:
        import matplotlib
    except ImportError:
        raise ArchiverError("PDF rendering needs matplotlib (for the DejaVu fonts)") from None
    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"


def register_fonts() -> None:
    """Register the fonts with ReportLab once per process (ReportLab keeps its own registry)."""
    if REGULAR in pdfmetrics.getRegisteredFontNames():
        return
    folder = _font_dir()
    pdfmetrics.registerFont(TTFont(REGULAR, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))


def new_canvas(target: str | BinaryIO, title: str) -> Canvas:
    """A Letter canvas; ``invariant`` so the same input always gives the same bytes."""
    register_fonts()
    canvas = Canvas(target, pagesize=LETTER, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    return canvas


def wrap(text: str, font: str, size: float, width: float) -> Iterator[str]:
    """The lines of ``text`` no wider than ``width``: broken at spaces, and a word wider than a
    line (a long URL, a pasted hash) broken wherever the line is full, so nothing runs off the
    page and no character is lost."""
    for paragraph in _CONTROL.sub(" ", text).split("\n"):
        for line in simpleSplit(paragraph, font, size, width) or [""]:
            if pdfmetrics.stringWidth(line, font, size) <= width:
                yield line
            else:
                yield from _break_long(line, font, size, width)


def _break_long(line: str, font: str, size: float, width: float) -> Iterator[str]:
    widths: dict[str, float] = {}
    start = 0
    used = 0.0
    for i, char in enumerate(line):
        w = widths.get(char)
        if w is None:
            w = widths[char] = pdfmetrics.stringWidth(char, font, size)
        if used + w > width and i > start:
            yield line[start:i]
            start, used = i, 0.0
        used += w
    yield line[start:]


@dataclass
class Page:
    """A canvas with a cursor that starts a new page when the text reaches the bottom."""

    canvas: Canvas
    footer: str
    width: float = LETTER[0]
    height: float = LETTER[1]
    y: float = 0.0
    pages: int = 0

    def start(self) -> None:
        self.pages += 1
        self.y = self.height - MARGIN
        self.canvas.setFont(REGULAR, META_SIZE)
        self.canvas.drawString(MARGIN, MARGIN / 2, f"{self.footer} · page {self.pages}")

    def lines(self, text: str, *, font: str = REGULAR, size: float = BODY_SIZE,
              indent: float = 0.0) -> None:
        """Set ``text`` wrapped to the page width, onto as many pages as it takes (control
        characters become spaces)."""
        self.canvas.setFont(font, size)
        for line in wrap(text, font, size, self.width - 2 * MARGIN - indent):
            if self.y < MARGIN + size:
                self.canvas.showPage()
                self.start()
                self.canvas.setFont(font, size)
            self.canvas.drawString(MARGIN + indent, self.y, line)
            self.y -= size * LEADING

    def gap(self, points: float) -> None:
        self.y -= points

    def image(self, image: ImageReader, width: float, height: float, *,
              indent: float = 0.0) -> None:
        """Draw ``image`` at ``width`` x ``height`` points under the text so far, starting a new
        page when it does not fit on this one."""
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.start()
        self.canvas.drawImage(image, MARGIN + indent, self.y - height, width, height)
        self.y -= height + BODY_SIZE * LEADING


def text_pdf(title: str, lines: Iterable[str], *, signature: bool = False) -> bytes:
    """A plain document: a bold title, then lines; optionally signature lines at the end."""
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, title)
    page = Page(canvas, title)
    page.start()
    page.lines(title, font=BOLD, size=BODY_SIZE + 4)
    page.gap(BODY_SIZE)
    for line in lines:
        page.lines(line)
    if signature:
        page.gap(3 * BODY_SIZE)
        for label in ("Records manager (name)", "Signature", "Date"):
            page.lines(f"{label}: ________________________________", size=BODY_SIZE + 1)
            page.gap(BODY_SIZE)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
