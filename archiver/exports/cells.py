"""Cells of every CSV and DAT an export writes, safe to open in a spreadsheet.

A cell a spreadsheet reads as a formula can run commands or send data away (``=HYPERLINK``,
DDE through ``+cmd|...``). Following OWASP (https://owasp.org/www-community/attacks/CSV_Injection),
a cell that starts with ``=``, ``+``, ``-`` or ``@``, or with a tab, carriage return or line feed,
gets a leading apostrophe, so it is shown as the text it is. Spaces before the sign do not hide
it, nor do look-alike characters that Unicode compatibility folding (NFKC) turns into one, such
as the fullwidth ``＝``: some spreadsheet programs skip the spaces or fold the characters first.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from typing import TextIO

_FORMULA_SIGNS = frozenset("=+-@")
_LINE_CONTROLS = frozenset("\t\r\n")
# Folding a few characters past the leading spaces settles the first visible one; the cap keeps
# a megabyte-long comment from being normalized whole for one look at its start.
_HEAD = 16


def starts_formula(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula (or a control) at its start."""
    if text[:1] in _LINE_CONTROLS:
        return True
    head = text.lstrip()[:_HEAD]
    if head[:1] in _FORMULA_SIGNS:
        return True
    # Checked after the raw look as well: "=" with a combining mark folds into "≠".
    folded = unicodedata.normalize("NFKC", head)
    return folded[:1] in _LINE_CONTROLS or folded.lstrip()[:1] in _FORMULA_SIGNS


def csv_safe(value: object) -> str:
    """``value`` as cell text that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if starts_formula(text) else text


class SafeCsvWriter:
    """A ``csv.writer`` whose every cell goes through :func:`csv_safe`."""

    def __init__(self, out: TextIO, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row of guarded cells."""
        self._writer.writerow([csv_safe(cell) for cell in row])
