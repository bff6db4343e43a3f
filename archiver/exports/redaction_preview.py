"""What a package's redaction will do, before it is built: each redaction with its rule and
exemption and the value as the package will show it.

The preview reads the scope's first threads exactly as the package does (the same thread
loading, the same native records with their records as parsed), so what it lists is what
``redactions.csv`` will list for those threads. It stops after ``max_threads`` threads, so it
answers in a moment however large the scope is; it says how many threads it read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from archiver.exports.natives import native_record
from archiver.exports.redaction import Redaction, Redactor
from archiver.exports.selection import (
    ItemView,
    Scope,
    iter_threads,
    resolve_item_ids,
    threads_of,
)
from archiver.store.archive import Archive

MAX_THREADS = 25
# Fields of a version whose redacted value the preview shows.
_VERSION_FIELDS = ("text", "author", "url", "platform_status")
_ITEM_FIELDS = ("account", "external_id")


@dataclass(frozen=True)
class PreviewedRedaction:
    """One redaction, and the value it leaves (None: inside the media list, the removal proof
    or the platform's original payload, shown in the package's native record)."""

    redaction: Redaction
    result: str | None


@dataclass(frozen=True)
class RedactionPreview:
    """The redactions of the first ``threads_read`` of ``threads`` threads in scope."""

    threads: int
    threads_read: int
    items_read: int
    redactions: list[PreviewedRedaction]

    @property
    def complete(self) -> bool:
        return self.threads_read == self.threads

    @property
    def by_exemption(self) -> list[tuple[str, int]]:
        """How many marks each exemption accounts for, most first."""
        counts: Counter[str] = Counter()
        for shown in self.redactions:
            counts[shown.redaction.exemption or "(none given)"] += shown.redaction.count
        return counts.most_common()


def preview_redactions(archive: Archive, scope: Scope, redactor: Redactor, *,
                       max_threads: int = MAX_THREADS) -> RedactionPreview:
    """The redactions ``redactor`` makes in the first ``max_threads`` threads of ``scope``
    (within its account limit); nothing is written."""
    matched = resolve_item_ids(archive, scope)
    roots = threads_of(archive, matched)
    found: list[PreviewedRedaction] = []
    items = 0
    read = roots[:max_threads]
    for thread in iter_threads(archive, read, set(matched), redactor):
        log: list[Redaction] = list(thread.redactions)
        for item in thread.items:
            native_record(item, archive.store, redactor, log)
        items += len(thread.items)
        views = {item.item_id: item for item in thread.items}
        found.extend(PreviewedRedaction(r, _value(views.get(r.item_id), r)) for r in log)
    return RedactionPreview(threads=len(roots), threads_read=len(read), items_read=items,
                            redactions=found)


def _value(item: ItemView | None, redaction: Redaction) -> str | None:
    if item is None:
        return None
    if redaction.version is None:
        return getattr(item, redaction.field) if redaction.field in _ITEM_FIELDS else None
    if redaction.field not in _VERSION_FIELDS:
        return None
    version = next((v for v in item.versions if v.seq == redaction.version), None)
    return None if version is None else getattr(version, redaction.field)
