"""Checks on a search query's text, made before any parser sees it (both engines share them).

Whoosh's parser reads a malformed query as *some* query: an unmatched ``(`` or ``"`` is dropped,
an operator with nothing on one side (``closure OR``) becomes the word "or", an empty group
``()`` vanishes. A records search must not quietly answer a different question, so these are
refused here with one line that says what is wrong. The parser's cost also grows faster than
the query (a 100 KB query took over a minute), so the length is capped before parsing.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.errors import QueryError

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
