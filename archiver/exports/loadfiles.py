"""Concordance DAT and Opticon OPT load files, written exactly as review platforms read them.

DAT: UTF-8 with a byte-order mark, CRLF line ends, header row first, every field wrapped in þ
(U+00FE) and separated by U+0014; there is no escaping, so values are cleaned first: a newline
becomes ® (U+00AE), a literal separator or qualifier becomes a space. Review platforms export
these fields to spreadsheets, so a value that would start a formula is guarded as in every CSV
(:mod:`archiver.exports.cells`).
OPT: ``KEY,VOLUME,PATH,Y,,,PAGECOUNT`` on a document's first page (one multi-page PDF each).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from archiver.exports.cells import starts_formula

QUOTE = "\u00fe"
SEPARATOR = "\u0014"
NEWLINE = "\u00ae"
BOM = "\ufeff"
CRLF = "\r\n"

DAT_FIELDS = (
    "BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "CUSTODIAN", "PLATFORM", "KIND", "AUTHOR",
    "DATECREATED", "DATECAPTURED", "STATUS", "PARENTBATES", "URL", "MD5HASH", "SHA1HASH",
    "SHA256HASH", "NATIVEPATH", "TEXTPATH", "MEDIAPATHS",
)
# MEDIAPATHS lists the item's media files (paths like NATIVEPATH) joined by this.
MEDIA_PATH_SEPARATOR = "; "


def clean_value(value: object) -> str:
    """A value as it can stand inside a DAT field."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE)
    return text.replace(SEPARATOR, " ").replace(QUOTE, " ")


def dat_value(value: object) -> str:
    """A value as written between the qualifiers: cleaned, then guarded against formulas."""
    cleaned = clean_value(value)
    # A review platform turns ® back into a line break: guard the value as it will read it.
    return "'" + cleaned if starts_formula(cleaned.replace(NEWLINE, "\n")) else cleaned


def dat_line(values: Sequence[object]) -> str:
    return SEPARATOR.join(f"{QUOTE}{dat_value(v)}{QUOTE}" for v in values) + CRLF


def load_path(*parts: str) -> str:
    """A path relative to the load file, with backslashes."""
    return "\\".join(parts)


class DatWriter:
    """Writes the header on creation, then one row per document."""

    def __init__(self, out: TextIO, fields: Sequence[str] = DAT_FIELDS) -> None:
        self.out = out
        self.fields = tuple(fields)
        out.write(BOM + dat_line(self.fields))
        self.rows = 0

    def row(self, values: Mapping[str, object]) -> None:
        unknown = set(values) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown DAT fields: {sorted(unknown)}")
        self.out.write(dat_line([values.get(f) for f in self.fields]))
        self.rows += 1


def open_text(path: Path) -> TextIO:
    """A file for a load file: UTF-8, newlines written exactly as given (CRLF)."""
    return path.open("w", encoding="utf-8", newline="")


class OptWriter:
    """One line per document: the first page of a multi-page PDF carries the break and count."""

    def __init__(self, out: TextIO, volume: str) -> None:
        self.out = out
        self.volume = volume

    def document(self, key: str, image_path: str, pages: int) -> None:
        for field_ in (key, self.volume, image_path):
            if "," in field_ or "\n" in field_:
                raise ValueError(f"OPT values cannot contain commas or newlines: {field_!r}")
        self.out.write(f"{key},{self.volume},{image_path},Y,,,{pages}{CRLF}")


def read_dat(path: Path) -> Iterator[dict[str, str]]:
    """Parse a DAT written by :class:`DatWriter` (for QC and tests); ® becomes a newline again."""
    text = path.read_bytes().decode("utf-8")
    if not text.startswith(BOM):
        raise ValueError("DAT file has no UTF-8 byte-order mark")
    lines = text[len(BOM):].split(CRLF)
    if lines and lines[-1] == "":
        lines.pop()

    def split(line: str) -> list[str]:
        cells = line.split(SEPARATOR)
        if not all(len(c) >= 2 and c[0] == QUOTE and c[-1] == QUOTE for c in cells):
            raise ValueError(f"malformed DAT line: {line[:80]!r}")
        return [c[1:-1].replace(NEWLINE, "\n") for c in cells]

    header = split(lines[0])
    for line in lines[1:]:
        cells = split(line)
        if len(cells) != len(header):
            raise ValueError("DAT row has a different number of fields than the header")
        yield dict(zip(header, cells, strict=True))
