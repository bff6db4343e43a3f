"""Whoosh query syntax, compiled for the FTS5 index: an FTS5 MATCH expression plus SQL conditions.

The query is parsed by Whoosh's own parser with the Whoosh engine's schema and default fields
(:func:`archiver.search.query.parse_user_query`), so ``traffic``, ``"road closed"``, ``offic*``,
``?losure``, ``text:[a TO c]``, ``author:jane``, ``status:removed``, ``item_id:[2 TO 9]``,
``NOT x`` mean exactly what they mean on the Whoosh engine. The tree is then compiled: words,
phrases and prefixes on the three text fields become FTS5 phrases (Whoosh has already lower-cased
and accent-folded each word; FTS5 re-tokenizes it the same way), leaves on id, keyword and date
fields become SQL on the ``docs`` table (alias ``d``). A conjunction keeps its text part in one
MATCH expression so FTS5 can rank it; an OR mixing text and SQL leaves falls back to
``d.item_id IN (SELECT rowid FROM fts WHERE fts MATCH ?)``.

FTS5 has no wildcard but a trailing ``*``, and no ranges over words. Those leaves are answered
the way Whoosh answers them: the index's own word list is scanned for the words the pattern or
range takes in (Whoosh's pattern, so ``?``, ``*`` and ``[...]`` match alike), and the items
holding one of those words become a set of ids (:class:`TermScan`, given a ``term_docs``
function by the index). Whoosh scores such leaves as constants, so they add nothing to the rank
here either. Still refused, as FTS5 cannot answer them exactly: a phrase with slop (``~N``), and
a wildcard or range with a ``.`` inside a word (Whoosh keeps ``3.14`` one word, FTS5 two).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from whoosh import query

from archiver.errors import QueryError
from archiver.search.interface import SearchFilters, author_key, clean_text, epoch_seconds
from archiver.search.query import (
    build_schema,
    current_text_only,
    echo_query,
    mentions_history,
    parse_user_query,
)

TEXT_FIELDS = ("text", "history_text", "author")
KEY_FIELDS = ("platform", "account", "external_id", "kind", "status", "author_exact")
NUMBER_FIELDS = ("item_id", "thread_id", "account_id", "parent_id", "created_at",
                 "first_captured_at", "last_captured_at")
# Bits of docs.present: which text fields hold at least one word (for ``text:*``).
PRESENT_BITS = {"text": 1, "history_text": 2, "author": 4}
_SCHEMA = build_schema()
_IN_FTS = "d.item_id IN (SELECT rowid FROM fts WHERE fts MATCH ?)"

Condition = tuple[str, tuple[Any, ...]]


def _unsupported(text: str, what: str) -> QueryError:
    return QueryError(f"search query {echo_query(text)}: {what} is not supported by the fts5 index")


@dataclass(frozen=True)
class ParsedQuery:
    """A query parsed by Whoosh; ``tree`` is None for ``*`` (match everything)."""

    tree: query.Query | None

    @property
    def mentions_history(self) -> bool:
        """True when some leaf searches earlier versions' text."""
        return self.tree is not None and mentions_history(self.tree)

    def current_only(self) -> query.Query:
        """The same query with history_text leaves pointed at the current text."""
        assert self.tree is not None
        return current_text_only(self.tree)


def parse_query(text: str) -> ParsedQuery:
    """Parse ``text`` exactly as the Whoosh engine does; QueryError (one line) when malformed."""
    return ParsedQuery(parse_user_query(text))


@dataclass(frozen=True)
class TermScan:
    """Which indexed words a wildcard or range takes in: those of ``columns`` from ``start`` to
    ``end`` (None: unbounded; ``*_excl``: the bound itself left out) that ``accept`` passes."""

    columns: tuple[str, ...]
    start: str | None = None
    start_excl: bool = False
    end: str | None = None
    end_excl: bool = False
    accept: Callable[[str], bool] | None = None


# The ids of the items holding at least one word the scan takes in (the index answers it).
TermDocs = Callable[[TermScan], Collection[int]]


def _after_prefix(prefix: str) -> str | None:
    """The lowest string above every string that starts with ``prefix`` (None: no bound)."""
    while prefix and ord(prefix[-1]) == 0x10FFFF:
        prefix = prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


