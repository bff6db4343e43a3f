"""A query of the search language as a Python predicate over index documents.

Legal holds and records requests keep a saved query; every item stored afterwards must be tested
against it inside the transaction that stores it, before any purge can see the item. An index
cannot answer that: the item is not in it yet. So the parsed query (:mod:`archiver.search.query`,
the tree both engines run) is compiled here into a function of one :class:`IndexDoc`, evaluated
the way the configured engine evaluates it:

* text fields (``text``, ``history_text``, ``author``) are cut into words by the analyzer the
  index uses (:data:`archiver.search.query.TEXT_ANALYZER`: Whoosh's tokenizer, lower case,
  accents folded, words over 200 characters dropped), with their positions for phrases. FTS5's
  tokenizer reads a dot inside a word (``3.14``, ``www.example.org``) as a separator and keeps
  long words, so for that engine the words are cut at their dots and none is dropped, and a
  query word with a dot becomes the phrase of its parts, as the FTS5 engine compiles it;
* words, phrases (Whoosh's span rule, slop included), prefixes, wildcards (Whoosh's fnmatch
  pattern, the one the FTS5 engine also applies to its word list) and ranges test those words;
* keyword fields compare the lower-cased value (``external_id`` as is), ids and dates compare the
  whole seconds both engines store, and a field with no value matches no leaf on it; a leaf on
  a field nothing is indexed in matches nothing, as on Whoosh (FTS5 refuses the query);
* filters (:class:`SearchFilters`) test exactly what both engines' filter plans test.

Which queries an engine refuses is not decided here: :func:`archiver.search.factory.check_query`
says. A node this module does not know raises :class:`QueryError` rather than guessing, so a
caller that covers everything its filters admit when a query cannot run (holds, requests) errs
towards covering more. ``tests/test_scope_predicate.py`` runs many queries over the sample data
through this module and through both engines and requires the same items.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from whoosh import query
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer
from whoosh.query.spans import Span
from whoosh.support.charset import accent_map

from archiver.config import DEFAULT_ENGINE
from archiver.errors import QueryError
from archiver.search.interface import (
    IndexDoc,
    SearchFilters,
    author_key,
    clean_text,
    date_sort_key,
    epoch_seconds,
)
from archiver.search.query import TEXT_ANALYZER, build_schema, echo_query, parse_user_query

TEXT_FIELDS = ("text", "history_text", "author")
_LOWERED_KEYS = ("platform", "account", "kind", "status")
_NUMBERS = ("item_id", "thread_id", "account_id", "parent_id", "created_at", "first_captured_at",
            "last_captured_at")
_KEYS = (*_LOWERED_KEYS, "external_id", "author_exact")
_INDEXED = frozenset((*TEXT_FIELDS, *_KEYS, *_NUMBERS))
_SCHEMA = build_schema()
# The text analyzer without the length limit: FTS5 keeps a word of any length.
_FTS5_WORDS = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)
# A character no indexed word holds (words are \w runs joined by single dots).
_NOT_IN_A_WORD = re.compile(r"[^\w.]")
_SECOND_US = 1_000_000


@dataclass
class DocView:
    """One document as a predicate reads it for ``engine``; the words of a text field are cut
    on first use."""

    doc: IndexDoc
    engine: str = DEFAULT_ENGINE
    _words: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def words(self, name: str) -> dict[str, list[int]]:
        """word -> its positions in text field ``name``, as ``engine``'s index analyses it."""
        found = self._words.get(name)
        if found is None:
            value = {"text": self.doc.text, "history_text": self.doc.history_text,
                     "author": self.doc.author}[name]
            found = {}
            for pos, word in _cut(clean_text(value or ""), self.engine):
                found.setdefault(word, []).append(pos)
            self._words[name] = found
        return found

    @cached_property
    def keys(self) -> dict[str, str | None]:
        """The keyword fields, as both engines store them."""
        doc = self.doc
        out: dict[str, str | None] = {n: clean_text(getattr(doc, n)).lower()
                                      for n in _LOWERED_KEYS}
        out["external_id"] = clean_text(doc.external_id)
        out["author_exact"] = author_key(doc.author).lower() if doc.author else None
        return out

    @cached_property
    def numbers(self) -> dict[str, int | None]:
        """The id and date fields (dates in whole seconds since the epoch)."""
        doc = self.doc
        return {
            "item_id": doc.item_id, "thread_id": doc.thread_id, "account_id": doc.account_id,
            "parent_id": doc.parent_id,
            "created_at": epoch_seconds(doc.created_at) if doc.created_at else None,
            "first_captured_at": epoch_seconds(doc.first_captured_at),
            "last_captured_at": epoch_seconds(doc.last_captured_at),
        }


