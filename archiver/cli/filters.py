"""The search filters, declared once for every command that selects items by them.

``archiver search``, ``export open-records`` and ``export production`` take them all; ``hold
create``, ``requests add`` and ``requests scope`` take the ones a hold's scope keeps
(:data:`SCOPE_FILTERS`). :func:`filter_options` adds them to a command and
:func:`archiver.search.filters.filters_from_options` turns what was given into the library's
:class:`~archiver.search.interface.SearchFilters`. The choices are the vocabularies' words.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import click

from archiver.cli import completion
from archiver.connectors.records import ItemKind, ItemStatus, Platform

F = Callable[..., Any]


def word_choice(vocabulary: type[StrEnum]) -> click.Choice[str]:
    """The words of ``vocabulary`` as a click choice, in any case (given an enum, click would
    offer the members' names, ``REMOVED``, where the archive's word is ``removed``)."""
    return click.Choice([member.value for member in vocabulary], case_sensitive=False)


# Keyed by the parameter name each option gives the command, in the order help lists them.
_OPTIONS: dict[str, Callable[[F], F]] = {
    "account_id": click.option("--account", "account_id", type=int,
                               help="Only this account's items (its id).",
                               shell_complete=completion.account_ids),
    "platform": click.option("--platform", type=word_choice(Platform),
                             help="Only items from this platform."),
    "kind": click.option("--kind", type=word_choice(ItemKind), help="Only items of this kind."),
    "status": click.option("--status", type=word_choice(ItemStatus),
                           help="Only items whose current status is this."),
    "author": click.option("--author", help="Only items by this author (the exact name, any "
                                            "case)."),
    "since": click.option("--since", help="Published on or after (YYYY-MM-DD or ISO time)."),
    "until": click.option("--until", help="Published on or before (a date: to its end)."),
    "captured_since": click.option("--captured-since",
                                   help="With a version captured on or after this time."),
    "captured_until": click.option("--captured-until",
                                   help="With a version captured on or before this time."),
}
FILTER_NAMES: tuple[str, ...] = tuple(_OPTIONS)
# What a hold or a records request keeps as its scope besides the query.
SCOPE_FILTERS: tuple[str, ...] = ("account_id", "since", "until")


def filter_options(*names: str) -> Callable[[F], F]:
    """A decorator adding the search filter options ``names`` (all of them when none is
    named), in the order of :data:`FILTER_NAMES`."""
    unknown = set(names) - set(FILTER_NAMES)
    if unknown:
        raise ValueError(f"no such search filter: {', '.join(sorted(unknown))}")
    chosen = [n for n in FILTER_NAMES if not names or n in names]

    def add(f: F) -> F:
        for name in reversed(chosen):  # click lists options in the order they were applied
            f = _OPTIONS[name](f)
        return f

    return add
