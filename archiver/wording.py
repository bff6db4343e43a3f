"""Words for text output: counts that agree in number (``1 item``, ``2 items``), and the name
shown for an author the platform did not give."""

from __future__ import annotations

# Shown where a platform gave no author (a Page token without the permission to see who wrote a
# comment, a feed entry without <author>); the JSON keeps null.
UNKNOWN_AUTHOR = "(unknown)"


def plural(noun: str) -> str:
    """The English plural of a regular noun: ``entry`` -> ``entries``, ``day`` -> ``days``,
    ``match`` -> ``matches``; the last word of a phrase changes (``business day``)."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def counted(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun`` agreeing in number: ``1 item``, ``0 items``, ``2 entries``.

    ``plural_form`` is for a noun :func:`plural` gets wrong (``series``, ``look-ups``)."""
    return f"{count} {noun if count == 1 else plural_form or plural(noun)}"


def author_or_unknown(name: str | None) -> str:
    """The author's name, or :data:`UNKNOWN_AUTHOR` when there is none."""
    return name if name else UNKNOWN_AUTHOR