def fts_string(text: str) -> str:
    """``text`` as an FTS5 string (a phrase of whatever tokens FTS5 finds in it)."""
    return '"' + text.replace("\x00", " ").replace('"', '""') + '"'


def _columns(fields: set[str]) -> str:
    if fields == set(TEXT_FIELDS):
        return ""  # every column: no filter
    return "{" + " ".join(f for f in TEXT_FIELDS if f in fields) + "} : "


@dataclass
class _Part:
    """A compiled subtree: ``fts`` AND NOT each of ``neg`` (both FTS5) AND every ``sql``."""

    fts: str | None = None
    neg: list[str] = field(default_factory=list)
    sql: list[Condition] = field(default_factory=list)

    def as_fts(self) -> str | None:
        """The whole part as one FTS5 expression, when it has no SQL and a positive text part."""
        if self.sql or self.fts is None:
            return None
        return _fold(self.fts, self.neg)

    def as_sql(self) -> Condition:
        """The whole part as one SQL condition."""
        conds = list(self.sql)
        if self.fts is not None:
            conds.insert(0, (_IN_FTS, (_fold(self.fts, self.neg),)))
        else:
            conds[:0] = [(f"NOT {_IN_FTS}", (n,)) for n in self.neg]
        return _and(conds)


def _fold(fts: str, neg: list[str]) -> str:
    for n in neg:
        fts = f"({fts}) NOT ({n})"
    return fts


def _and(conds: list[Condition]) -> Condition:
    if not conds:
        return ("1", ())
    if len(conds) == 1:
        return conds[0]
    args = tuple(a for _, values in conds for a in values)
    return ("(" + " AND ".join(c for c, _ in conds) + ")", args)


@dataclass(frozen=True)
class CompiledQuery:
    """``match`` (an FTS5 expression, or None) AND ``conditions`` (SQL on ``docs d``)."""

    match: str | None
    conditions: tuple[Condition, ...]

    def sql_condition(self, *, include_match: bool = False) -> tuple[str, list[Any]]:
        """The SQL part as one condition; with ``include_match`` the MATCH folded in too."""
        conds = list(self.conditions)
        if include_match and self.match is not None:
            conds.insert(0, (_IN_FTS, (self.match,)))
        sql, args = _and(conds)
        return sql, list(args)


def compile_query(tree: query.Query, text: str, term_docs: TermDocs | None = None) -> CompiledQuery:
    """Compile a parsed tree; ``text`` (the user's query) is only quoted in errors.

    ``term_docs`` answers wildcards and ranges over words from the index; without it they match
    nothing (enough to learn whether the engine can run a query at all).
    """
    part = _Compiler(text, term_docs).compile(tree)
    if part.fts is not None:
        return CompiledQuery(_fold(part.fts, part.neg), tuple(part.sql))
    negs = [(f"NOT {_IN_FTS}", (n,)) for n in part.neg]
    return CompiledQuery(None, tuple(negs + part.sql))


_PATTERN_LEAVES = (query.Wildcard, query.TermRange)
# A character no indexed word holds (Whoosh's words are \w runs, joined by single dots).
_NOT_IN_A_WORD = re.compile(r"[^\w.]")


