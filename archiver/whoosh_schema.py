"""The Whoosh side of the search index's layout: schema, codec, document fields, and the query
language both engines read: :func:`parse_user_query` (Whoosh's parser on this schema, after the
checks of :mod:`archiver.query_text`) and the query pieces (date ranges, history retargeting)
that :mod:`archiver.whoosh_index` builds on. :mod:`archiver.fts5_query` compiles the same parsed
tree for FTS5.
"""

from __future__ import annotations

import copy
import secrets
import string
from datetime import datetime
from typing import Any

from whoosh import qparser, query
from whoosh.analysis import (
    CharsetFilter,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StopFilter,
)
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3Segment
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, NUMERIC, TEXT, Schema
from whoosh.support.charset import accent_map

from archiver.errors import QueryError
from archiver.query_text import check_query_text, echo_query
from archiver.search_index import (
    NO_DATE_SORT_KEY,
    IndexDoc,
    author_key,
    clean_text,
    date_sort_key,
    epoch_seconds,
)

# A new layout gets a new name: an old index is then simply absent and gets rebuilt.
INDEX_NAME = "archiver_v2"
# Tiers of 8 bits keep a date range to a few hundred terms; wider tiers made ranges 3x slower.
DATE_SHIFT_STEP = 8
# Terms longer than this are noise (base64 blobs, keyboard mashing) and only bloat the index.
MAX_TERM_CHARS = 200
DEFAULT_FIELDS = ("text", "history_text", "author")
FIELD_BOOSTS = {"text": 2.0, "history_text": 1.0, "author": 1.5}

# No stop words: an investigator searching "to be or not to be" means exactly that.
_TEXT_ANALYZER = (
    RegexTokenizer()
    | LowercaseFilter()
    | CharsetFilter(accent_map)
    | StopFilter(stoplist=frozenset(), minsize=1, maxsize=MAX_TERM_CHARS)
)
_KEY_ANALYZER = IDTokenizer() | LowercaseFilter()


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


def _id_field(*, stored: bool = False, unique: bool = False, sortable: bool = False) -> NUMERIC:
    # Ids are looked up exactly, never by range: one term per value (shift_step=0) instead of
    # Whoosh's tiers, which would add three unique terms per document per id.
    return NUMERIC(
        bits=64, signed=True, shift_step=0, stored=stored, unique=unique, sortable=sortable
    )


def _date_field() -> NUMERIC:
    # Whole seconds since the epoch: Whoosh's DATETIME keeps microseconds, which makes most of
    # its tiered terms unique per document and triples the cost of a commit.
    return NUMERIC(bits=64, signed=True, shift_step=DATE_SHIFT_STEP)


def build_schema() -> Schema:
    """The index layout: two stored ids, exact keyword fields, analyzed text, dates, and the
    version number each doc was built from."""
    return Schema(
        item_id=_id_field(stored=True, unique=True, sortable=True),
        thread_id=_id_field(stored=True, sortable=True),
        account_id=_id_field(),
        parent_id=_id_field(),
        platform=ID(analyzer=_KEY_ANALYZER),
        account=ID(analyzer=_KEY_ANALYZER),
        external_id=ID(),
        kind=ID(analyzer=_KEY_ANALYZER),
        status=ID(analyzer=_KEY_ANALYZER),
        author=TEXT(analyzer=_TEXT_ANALYZER),
        author_exact=ID(analyzer=_KEY_ANALYZER),
        text=TEXT(analyzer=_TEXT_ANALYZER),
        history_text=TEXT(analyzer=_TEXT_ANALYZER),
        created_at=_date_field(),
        created_sort=COLUMN(NumericColumn("q", default=NO_DATE_SORT_KEY)),
        # The version each doc was built from: verify compares it with the database.
        seq=COLUMN(NumericColumn("q", default=0)),
        first_captured_at=_date_field(),
        last_captured_at=_date_field(),
    )


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


def date_range(name: str, start: datetime | None, end: datetime | None) -> query.Query:
    """An inclusive range over a date field, in the whole seconds it is indexed in."""
    return query.NumericRange(
        name,
        epoch_seconds(start) if start is not None else None,
        epoch_seconds(end) if end is not None else None,
    )


def query_errors(node: query.Query) -> list[str]:
    """Every parse error Whoosh left in the tree, one line each."""
    found = []
    error = getattr(node, "error", None)
    if error:
        found.append(str(error).replace("\n", " "))
    for child in node.children():
        found.extend(query_errors(child))
    return found


def current_text_only(node: query.Query) -> query.Query:
    """The same query with history_text leaves pointed at the current text (same analyzer)."""

    def retarget(leaf: query.Query) -> query.Query:
        if getattr(leaf, "fieldname", None) == "history_text":
            leaf = copy.copy(leaf)
            leaf.fieldname = "text"  # type: ignore[attr-defined]
        return leaf

    return node.accept(retarget)


def mentions_history(node: query.Query) -> bool:
    """True when some leaf searches earlier versions' text."""
    if getattr(node, "fieldname", None) == "history_text":
        return True
    return any(mentions_history(child) for child in node.children())


_QUERY_SCHEMA = build_schema()


def parse_user_query(text: str) -> query.Query | None:
    """Parse a user's query as both engines read it; None for ``*`` (every item).

    Raises QueryError (one line) for a query that is too long, empty, malformed or means nothing
    (see :mod:`archiver.query_text`), checked before Whoosh's parser runs.
    """
    text = check_query_text(clean_text(text))
    if text == "*":
        return None
    parser = qparser.MultifieldParser(list(DEFAULT_FIELDS), _QUERY_SCHEMA,
                                      fieldboosts=FIELD_BOOSTS)
    parser.add_plugin(qparser.GtLtPlugin())
    try:
        parsed = parser.parse(text)
    except Exception as exc:  # any parser failure comes from the user's query
        message = str(exc).replace("\n", " ")
        raise QueryError(f"cannot parse search query {echo_query(text)}: {message}") from None
    errors = query_errors(parsed)
    if errors:
        raise QueryError(f"cannot parse search query {echo_query(text)}: {errors[0]}")
    if parsed is query.NullQuery:
        raise QueryError(f"search query {echo_query(text)}: nothing to search for (no word in "
                         "it; '*' matches everything)")
    return parsed
