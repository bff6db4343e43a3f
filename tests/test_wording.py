"""Counts in words: one helper, so every command says ``1 item`` and ``2 items``."""

from __future__ import annotations

import pytest

from archiver.wording import author_or_unknown, counted


@pytest.mark.parametrize(("count", "noun", "plural", "said"), [
    (1, "item", None, "1 item"),
    (0, "item", None, "0 items"),
    (2, "entry", None, "2 entries"),
    (1, "entry", None, "1 entry"),
    (3, "business day", None, "3 business days"),
    (1, "business day", None, "1 business day"),
    (2, "match", None, "2 matches"),
    (2, "series", "series", "2 series"),
    (2, "PDF page", None, "2 PDF pages"),
])
def test_counted_agrees_in_number(count: int, noun: str, plural: str | None, said: str) -> None:
    assert counted(count, noun, plural) == said


def test_a_missing_author_is_named_unknown() -> None:
    assert [author_or_unknown(a) for a in (None, "", "Moe")] == ["(unknown)", "(unknown)", "Moe"]
