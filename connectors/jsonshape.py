"""Reading fields out of a decoded JSON answer, where every wrong shape is a one-line
:class:`~archiver.connectors.errors.MalformedResponse` naming the request path (never a value:
values may be visitors' text), and the "more pages: here is the cursor" paging style. Shared by
the TikTok, LinkedIn and Nextdoor connectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archiver.connectors.base import PageRequest, Paging, dig
from archiver.connectors.errors import MalformedResponse


def obj(value: Any, what: str, path: str) -> dict[str, Any]:
    """``value`` as a JSON object, or :class:`MalformedResponse`."""
    if not isinstance(value, dict):
        raise MalformedResponse(f"response from {path}: {what} is not an object")
    return value


def objects(value: Any, what: str, path: str) -> list[dict[str, Any]]:
    """``value`` as a list of JSON objects (None is an empty list)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise MalformedResponse(f"response from {path}: {what} is not a list of objects")
    return value


def opt(item: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    """``item[key]`` if present and of ``kind``; None if absent; else MalformedResponse.
    A bool is never accepted where a number is asked for."""
    value = item.get(key)
    if value is None:
        return None
    wrong = not isinstance(value, kind) or (isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)))
    if wrong:
        raise MalformedResponse(f"response from {path}: field {key!r} has the wrong type")
    return value


def text(item: dict[str, Any], key: str, path: str) -> str | None:
    """An optional string field."""
    value: str | None = opt(item, key, str, path)
    return value


def ident(item: dict[str, Any], key: str, path: str) -> str:
    """A required id: a non-empty string or an integer (kept as its decimal string)."""
    value = opt(item, key, (str, int), path)
    if value is None or value == "":
        raise MalformedResponse(f"response from {path}: an item without {key!r}")
    return str(value)


def count(item: dict[str, Any], key: str, path: str) -> int:
    """An optional non-negative count (absent: 0)."""
    value = opt(item, key, int, path)
    if value is None:
        return 0
    if value < 0:
        raise MalformedResponse(f"response from {path}: field {key!r} is negative")
    return int(value)


def epoch_time(value: Any, path: str, *, millis: bool = False) -> datetime | None:
    """Unix seconds (or milliseconds) → aware UTC datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResponse(f"response from {path}: a timestamp is not a number")
    seconds = value / 1000 if millis else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedResponse(f"response from {path}: a timestamp is out of range") from None



def flagged_cursor(payload: Any, more: Sequence[str], cursor: Sequence[str],
                   path: str) -> str | None:
    """The cursor at ``cursor`` while the flag at ``more`` is true; None when it is false or
    absent. A true flag without a cursor is a :class:`MalformedResponse`."""
    flag = dig(payload, more)
    if flag is None or flag is False:
        return None
    if flag is not True:
        raise MalformedResponse(f"response from {path}: '{more[-1]}' is not true or false")
    value = dig(payload, cursor)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise MalformedResponse(f"response from {path}: '{more[-1]}' without a cursor")
    return str(value)


@dataclass(frozen=True)
class FlagCursorPaging(Paging):
    """The page says whether there is more (TikTok ``data.has_more``, Nextdoor
    ``has_next_page``) and gives a cursor, sent back as ``param``."""

    more: tuple[str, ...]
    cursor: tuple[str, ...]
    param: str

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        token = flagged_cursor(payload, self.more, self.cursor, request.path)
        if token is None:
            return None
        return PageRequest(request.url, {**request.params, self.param: token})