def _cut(text: str, engine: str) -> Iterator[tuple[int, str]]:
    """(position, word) of ``text`` as ``engine`` indexes it: Whoosh's analyzer; for FTS5 the
    same words cut at their dots, long ones kept (its tokenizer reads a dot as a separator)."""
    if engine != "fts5":
        for token in TEXT_ANALYZER(text, positions=True, mode="index"):
            yield token.pos, token.text
        return
    pos = 0
    for token in _FTS5_WORDS(text):
        for part in _parts(token.text, engine):
            yield pos, part
            pos += 1


def _parts(word: str, engine: str) -> list[str]:
    """The words ``engine`` reads in one word of the query language (FTS5: cut at dots)."""
    return [p for p in word.split(".") if p] if engine == "fts5" else [word]


Predicate = Callable[[DocView], bool]


def _never(_view: DocView) -> bool:
    return False


def _always(_view: DocView) -> bool:
    return True


class _Compiler:
    def __init__(self, text: str, engine: str) -> None:
        self.text = text
        self.engine = engine

    def refuse(self, what: str) -> QueryError:
        return QueryError(f"search query {echo_query(self.text)}: {what} cannot be tested "
                          "against new items")

    def compile(self, node: query.Query) -> Predicate:
        kind = type(node)
        if node is query.NullQuery:
            return _never
        if kind in (query.And, query.Require):
            return self._all([self.compile(c) for c in node.children()])
        if kind is query.AndNot:
            return self._all([self.compile(node.a), self._not(self.compile(node.b))])
        if kind is query.AndMaybe:
            return self.compile(node.a)  # the optional side only changes scores
        if kind in (query.Or, query.DisjunctionMax):
            parts = [self.compile(c) for c in node.children()]
            return lambda v: any(p(v) for p in parts)
        if kind is query.Not:
            return self._not(self.compile(node.query))
        name = getattr(node, "fieldname", None)
        if kind is query.Every and not name:
            return _always
        if name not in _INDEXED:
            return _never  # no field, or one nothing is indexed in: Whoosh finds nothing
        if kind is query.Every:
            return self._every(name)
        if name in TEXT_FIELDS:
            return self._text(name, node)
        if name in _NUMBERS:
            return self._number(name, node)
        return self._key(name, node)

    @staticmethod
    def _all(parts: list[Predicate]) -> Predicate:
        if not parts:
            return _never
        return lambda v: all(p(v) for p in parts)

    @staticmethod
    def _not(part: Predicate) -> Predicate:
        return lambda v: not part(v)

    @staticmethod
    def _every(name: str) -> Predicate:
        if name in TEXT_FIELDS:
            return lambda v: bool(v.words(name))
        if name in _NUMBERS:
            return lambda v: v.numbers[name] is not None
        return lambda v: v.keys[name] is not None

    def _text(self, name: str, node: query.Query) -> Predicate:
        kind = type(node)
        if kind is query.Term:
            words = _parts(str(node.text), self.engine)
            if len(words) == 1:
                word = words[0]
                return lambda v: word in v.words(name)
            return self._phrase(name, words, 1, prefix=False)
        if kind is query.Phrase:
            words = [p for w in node.words for p in _parts(str(w), self.engine)]
            return self._phrase(name, words, int(node.slop), prefix=False)
        if kind is query.Prefix and not _NOT_IN_A_WORD.search(str(node.text)):
            # FTS5 reads "3.1*" as the phrase "3" "1*"; Whoosh as one word's prefix.
            words = _parts(str(node.text), self.engine)
            if len(words) > 1:
                return self._phrase(name, words, 1, prefix=True)
        return self._pattern(node, lambda v: v.words(name).keys())

    @staticmethod
    def _phrase(name: str, words: list[str], slop: int, *, prefix: bool) -> Predicate:
        def test(v: DocView) -> bool:
            found = v.words(name)
            places = [found.get(w, []) for w in words]
            if prefix:
                places[-1] = sorted(p for term, ps in found.items()
                                    if term.startswith(words[-1]) for p in ps)
            return _phrase_in(places, slop)

        return test

    def _key(self, name: str, node: query.Query) -> Predicate:
        if type(node) is query.Term:
            wanted = str(node.text)
            return lambda v: v.keys[name] == wanted

        def value(v: DocView) -> Iterable[str]:
            found = v.keys[name]
            return () if found is None else (found,)

        return self._pattern(node, value)

    def _pattern(self, node: query.Query, terms: Callable[[DocView], Iterable[str]]) -> Predicate:
        """Prefix, wildcard or range over the field's words (a keyword field has one)."""
        kind = type(node)
        accept: Callable[[str], object]  # a truthy answer takes the word in
        if kind is query.Prefix:
            accept = _starts_with(str(node.text))
        elif kind is query.Wildcard:
            accept = re.compile(node._get_pattern()).match  # Whoosh's own reading of it
        elif kind is query.TermRange:
            accept = _within(node.start, node.startexcl, node.end, node.endexcl)
        else:
            raise self.refuse(f"{kind.__name__} on {node.fieldname}")
        return lambda v: any(accept(t) for t in terms(v))

    def _number(self, name: str, node: query.Query) -> Predicate:
        kind = type(node)
        if kind is query.Term:
            wanted = node.text
            if isinstance(wanted, bytes):
                wanted = _SCHEMA[name].from_bytes(wanted)
            return lambda v: v.numbers[name] == wanted
        if kind is query.NumericRange:
            inside = _within(node.start, node.startexcl, node.end, node.endexcl)
            return lambda v: v.numbers[name] is not None and inside(v.numbers[name])
        raise self.refuse(f"{kind.__name__} on {name}")


