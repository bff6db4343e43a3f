"""The Whoosh engine's on-disk layout: index name, codec and the field values of a document.

The fields themselves (:func:`archiver.search.query.build_schema`) belong to the query language
both engines read, in :mod:`archiver.search.query`.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3Segment

from archiver.search.interface import (
    IndexDoc,
    author_key,
    clean_text,
    date_sort_key,
    epoch_seconds,
)

# A new layout gets a new name: an old index is then simply absent and gets rebuilt.
INDEX_NAME = "archiver_v2"


class _ColumnCachingReader(W3PerDocReader):
    """Remembers which columns exist. Whoosh asks for every posting of every unscored field
    while flushing a segment, and answers with a file-system stat each time."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._known: dict[str, bool] = {}

    def has_column(self, fieldname: str) -> bool:
        if fieldname not in self._known:
            self._known[fieldname] = super().has_column(fieldname)
        return self._known[fieldname]


class _WriterCodec(W3Codec):
    """Whoosh's default codec for our writers, with two fixes.

    New segment ids come from :mod:`secrets`: Whoosh draws them from the global :mod:`random`,
    which a seeded program repeats (Hypothesis reseeds it for every example), and a repeated id
    makes the commit fail. The flush reads column existence once per field, not per posting.
    Readers never see this class: segments carry a plain W3Codec.
    """

    def per_document_reader(self, storage: Any, segment: Any) -> W3PerDocReader:
        return _ColumnCachingReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        # A plain W3Codec in the segment: the table of contents then pickles no class of ours.
        segment = W3Segment(W3Codec(), indexname)
        alphabet = string.ascii_lowercase + string.digits
        segment.segid = "".join(secrets.choice(alphabet) for _ in range(16))
        return segment


CODEC = _WriterCodec()


def doc_fields(doc: IndexDoc) -> dict[str, Any]:
    """The Whoosh field values for one doc; absent values are left out rather than indexed."""
    fields: dict[str, Any] = {
        "item_id": doc.item_id,
        "thread_id": doc.thread_id,
        "account_id": doc.account_id,
        "platform": clean_text(doc.platform),
        "account": clean_text(doc.account),
        "external_id": clean_text(doc.external_id),
        "kind": clean_text(doc.kind),
        "status": clean_text(doc.status),
        "history_text": clean_text(doc.history_text or ""),
        "created_sort": date_sort_key(doc.created_at),
        "seq": doc.seq,
        "first_captured_at": epoch_seconds(doc.first_captured_at),
        "last_captured_at": epoch_seconds(doc.last_captured_at),
    }
    if doc.parent_id is not None:
        fields["parent_id"] = doc.parent_id
    if doc.author:
        fields["author"] = clean_text(doc.author)
        fields["author_exact"] = author_key(doc.author)
    if doc.text:
        fields["text"] = clean_text(doc.text)
    if doc.created_at is not None:
        fields["created_at"] = epoch_seconds(doc.created_at)
    return fields
