"""What a PDF draws for a piece of text: glyphs checked, Arabic shaped, lines broken and ordered.

ReportLab draws the characters it is given, left to right, one glyph each. So before drawing:

* **Glyph coverage.** Each character is looked up in the font's own cmap. A character the font
  has no glyph for (Chinese, Japanese, Korean, most emoji) would print as an empty box, so it is
  drawn as a mark naming its code points, ``[U+4E2D]`` (an emoji with its modifiers is one mark,
  ``[U+1F44D U+1F3FD]``), and the mark is wrapped in a marked-content span whose ``ActualText``
  is the character itself: the page says where a glyph is missing, while copying the text or
  ``pdftotext`` gives the characters back. The bidirectional formatting characters (RLO and the
  like, which would reorder the text around them) are marked the same way, never obeyed.
* **Arabic shaping.** Arabic letters take a different form at the start, middle and end of a
  word; ReportLab does not apply the font's shaping rules, so ``arabic-reshaper`` substitutes
  the Unicode presentation forms (which DejaVu Sans has), lam-alef ligatures included. A word
  whose shaped forms the font lacks is drawn unshaped rather than with a missing glyph.
* **Bidirectional order.** Lines are broken in reading (logical) order, then each line is put
  in display order by the Unicode bidirectional algorithm (UAX #9), so Arabic and Hebrew read
  right to left inside an otherwise left-to-right page; brackets in right-to-left text are
  mirrored. ``python-bidi``'s pure-Python implementation (``bidi.algorithm``) does this; its
  faster Rust one does not mirror. That implementation predates the rules for isolates (never
  met here: those controls are marked, see above) and for bracket pairs (rule N0), so a
  bracket between a left-to-right and a right-to-left word may sit on the other side of a
  space than a browser would put it. Lines stay left-aligned, keeping the indentation of a
  thread's replies.

Shaped Arabic is drawn as presentation forms in display order, as most PDF writers do: a reader
such as ``pdftotext`` puts it back in reading order, and its letters are the presentation forms,
equal to the original under Unicode NFKC normalisation. The native JSON next to every PDF keeps
the text exactly as captured.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics

# Shown as marks, never obeyed: the explicit directional formatting characters of UAX #9
# (https://www.unicode.org/reports/tr9/#Directional_Formatting_Characters) and the implicit
# marks, which would reorder our own labels on the line around a visitor's text.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")
_ZWJ = "\u200d"
_WORDS = re.compile(r"\S+")
# Where the right-to-left characters (bidi classes R, AL, AN) are; a line without any is drawn
# as it is read (a false alarm only costs a run of the algorithm).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff"
                  "\U0001e800-\U0001efff]")
# Placeholders that stand for marks while a line is put in display order: private-use
# characters (bidi class L), from a plane DejaVu has no glyph in, so never the text's own.
_PLACEHOLDER = 0xF0000
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")


@dataclass(frozen=True)
class Segment:
    """A run of one drawn line, in display order: ``shown`` is drawn; ``actual`` (when not
    None) is what the run stands for, given to readers as the span's ActualText."""

    shown: str
    actual: str | None = None


@dataclass(frozen=True)
class Line:
    """One line as drawn, left to right."""

    segments: tuple[Segment, ...]

    @property
    def marked(self) -> bool:
        """True if a character on the line is shown as a code-point mark."""
        return any(s.actual is not None for s in self.segments)


@dataclass(frozen=True)
class _Piece:
    """A word's part in reading order: text to draw (shaped), or a mark for ``source``."""

    shown: str
    width: float
    source: str | None = None  # set for a mark: the characters it stands for


@lru_cache(maxsize=8)
def _glyphs(font: str) -> frozenset[int]:
    """The code points ``font`` (a registered TrueType font) has a glyph for."""
    face = getattr(pdfmetrics.getFont(font), "face", None)
    if face is None:
        raise ValueError(f"{font} is not a TrueType font: its coverage is unknown")
    return frozenset(code for code, glyph in face.charToGlyph.items() if glyph)


@lru_cache(maxsize=8)
def _reshaper(font: str) -> arabic_reshaper.ArabicReshaper:
    """An Arabic reshaper that uses only the ligatures ``font`` has glyphs for."""
    glyphs = _glyphs(font)
    config: dict[str, bool] = {"delete_harakat": False, "shift_harakat_position": False,
                               "support_ligatures": True}
    for name, (_match, forms) in arabic_reshaper.ligatures.LIGATURES:
        config[name] = all(ord(form) in glyphs for form in forms if form)
    return arabic_reshaper.ArabicReshaper(configuration=config)


def _mark(cluster: str) -> str:
    return "[" + " ".join(f"U+{ord(c):04X}" for c in cluster) + "]"