def _starts_with(prefix: str) -> Callable[[str], bool]:
    return lambda term: term.startswith(prefix)


def _within(start: Any, start_excl: bool, end: Any, end_excl: bool) -> Callable[[Any], bool]:
    def inside(value: Any) -> bool:
        if start is not None and (value <= start if start_excl else value < start):
            return False
        return end is None or (value < end if end_excl else value <= end)

    return inside


def _phrase_in(places: list[list[int]], slop: int) -> bool:
    """Whoosh's phrase rule (``SpanNear2``, ordered, ``mindist`` 1) over each word's positions:
    each next word starts after the span so far, at a distance of at most ``slop`` positions.
    With ``slop`` 1 (all FTS5 runs) it is FTS5's phrase: the words one after the other."""
    if not places or not all(places):
        return False
    spans = [Span(p) for p in places[0]]
    for positions in places[1:]:
        following = [Span(p) for p in positions]
        joined: set[Span] = set()
        for a in spans:
            for b in following:
                if b.end < a.start - slop or a.start > b.start:
                    continue
                if b.start > a.end + slop:
                    break
                if 1 <= a.distance_to(b) <= slop:
                    joined.add(a.to(b))
        spans = sorted(joined)
        if not spans:
            return False
    return True


def filters_predicate(filters: SearchFilters) -> Predicate:
    """The test both engines' filter plans make (whole seconds; no date: outside any window)."""
    tests: list[Predicate] = []
    if filters.account_id is not None:
        account_id = filters.account_id
        tests.append(lambda v: v.doc.account_id == account_id)
    for name in _LOWERED_KEYS:
        value = getattr(filters, name, None)
        if value is not None:
            tests.append(_key_is(name, clean_text(value).lower()))
    if filters.author is not None:
        tests.append(_key_is("author_exact", author_key(filters.author).lower()))
    if filters.without_kinds:
        left_out = frozenset(filters.without_kinds)
        tests.append(lambda v: v.keys["kind"] not in left_out)
    low = epoch_seconds(filters.since) * _SECOND_US if filters.since else None
    high = (epoch_seconds(filters.until) + 1) * _SECOND_US if filters.until else None
    if low is not None or high is not None:
        tests.append(lambda v: v.doc.created_at is not None
                     and (low is None or date_sort_key(v.doc.created_at) >= low)
                     and (high is None or date_sort_key(v.doc.created_at) < high))
    if filters.captured_until is not None:
        until = epoch_seconds(filters.captured_until)
        tests.append(lambda v: epoch_seconds(v.doc.first_captured_at) <= until)
    if filters.captured_since is not None:
        since = epoch_seconds(filters.captured_since)
        tests.append(lambda v: epoch_seconds(v.doc.last_captured_at) >= since)
    return lambda v: all(t(v) for t in tests)


def _key_is(name: str, wanted: str) -> Predicate:
    return lambda v: v.keys[name] == wanted


def compile_predicate(text: str, filters: SearchFilters,
                      engine: str = DEFAULT_ENGINE) -> Predicate:
    """The predicate of query ``text`` narrowed by ``filters``, read as ``engine`` reads it;
    QueryError (one line) when the query is malformed or holds a node this module cannot test.
    (Whether ``engine`` can run the query at all is :func:`archiver.search.factory.check_query`.)
    """
    tree = parse_user_query(text)
    narrowed = filters_predicate(filters)
    if tree is None:
        return narrowed
    matches = _Compiler(text, engine).compile(tree)
    return lambda v: narrowed(v) and matches(v)


def docs_matching(docs: Sequence[DocView], text: str, filters: SearchFilters) -> set[int]:
    """The ids of the documents (all read for one engine) that ``text`` and ``filters`` match."""
    engines = {view.engine for view in docs}
    if not engines:
        return set()
    assert len(engines) == 1, engines
    test = compile_predicate(text, filters, engines.pop())
    return {view.doc.item_id for view in docs if test(view)}
