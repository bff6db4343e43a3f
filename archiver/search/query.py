"""The query language both engines read, and the checks made before any parser sees a query.

Whoosh's parser reads a malformed query as *some* query: an unmatched ``(`` or ``"`` is dropped,
an operator with nothing on one side (``closure OR``) becomes the word "or", an empty group
``()`` vanishes. A records search must not quietly answer a different question, so these are
refused here with one line that says what is wrong. The parser's cost also grows faster than
the query (a 100 KB query took over a minute), so the length is capped before parsing.

The language is Whoosh's query syntax, parsed by the Whoosh library's parser against the field
layout below (:func:`build_schema`) into a tree of ``whoosh.query`` nodes: the Whoosh engine runs
that tree, and the FTS5 engine (:mod:`archiver.search.fts5.query`) compiles it to SQL. Nothing here
depends on either engine's index.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime

from whoosh import qparser, query
from whoosh.analysis import (
    CharsetFilter,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StopFilter,
)
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, NUMERIC, TEXT, Schema
from whoosh.support.charset import accent_map

from archiver.errors import QueryError
from archiver.search.interface import NO_DATE_SORT_KEY, clean_text, epoch_seconds

# Long enough for a hold listing a few hundred names ("smith OR jones OR ..."), short enough
# that parsing stays well under a second.
MAX_QUERY_CHARS = 4096
MAX_QUERY_ECHO = 120
# Whoosh's operators (whoosh.qparser.plugins.OperatorsPlugin): upper case only.
BINARY_OPERATORS = frozenset({"AND", "OR", "ANDNOT", "ANDMAYBE", "REQUIRE"})
NOT = "NOT"
_OPERATOR_HINT = "(to search for the word itself, write it in lower case or in quotes)"


def echo_query(text: str) -> str:
    """A query quoted for an error message: one line, however long or odd the query."""
    shown = text if len(text) <= MAX_QUERY_ECHO else text[:MAX_QUERY_ECHO] + "..."
    return repr(shown)


def _error(text: str, reason: str) -> QueryError:
    return QueryError(f"search query {echo_query(text)}: {reason}")


def check_balanced(text: str) -> None:
    """Raise QueryError for an unmatched '(' or ')' outside quotes, or an unclosed '"'."""
    depth = 0
    in_quote = False
    for char in text:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
        elif not in_quote and char == ")":
            depth -= 1
            if depth < 0:
                raise _error(text, "')' without a matching '('")
    if in_quote:
        raise _error(text, "a '\"' is not closed")
    if depth:
        raise _error(text, "a '(' is not closed")


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" | ")" | "term" (a word, field:value, phrase, range piece) | "op"
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    """Parentheses, operators and terms outside quotes, in order (quotes are balanced)."""
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append(_Token(char, char, i, i + 1))
            i += 1
        else:  # a term: up to a space or parenthesis outside quotes (author:"jane doe"~2)
            start = i
            while i < n and not text[i].isspace() and text[i] not in "()":
                if text[i] == '"':
                    i = text.index('"', i + 1)
                i += 1
            word = text[start:i]
            kind = "op" if word in BINARY_OPERATORS or word == NOT else "term"
            out.append(_Token(kind, word, start, i))
    return out


def _spaced(text: str, token: _Token, *, before: str = "") -> bool:
    """Whether Whoosh reads ``token`` as an operator: whitespace after it, and before it
    whitespace (or, for NOT, the start of the query or a parenthesis)."""
    after_ok = token.end < len(text) and text[token.end].isspace()
    if token.start == 0:
        return after_ok and bool(before)
    prev = text[token.start - 1]
    return after_ok and (prev.isspace() or prev in before)


def check_operators(text: str) -> None:
    """Raise QueryError for an empty group or an operator without its terms."""
    tokens = _tokens(text)
    for k, token in enumerate(tokens):
        prev = tokens[k - 1] if k > 0 else None
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if token.kind == "(" and nxt is not None and nxt.kind == ")":
            raise _error(text, "'()' has nothing to search for")
        if token.kind != "op":
            continue
        opens = nxt is not None and nxt.kind in ("term", "(")
        if token.text == NOT:
            if not opens:
                raise _error(text, f"'NOT' must be followed by a word, phrase or group "
                                   f"{_OPERATOR_HINT}")
            if not _spaced(text, token, before="()"):
                raise _error(text, f"'NOT' needs a space after it {_OPERATOR_HINT}")
            continue
        if nxt is not None and nxt.kind == "op" and nxt.text == NOT:
            opens = True
        closes = prev is not None and prev.kind in ("term", ")")
        if not (closes and opens):
            side = "before" if not closes else "after"
            raise _error(text, f"'{token.text}' has nothing {side} it {_OPERATOR_HINT}")
        if not _spaced(text, token):
            raise _error(text, f"'{token.text}' needs a space on each side {_OPERATOR_HINT}")


def check_query_text(text: str) -> str:
    """``text`` stripped, after the checks every query passes before parsing: at most
    MAX_QUERY_CHARS characters, not empty, balanced, no dangling operator, no empty group."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"search query is too long: {len(text)} characters "
                         f"(at most {MAX_QUERY_CHARS})")
    text = text.strip()
    if not text:
        raise QueryError("search query is empty: use '*' to match everything")
    if text != "*":
        check_balanced(text)
        check_operators(text)
    return text

