"""Exact BM25F scores of word queries, read from whole posting blocks.

Whoosh's matchers walk a query tree one document at a time: for a common word every match
costs a dozen Python calls across the union and intersection wrappers, and the document's field
length is looked up through three more. The desk's queries are mostly words searched across the
text fields (an OR of one term per field) and ANDs of such words. For those, each term's
postings are read a block at a time (document numbers and weights come out of Whoosh's codec
as whole arrays), the field lengths of a segment are read as one byte string, and the same
BM25F formula Whoosh uses (``whoosh.scoring.BM25FScorer``) is summed per document, so the
scores are Whoosh's. A phrase is its words' AND kept where their positions follow each other
(as Whoosh's ``SpanNear2``). Anything else (prefixes, ranges, NOT) returns None and is left to
Whoosh's matchers.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from whoosh import query
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

# Whoosh keeps a field's length per document as one byte; this is its decoding.
_LENGTH_OF_BYTE = tuple(byte_to_length(b) for b in range(256))


# Decoded postings kept per segment, counted in postings (8 bytes each): the desk's searches
# repeat a small vocabulary, and decoding Whoosh's pickled blocks is most of a term's cost.
_KEPT_POSTINGS = 250_000
_KEPT_PHRASES = 64


@dataclass
class SegmentPostings:
    """What scoring reads from one segment, kept as long as the segment lives (a segment's
    postings and lengths never change; its deletions do, and are checked on the reader)."""

    lengths: dict[str, bytes | None] = field(default_factory=dict)
    decoded: OrderedDict[tuple[str, bytes], tuple[array[int], array[float]]] = field(
        default_factory=OrderedDict)
    positions: dict[tuple[str, bytes], Sequence[bytes | None]] = field(default_factory=dict)
    # Documents where a phrase's words stand in order, by (field, words, slop): deletions only
    # ever remove documents, and every use intersects with the words' live postings.
    phrases: OrderedDict[tuple[str, tuple[str, ...], int], frozenset[int]] = field(
        default_factory=OrderedDict)
    held: int = 0

    def lengths_of(self, reader: Any, name: str) -> bytes | None:
        """Every document's length byte of field ``name`` (None: not readable)."""
        if name not in self.lengths:
            self.lengths[name] = _length_bytes(reader, name)
        return self.lengths[name]

    def postings(self, reader: Any, name: str, text: bytes) -> tuple[array[int], array[float]]:
        """(document numbers, weights) of a term, deleted documents included."""
        key = (name, text)
        found = self.decoded.get(key)
        if found is not None:
            self.decoded.move_to_end(key)
            return found
        ids, weights = array("i"), array("f")  # Whoosh's own widths
        for block_ids, block_weights, _ in _blocks(_raw_postings(reader, name, text)):
            ids.extend(block_ids)
            weights.extend(block_weights)
        self.decoded[key] = (ids, weights)
        self.held += len(ids)
        while self.held > _KEPT_POSTINGS and len(self.decoded) > 1:
            gone_key, (gone, _) = self.decoded.popitem(last=False)
            self.held -= len(gone)
            self.positions.pop(gone_key, None)
        return ids, weights

    def encoded_positions(self, reader: Any, name: str, text: bytes) -> Sequence[bytes | None]:
        """Each posting's encoded positions, in the order of :meth:`postings`."""
        key = (name, text)
        found = self.positions.get(key)
        if found is None or key not in self.decoded:
            found = [value for _, _, values in _blocks(_raw_postings(reader, name, text),
                                                       values=True) for value in values]
            self.positions[key] = found
        return found


def _raw_postings(reader: Any, name: str, text: bytes) -> Any:
    """A term's matcher with deleted documents left in (they are checked when scoring)."""
    matcher = reader.postings(name, text)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def _length_bytes(reader: Any, name: str) -> bytes | None:
    perdoc = getattr(reader, "_perdoc", None)
    cached = getattr(perdoc, "_cached_reader", None)
    if cached is None:
        return None
    column = cached(f"_{name}_len", LENGTHS_COLUMN)
    if column is None:
        return None
    dbfile = getattr(column, "_dbfile", None)
    if dbfile is None or getattr(column, "_fixedlen", None) != 1:
        return bytes(column[n] for n in range(reader.doc_count_all()))
    data = bytes(dbfile.get(column._basepos, column._count))
    return data + bytes(column._doccount - column._count)  # documents past the end: length 0


def _blocks(matcher: Any, *, values: bool = False
            ) -> Iterator[tuple[Sequence[int], Sequence[float], Sequence[bytes | None]]]:
    """(document numbers, weights, encoded values if asked) of a term's postings, a block at
    a time."""
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            if values:
                matcher._read_values()
            yield matcher._ids, matcher._weights, matcher._values if values else ()
            matcher._next_block()
        return
    ids: list[int] = []
    weights: list[float] = []
    encoded: list[bytes | None] = []
    while matcher.is_active():  # postings kept inline with the term: a handful
        ids.append(matcher.id())
        weights.append(matcher.weight())
        if values:
            encoded.append(matcher.value())
        matcher.next()
    yield ids, weights, encoded


