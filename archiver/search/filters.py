"""Turning command-line search options into :class:`SearchFilters`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from archiver.connectors.records import ItemKind
from archiver.dates import parse_moment
from archiver.search.interface import SearchFilters

# Kinds an open-records search leaves out unless asked for by kind: they carry personal data.
PRIVATE_KINDS = frozenset({ItemKind.MESSAGE})


def filters_from_options(options: Mapping[str, Any], tz: ZoneInfo) -> SearchFilters:
    """Build filters from ``--account --platform --kind --status --author`` and the date ranges.

    These are the open-records searches (the command line's, the desk's, an export's or a
    request's scope): direct messages carry personal data, so they are left out unless
    ``--kind message`` asks for them. Holds build their own filters and keep them."""

    def moment(name: str, end: bool) -> Any:
        value = options.get(name)
        flag = "--" + name.replace("_", "-")
        return None if not value else parse_moment(value, flag, tz, end_of_day=end)

    return SearchFilters(
        account_id=options.get("account_id"),
        platform=options.get("platform"),
        kind=options.get("kind"),
        status=options.get("status"),
        author=options.get("author"),
        since=moment("since", False),
        until=moment("until", True),
        captured_since=moment("captured_since", False),
        captured_until=moment("captured_until", True),
        without_kinds=None if options.get("kind") == ItemKind.MESSAGE else PRIVATE_KINDS,
    )