# Tiers of 8 bits keep a date range to a few hundred terms; wider tiers made ranges 3x slower.
DATE_SHIFT_STEP = 8
# Terms longer than this are noise (base64 blobs, keyboard mashing) and only bloat the index.
MAX_TERM_CHARS = 200
DEFAULT_FIELDS = ("text", "history_text", "author")
FIELD_BOOSTS = {"text": 2.0, "history_text": 1.0, "author": 1.5}

# No stop words: an investigator searching "to be or not to be" means exactly that.
TEXT_ANALYZER = (
    RegexTokenizer()
    | LowercaseFilter()
    | CharsetFilter(accent_map)
    | StopFilter(stoplist=frozenset(), minsize=1, maxsize=MAX_TERM_CHARS)
)
_KEY_ANALYZER = IDTokenizer() | LowercaseFilter()


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
        author=TEXT(analyzer=TEXT_ANALYZER),
        author_exact=ID(analyzer=_KEY_ANALYZER),
        text=TEXT(analyzer=TEXT_ANALYZER),
        history_text=TEXT(analyzer=TEXT_ANALYZER),
        created_at=_date_field(),
        created_sort=COLUMN(NumericColumn("q", default=NO_DATE_SORT_KEY)),
        # The version each doc was built from: verify compares it with the database.
        seq=COLUMN(NumericColumn("q", default=0)),
        first_captured_at=_date_field(),
        last_captured_at=_date_field(),
    )


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
            leaf.fieldname = "text"
        return leaf

    return node.accept(retarget)


def mentions_history(node: query.Query) -> bool:
    """True when some leaf searches earlier versions' text."""
    if getattr(node, "fieldname", None) == "history_text":
        return True
    return any(mentions_history(child) for child in node.children())


_QUERY_SCHEMA = build_schema()
# A relation right after a field name (created_at:>=1704067200), or any other '<' or '>'.
_ANGLES = re.compile(r"(:(?:<=|>=|=<|=>|<|>))|[<>]")


def bare_angles_as_spaces(text: str) -> str:
    """``text`` with every '<' and '>' outside quotes that does not follow ``field:`` made a space.

    Whoosh reads a relation only right after a field name; anywhere else it drops the symbol,
    except at the start of a group (``<script>`` pasted from a comment), where its parser fails.
    Both engines' analyzers drop the symbols from words anyway, so such a query is searched as
    its words. Quoted phrases are left as they are (quotes are balanced by then)."""
    parts = text.split('"')
    parts[::2] = [_ANGLES.sub(lambda m: m.group(1) or " ", part) for part in parts[::2]]
    return '"'.join(parts)


def parse_user_query(text: str) -> query.Query | None:
    """Parse a user's query as both engines read it; None for ``*`` (every item).

    Raises QueryError (one line) for a query that is too long, empty, malformed or means nothing
    (see :mod:`archiver.search.query`), checked before Whoosh's parser runs.
    """
    text = check_query_text(clean_text(text))
    if text == "*":
        return None
    parser = qparser.MultifieldParser(list(DEFAULT_FIELDS), _QUERY_SCHEMA,
                                      fieldboosts=FIELD_BOOSTS)
    parser.add_plugin(qparser.GtLtPlugin())
    try:
        parsed = parser.parse(bare_angles_as_spaces(text))
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