def _term_scores(term: query.Term, leaf: Searcher, parent: Searcher, model: BM25F,
                 segment: SegmentPostings) -> dict[int, float] | None:
    name = term.fieldname
    schema = parent.schema
    if name not in schema:
        return {}
    fieldtype = schema[name]
    if not fieldtype.scorable:
        return None
    try:
        text = fieldtype.to_bytes(term.text)
    except ValueError:
        return {}
    reader = leaf.reader()
    if (name, text) not in reader:
        return {}
    lengths_of = segment.lengths_of(reader, name)
    if lengths_of is None:
        return None
    ids, weights = segment.postings(reader, name, text)
    deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
    # bm25(idf, tf, fl, avgfl, B, K1) = idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * fl / avgfl))
    b = model._field_B.get(name, model.B)
    k1 = model.K1
    avgfl = parent.avg_field_length(name) or 1
    scale = term.boost * parent.idf(name, text) * (k1 + 1)
    constant = k1 * (1 - b)
    per_length = k1 * b / avgfl
    table = _LENGTH_OF_BYTE
    out: dict[int, float] = {}
    for docnum, tf in zip(ids, weights, strict=True):
        if docnum not in deleted:
            out[docnum] = scale * tf / (tf + constant + per_length * table[lengths_of[docnum]])
    return out


def leaf_scores(q: query.Query, leaf: Searcher, parent: Searcher,
                segment: SegmentPostings) -> dict[int, float] | None:
    """Every document of ``leaf`` (segment numbers) matching ``q`` with its BM25F score, or
    None when ``q`` is not made only of terms, ORs and ANDs scored by BM25F."""
    model = parent.weighting
    if type(model) is not BM25F:
        return None
    return _scores(q, leaf, parent, model, segment)


def _scores(q: query.Query, leaf: Searcher, parent: Searcher, model: BM25F,
            segment: SegmentPostings) -> dict[int, float] | None:
    if type(q) is query.Term:
        return _term_scores(q, leaf, parent, model, segment)
    if type(q) is query.Phrase:
        return _phrase_scores(q, leaf, parent, model, segment)
    if type(q) is query.Or and q.boost == 1.0 and not q.minmatch and q.scale is None:
        total: dict[int, float] = {}
        for sub in q.subqueries:
            part = _scores(sub, leaf, parent, model, segment)
            if part is None:
                return None
            for docnum, score in part.items():
                total[docnum] = total.get(docnum, 0.0) + score
        return total
    if type(q) is query.And and q.boost == 1.0 and q.subqueries:
        parts = []
        for sub in q.subqueries:
            part = _scores(sub, leaf, parent, model, segment)
            if part is None:
                return None
            parts.append(part)
        parts.sort(key=len)
        first, rest = parts[0], parts[1:]
        return {docnum: score + sum(p[docnum] for p in rest) for docnum, score in first.items()
                if all(docnum in p for p in rest)}
    return None


def _phrase_scores(q: query.Phrase, leaf: Searcher, parent: Searcher, model: BM25F,
                   segment: SegmentPostings) -> dict[int, float] | None:
    """Whoosh scores a phrase as its words' AND (times the phrase's boost), kept where the
    words follow each other in order with at most ``slop`` positions from one to the next
    (``SpanNear2`` with ``ordered=True, mindist=1``)."""
    name = q.fieldname
    if name not in parent.schema or len(q.words) < 2:
        return None if name in parent.schema else {}
    fieldtype = parent.schema[name]
    if not fieldtype.format or not fieldtype.format.supports("positions"):
        return None
    words = [query.Term(name, word) for word in q.words]
    scores = [_term_scores(word, leaf, parent, model, segment) for word in words]
    if any(part is None for part in scores):
        return None
    parts = [part for part in scores if part is not None]
    smallest = min(parts, key=len)
    candidates = [d for d in smallest if all(d in part for part in parts)]
    if not candidates:
        return {}
    key = (name, tuple(q.words), q.slop)
    in_order = segment.phrases.get(key)
    if in_order is None:
        in_order = _phrase_docs(leaf.reader(), segment, fieldtype, words, candidates, q.slop)
        segment.phrases[key] = in_order
        if len(segment.phrases) > _KEPT_PHRASES:
            segment.phrases.popitem(last=False)
    return {docnum: q.boost * sum(part[docnum] for part in parts)
            for docnum in candidates if docnum in in_order}


def _phrase_docs(reader: Any, segment: SegmentPostings, fieldtype: Any,
                 words: list[query.Term], candidates: list[int], slop: int) -> frozenset[int]:
    decode = fieldtype.format.decode_positions
    positions: list[dict[int, list[int]]] = []
    for word in words:
        text = fieldtype.to_bytes(word.text)
        ids, _ = segment.postings(reader, word.fieldname, text)
        encoded = segment.encoded_positions(reader, word.fieldname, text)
        where: dict[int, list[int]] = {}
        for docnum in candidates:
            value = encoded[bisect_left(ids, docnum)]
            where[docnum] = decode(value) if value is not None else []
        positions.append(where)
    return frozenset(docnum for docnum in candidates if _in_order(positions, docnum, slop))


def _in_order(positions: list[dict[int, list[int]]], docnum: int, slop: int) -> bool:
    # Spans (start, end): each next word must start 1..slop positions after a span's end.
    spans = {(p, p) for p in positions[0][docnum]}
    for where in positions[1:]:
        following = where[docnum]
        spans = {(start, p) for start, end in spans for p in following if 1 <= p - end <= slop}
        if not spans:
            return False
    return True
