"""Stored text shown on a terminal, with every character a terminal would act on made visible.

Comments, author names and handles come from visitors; printed raw, ``ESC [ 2 J`` clears the
screen, ``ESC ] 0 ; ... BEL`` retitles the window, a carriage return overwrites what the line
said, and bidirectional overrides reorder it ("Trojan Source", https://trojansource.codes/).
:func:`visible` writes each such character as an escape (``\\x1b``, ``\\u202e``); ``--json``
output needs none of this, since JSON escapes control characters itself.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL and C1 controls (https://www.unicode.org/charts/PDF/U0000.pdf,
# U0080.pdf); the bidirectional formatting characters of Unicode's UAX #9
# (https://www.unicode.org/reports/tr9/#Directional_Formatting_Characters); line and paragraph
# separators; and lone surrogates, which cannot even be encoded for output.
_OTHERS = r"\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = re.compile(rf"[\x00-\x1f{_OTHERS}]")
_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # keeps tab and newline


# The three everyone knows by name; the rest by code.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = False) -> str:
    """``text`` safe to print: controls as escapes; ``multiline`` keeps tabs and newlines."""
    return (_LINES if multiline else _ONE_LINE).sub(_escape, text)


def has_control_characters(text: str) -> bool:
    """True if :func:`visible` would change ``text`` (any control, even a newline)."""
    return _ONE_LINE.search(text) is not None


def visible_values(data: Any) -> Any:
    """A copy of ``data`` (dicts, lists, scalars) with every string passed through
    :func:`visible`, for printing a whole record one ``key: value`` line at a time."""
    if isinstance(data, str):
        return visible(data)
    if isinstance(data, dict):
        return {key: visible_values(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [visible_values(value) for value in data]
    return data