def _extends(char: str) -> bool:
    """True if ``char`` belongs to the character before it (combining mark, joiner, variation
    selector, emoji modifier or tag)."""
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Me") or char == _ZWJ
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F)


def _pieces(word: str, font: str, size: float) -> list[_Piece]:
    """``word`` as drawable runs and marks, in reading order."""
    glyphs = _glyphs(font)
    if glyphs.issuperset(map(ord, word)) and _BIDI_CONTROLS.isdisjoint(word):
        return [_text_piece(word, font, size)]
    pieces: list[_Piece] = []
    run: list[str] = []
    i = 0
    while i < len(word):
        char = word[i]
        if ord(char) in glyphs and char not in _BIDI_CONTROLS:
            run.append(char)
            i += 1
            continue
        if run:
            pieces.append(_text_piece("".join(run), font, size))
            run = []
        j = i + 1
        while j < len(word) and (_extends(word[j]) or word[j - 1] == _ZWJ):
            j += 1
        shown = _mark(word[i:j])
        pieces.append(_Piece(shown, pdfmetrics.stringWidth(shown, font, size), word[i:j]))
        i = j
    if run:
        pieces.append(_text_piece("".join(run), font, size))
    return pieces


def _text_piece(text: str, font: str, size: float) -> _Piece:
    if _ARABIC.search(text):
        shaped = _reshaper(font).reshape(text)
        if all(ord(c) in _glyphs(font) for c in shaped):
            text = shaped
    return _Piece(text, pdfmetrics.stringWidth(text, font, size))


def layout(paragraph: str, font: str, size: float, width: float) -> Iterator[Line]:
    """The lines of one paragraph (no newline in it), each no wider than ``width`` points:
    broken between words, and a word wider than a line broken wherever the line is full, so
    nothing runs off the page and no character is lost."""
    space = pdfmetrics.stringWidth(" ", font, size)
    rtl = _paragraph_is_rtl(paragraph)
    line: list[_Piece] = []
    used = 0.0
    for match in _WORDS.finditer(paragraph):
        word = _pieces(match.group(), font, size)
        word_width = sum(p.width for p in word)
        gap = space if line else 0.0
        if used + gap + word_width <= width:
            if line:
                line.append(_Piece(" ", space))
            line.extend(word)
            used += gap + word_width
            continue
        if line:
            yield _ordered(line, rtl)
            line, used = [], 0.0
        if word_width <= width:
            line, used = list(word), word_width
            continue
        for piece in _split(word, font, size, width):
            if used + piece.width > width and line:
                yield _ordered(line, rtl)
                line, used = [], 0.0
            line.append(piece)
            used += piece.width
    yield _ordered(line, rtl)


def _split(word: list[_Piece], font: str, size: float, width: float) -> Iterator[_Piece]:
    """The pieces of a word too wide for a line, each piece no wider than a line."""
    for piece in word:
        if piece.width <= width:
            yield piece
            continue
        start = 0
        used = 0.0
        widths: dict[str, float] = {}
        for i, char in enumerate(piece.shown):
            w = widths.get(char)
            if w is None:
                w = widths[char] = pdfmetrics.stringWidth(char, font, size)
            if used + w > width and i > start:
                yield _Piece(piece.shown[start:i], used, piece.source if start == 0 else
                             (None if piece.source is None else ""))
                start, used = i, 0.0
            used += w
        yield _Piece(piece.shown[start:], used,
                     piece.source if start == 0 else (None if piece.source is None else ""))


def _paragraph_is_rtl(paragraph: str) -> bool:
    """The paragraph direction of UAX #9 (rules P2, P3): that of its first strong character."""
    for char in paragraph:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return False
        if kind in ("R", "AL"):
            return True
    return False


def _ordered(pieces: list[_Piece], rtl: bool) -> Line:
    """The pieces of one line as drawn: in display order, marks as their own segments."""
    text = "".join(p.shown if p.source is None else chr(_PLACEHOLDER + n)
                   for n, p in enumerate(pieces))
    if rtl or _RTL.search(text):
        text = get_display(text, base_dir="R" if rtl else "L")
    if all(p.source is None for p in pieces):
        return Line((Segment(text),) if text else ())
    segments: list[Segment] = []
    plain: list[str] = []
    for char in text:
        n = ord(char) - _PLACEHOLDER
        if 0 <= n < len(pieces) and pieces[n].source is not None:
            if plain:
                segments.append(Segment("".join(plain)))
                plain = []
            mark = pieces[n]
            if segments and segments[-1].actual is not None:  # one span for a run of marks
                last = segments.pop()
                segments.append(Segment(last.shown + mark.shown, (last.actual or "") +
                                        (mark.source or "")))
            else:
                segments.append(Segment(mark.shown, mark.source))
        else:
            plain.append(char)
    if plain:
        segments.append(Segment("".join(plain)))
    return Line(tuple(segments))