class _Compiler:
    def __init__(self, text: str, term_docs: TermDocs | None) -> None:
        self.text = text
        self.term_docs = term_docs

    def compile(self, node: query.Query) -> _Part:
        kind = type(node)
        if node is query.NullQuery:
            return _Part(sql=[("0", ())])
        if kind in (query.And, query.Require):
            return self._all([self.compile(c) for c in node.children()])
        if kind is query.AndNot:
            return self._all([self.compile(node.a), self._not(node.b)])
        if kind is query.AndMaybe:
            return self.compile(node.a)  # the optional side only changes Whoosh's scores
        if kind in (query.Or, query.DisjunctionMax):
            return self._any(list(node.children()))
        if kind is query.Not:
            return self._not(node.query)
        if kind is query.Every:
            return self._every(node.fieldname)
        fieldname = getattr(node, "fieldname", None)
        if fieldname in TEXT_FIELDS:
            return self._text_part({fieldname}, node)
        if fieldname in KEY_FIELDS or fieldname in NUMBER_FIELDS:
            return _Part(sql=[self._sql_leaf(node, fieldname)])
        raise _unsupported(self.text, f"{kind.__name__} on {fieldname or 'no field'}")

    def _all(self, parts: list[_Part]) -> _Part:
        if not parts:
            return _Part(sql=[("0", ())])
        texts = [p.fts for p in parts if p.fts is not None]
        fts = (" AND ".join(f"({t})" for t in texts) if len(texts) > 1
               else texts[0] if texts else None)
        return _Part(fts=fts, neg=[n for p in parts for n in p.neg],
                     sql=[c for p in parts for c in p.sql])

    def _any(self, children: list[query.Query]) -> _Part:
        if not children:
            return _Part(sql=[("0", ())])
        same = self._same_leaf_over_fields(children)
        if same is not None:
            return same
        parts = [self.compile(c) for c in children]
        texts = [p.as_fts() for p in parts]
        if all(t is not None for t in texts):
            return _Part(fts=" OR ".join(f"({t})" for t in texts))
        conds = [p.as_sql() for p in parts]
        sql = "(" + " OR ".join(c for c, _ in conds) + ")"
        return _Part(sql=[(sql, tuple(a for _, args in conds for a in args))])

    def _same_leaf_over_fields(self, children: list[query.Query]) -> _Part | None:
        """``word`` becomes Or(text:word, history_text:word, author:word): one FTS5 phrase
        over those columns, so bm25 weighs the columns together as Whoosh's boosts do. A
        wildcard or range over several fields is one scan of their words."""
        first = children[0]
        if type(first) not in (query.Term, query.Phrase, query.Prefix, *_PATTERN_LEAVES):
            return None
        fields = set()
        key = self._leaf_key(first)
        for child in children:
            if type(child) is not type(first) or child.fieldname not in TEXT_FIELDS:
                return None
            if self._leaf_key(child) != key:
                return None
            fields.add(child.fieldname)
        return self._text_part(fields, first)

    def _leaf_key(self, node: query.Query) -> object:
        """What a text leaf asks, whatever its field."""
        if isinstance(node, query.Wildcard):
            return ("wildcard", node.text)
        if isinstance(node, query.TermRange):
            return ("range", node.start, node.startexcl, node.end, node.endexcl)
        return self._text_leaf(node)

    def _text_part(self, fields: set[str], node: query.Query) -> _Part:
        if type(node) in _PATTERN_LEAVES or (
                type(node) is query.Prefix and _NOT_IN_A_WORD.search(str(node.text))):
            return self._scanned(fields, node)
        return _Part(fts=_columns(fields) + self._text_leaf(node))

    def _scanned(self, fields: set[str], node: query.Query) -> _Part:
        """A wildcard or range over words: the items holding a word it takes in."""
        columns = tuple(f for f in TEXT_FIELDS if f in fields)
        if type(node) is query.Prefix:
            # FTS5 would read "[cl]*" as the prefix "cl"; to Whoosh it is literal, and no word
            # holds a "[": scanned like a wildcard, it matches what Whoosh matches.
            prefix = str(node.text)
            scan = TermScan(columns, start=prefix, end=_after_prefix(prefix), end_excl=True,
                            accept=lambda term: term.startswith(prefix))
        elif isinstance(node, query.Wildcard):
            pattern = str(node.text)
            if "." in pattern:
                raise _unsupported(self.text, "a wildcard with '.' inside a word")
            prefix = node._find_prefix(pattern)  # Whoosh's own reading of the pattern
            matches = re.compile(node._get_pattern()).match
            scan = TermScan(columns, start=prefix or None, end=_after_prefix(prefix),
                            end_excl=True, accept=lambda term: matches(term) is not None)
        else:
            bounds = [b for b in (node.start, node.end) if b is not None]
            if any("." in str(b) for b in bounds):
                raise _unsupported(self.text, "a range with '.' inside a word")
            scan = TermScan(columns, start=node.start, start_excl=node.startexcl,
                            end=node.end, end_excl=node.endexcl)
        ids = sorted(self.term_docs(scan)) if self.term_docs is not None else []
        if not ids:
            return _Part(sql=[("0", ())])
        return _Part(sql=[("d.item_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))])

    def _not(self, node: query.Query) -> _Part:
        part = self.compile(node)
        text = part.as_fts()
        if text is not None:
            return _Part(neg=[text])
        sql, args = part.as_sql()
        return _Part(sql=[(f"NOT {sql}", args)])

    def _every(self, fieldname: str | None) -> _Part:
        if not fieldname:
            return _Part(sql=[("1", ())])
        if fieldname in TEXT_FIELDS:
            return _Part(sql=[(f"(d.present & {PRESENT_BITS[fieldname]}) != 0", ())])
        if fieldname in KEY_FIELDS or fieldname in NUMBER_FIELDS:
            return _Part(sql=[(f"d.{fieldname} IS NOT NULL", ())])
        raise _unsupported(self.text, f"{fieldname}:*")

    def _text_leaf(self, node: query.Query) -> str:
        kind = type(node)
        if kind is query.Term:
            return fts_string(str(node.text))
        if kind is query.Phrase:
            if node.slop > 1:
                raise _unsupported(self.text, "a phrase with slop (~N)")
            return fts_string(" ".join(str(w) for w in node.words))
        if kind is query.Prefix:
            if not node.text:
                raise _unsupported(self.text, "an empty prefix")
            return fts_string(str(node.text)) + " *"
        raise _unsupported(self.text, f"{kind.__name__} on {node.fieldname}")

    def _sql_leaf(self, node: query.Query, name: str) -> Condition:
        column = f"d.{name}"
        kind = type(node)
        numeric = name in NUMBER_FIELDS
        if kind is query.Term:
            value = node.text
            if numeric and isinstance(value, bytes):
                value = _SCHEMA[name].from_bytes(value)
            return (f"{column} = ?", (value,))
        ranged = kind in (query.NumericRange, query.TermRange)
        if ranged and numeric == (kind is query.NumericRange):
            conds: list[Condition] = []
            if node.start is not None:
                conds.append((f"{column} {'>' if node.startexcl else '>='} ?", (node.start,)))
            if node.end is not None:
                conds.append((f"{column} {'<' if node.endexcl else '<='} ?", (node.end,)))
            return _and(conds) if conds else (f"{column} IS NOT NULL", ())
        if not numeric and kind is query.Prefix:
            literal = "".join("[" + c + "]" if c in "[*?" else c for c in str(node.text))
            return (f"{column} GLOB ?", (literal + "*",))
        if not numeric and kind is query.Wildcard:  # Whoosh's * and ? are GLOB's too
            pattern = "".join("[[]" if c == "[" else c for c in str(node.text))
            return (f"{column} GLOB ?", (pattern,))
        raise _unsupported(self.text, f"{kind.__name__} on {name}")


def sql_filters(filters: SearchFilters) -> tuple[list[str], list[Any]]:
    """SQL conditions on ``docs d`` for ``filters``, exactly as the Whoosh engine applies them."""
    where: list[str] = []
    args: list[Any] = []
    if filters.account_id is not None:
        where.append("d.account_id = ?")
        args.append(filters.account_id)
    if filters.account_ids is not None:
        ids = sorted(filters.account_ids)
        where.append(f"d.account_id IN ({', '.join('?' * len(ids))})" if ids else "0")
        args += ids
    for name in ("platform", "kind", "status"):
        value = getattr(filters, name)
        if value is not None:
            where.append(f"d.{name} = ?")
            args.append(clean_text(value).lower())
    if filters.without_kinds:
        left_out = sorted(filters.without_kinds)
        where.append(f"d.kind NOT IN ({', '.join('?' * len(left_out))})")
        args += left_out
    if filters.author is not None:
        where.append("d.author_exact = ?")
        args.append(author_key(filters.author).lower())
    # The same bounds on created_sort (microseconds) too: that column leads the indexes.
    if filters.since is not None:
        where.append("d.created_at >= ? AND d.created_sort >= ?")
        args += [epoch_seconds(filters.since), epoch_seconds(filters.since) * 1_000_000]
    if filters.until is not None:
        where.append("d.created_at <= ? AND d.created_sort < ?")
        args += [epoch_seconds(filters.until), (epoch_seconds(filters.until) + 1) * 1_000_000]
    # The captured span [first, last] overlaps [captured_since, captured_until].
    if filters.captured_until is not None:
        where.append("d.first_captured_at <= ?")
        args.append(epoch_seconds(filters.captured_until))
    if filters.captured_since is not None:
        where.append("d.last_captured_at >= ?")
        args.append(epoch_seconds(filters.captured_since))
    return where, args
