"""PDF writing shared by every report the archive prints (ReportLab, drawn on the canvas).

Text is set in DejaVu Sans, regular and bold, whose TrueType files ship with the package in
``archiver/pdf/assets/`` with their licence (``LICENSE-DejaVu.txt``), so no system font and no
other package is needed: Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic and many
symbols. Every font a PDF uses is embedded (a subset of it).

* What is drawn for text the font has no glyph for (Chinese, Japanese, Korean, most emoji: a
  code-point mark such as ``[U+4E2D]`` on the page, the characters themselves in the text layer,
  and a note at the foot of that page), and how Arabic is shaped and right-to-left text
  ordered: :mod:`archiver.pdf.text`.
* What each PDF says about itself (title, agency, archiver, export time, XMP metadata, sRGB
  output intent) and how far it meets PDF/A-2b: :mod:`archiver.pdf.meta`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from archiver.pdf.meta import ASSETS, DocumentInfo, describe, document_info
from archiver.pdf.text import Line, layout

__all__ = ["BODY_SIZE", "BOLD", "MARGIN", "META_SIZE", "REGULAR", "DocumentInfo", "Page",
           "document_info", "new_canvas", "register_fonts", "text_pdf", "wrap"]

REGULAR = "ArchiverDejaVuSans"
BOLD = "ArchiverDejaVuSans-Bold"
MARGIN = 50.0
BODY_SIZE = 9.5
META_SIZE = 7.5
LEADING = 1.3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MARK_NOTE = ("[U+\u2026]: a character the font of this PDF cannot draw, by its code point; "
             "copying the text, or the native JSON, gives the character.")


def register_fonts() -> None:
    """Register the fonts with ReportLab once per process (ReportLab keeps its own registry)."""
    if REGULAR in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(REGULAR, str(ASSETS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(ASSETS / "DejaVuSans-Bold.ttf")))


def new_canvas(target: str | BinaryIO, title: str, about: DocumentInfo) -> Canvas:
    """A Letter canvas whose PDF names ``title`` and what ``about`` says (see
    :mod:`archiver.pdf.meta`); ``invariant``, so the same input at the same time always gives
    the same bytes."""
    register_fonts()
    # The initial font is written into the first page before any text is set: DejaVu rather
    # than ReportLab's default, Helvetica, which would be a font the PDF names but not embeds.
    # PDF 1.7 (ISO 32000-1), the base of PDF/A-2: ReportLab's default header says 1.3, older
    # than the XMP, output intent and ActualText the file carries.
    canvas = Canvas(target, pagesize=LETTER, invariant=1, pageCompression=1, pdfVersion=(1, 7),
                    initialFontName=REGULAR, initialFontSize=BODY_SIZE, lang="en")
    describe(canvas, title, about)
    return canvas


def wrap(text: str, font: str, size: float, width: float) -> Iterator[Line]:
    """The lines of ``text`` no wider than ``width``, as drawn (:func:`archiver.pdf.text.layout`
    for each paragraph; control characters become spaces)."""
    for paragraph in _CONTROL.sub(" ", text).split("\n"):
        yield from layout(paragraph, font, size, width)


def _actual_text(text: str) -> str:
    """``text`` as a PDF text string in UTF-16 (hexadecimal): what a reader copies."""
    whole = "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in text)
    return "<FEFF" + whole.encode("utf-16-be").hex().upper() + ">"


@dataclass
class Page:
    """A canvas with a cursor that starts a new page when the text reaches the bottom."""

    canvas: Canvas
    footer: str
    width: float = LETTER[0]
    height: float = LETTER[1]
    y: float = 0.0
    pages: int = 0
    marked: bool = False  # a code-point mark is on this page: its foot explains them

    def start(self) -> None:
        self.pages += 1
        self.y = self.height - MARGIN
        self.marked = False
        footer = f"{self.footer} · page {self.pages}"
        first = next(wrap(footer, REGULAR, META_SIZE, self.width - 2 * MARGIN))
        self.canvas.setFont(REGULAR, META_SIZE)
        self._draw(first, MARGIN, MARGIN / 2, REGULAR, META_SIZE)

    def lines(self, text: str, *, font: str = REGULAR, size: float = BODY_SIZE,
              indent: float = 0.0) -> None:
        """Set ``text`` wrapped to the page width, onto as many pages as it takes (control
        characters become spaces)."""
        self.canvas.setFont(font, size)
        for line in wrap(text, font, size, self.width - 2 * MARGIN - indent):
            if self.y < MARGIN + size:
                self.new_page()
                self.canvas.setFont(font, size)
            self._draw(line, MARGIN + indent, self.y, font, size)
            self.y -= size * LEADING

    def _draw(self, line: Line, x: float, y: float, font: str, size: float) -> None:
        for segment in line.segments:
            if segment.actual is None:
                self.canvas.drawString(x, y, segment.shown)
            else:
                # A marked-content span: readers copy its ActualText instead of the mark.
                self.canvas.addLiteral(f"/Span <</ActualText {_actual_text(segment.actual)}>> BDC")
                self.canvas.drawString(x, y, segment.shown)
                self.canvas.addLiteral("EMC")
                self.marked = True
            x += pdfmetrics.stringWidth(segment.shown, font, size)

    def gap(self, points: float) -> None:
        self.y -= points

    def image(self, image: ImageReader, width: float, height: float, *,
              indent: float = 0.0) -> None:
        """Draw ``image`` at ``width`` x ``height`` points under the text so far, starting a new
        page when it does not fit on this one."""
        if self.y - height < MARGIN:
            self.new_page()
        self.canvas.drawImage(image, MARGIN + indent, self.y - height, width, height)
        self.y -= height + BODY_SIZE * LEADING

    def _end_page(self) -> None:
        if self.marked:
            self.canvas.setFont(REGULAR, META_SIZE)
            self.canvas.drawString(MARGIN, MARGIN / 2 + META_SIZE * LEADING, MARK_NOTE)
        self.canvas.showPage()

    def new_page(self) -> None:
        """End this page and start the next."""
        self._end_page()
        self.start()

    def finish(self) -> None:
        """End the last page and write the PDF."""
        self._end_page()
        self.canvas.save()


def text_pdf(title: str, lines: Iterable[str], *, about: DocumentInfo,
             signature: bool = False, signature_labels: Sequence[str] = ()) -> bytes:
    """A plain document: a bold title, then lines; optionally signature lines at the end
    (``signature``: the records manager's; ``signature_labels``: these lines instead).
    ``about`` says who made it and when (:func:`document_info`)."""
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, title, about)
    page = Page(canvas, title)
    page.start()
    page.lines(title, font=BOLD, size=BODY_SIZE + 4)
    page.gap(BODY_SIZE)
    for line in lines:
        page.lines(line)
    labels = signature_labels or (("Records manager (name)", "Signature", "Date") if signature
                                  else ())
    if labels:
        page.gap(3 * BODY_SIZE)
        for label in labels:
            page.lines(f"{label}: ________________________________", size=BODY_SIZE + 1)
            page.gap(BODY_SIZE)
    page.finish()
    return buffer.getvalue()
