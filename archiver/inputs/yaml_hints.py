"""Plain words for PyYAML's syntax errors: the line to fix and how to fix it.

PyYAML says what its parser expected (``expected <block end>, but found '?'``), which tells the
records manager who edited a schedule nothing. :func:`explain` recognises the usual mistakes
(indentation, tabs, unclosed quotes and brackets, a missing space after a colon, a ``: `` inside
a value) and names the line to change. That is not always the line the parser stopped on: an
unclosed quote is noticed where the next quote closes it, a missing space a line later.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

INDENT_HINT = ("check the indentation of this line against the line above: use spaces, the same "
               "number for keys at the same level")
TAB_HINT = "YAML does not allow tabs for indentation: indent with spaces"

# PyYAML counts these as line breaks (a CR LF pair as one).
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# "key:value" at the start of a line: a colon with no space after it. A URL's "://" is no key.
_NO_SPACE = re.compile(r"\s*(?:-\s+)?([A-Za-z_][\w .-]*?):([^\s/:]\S*)")
# What the parser finds where a block ended early: a key or list item at the wrong depth.
_MISPLACED = ("'?'", "'-'", "'<block mapping start>'", "'<block sequence start>'", "'<scalar>'")
_INSIDE_QUOTES = {'"': 'a " inside "..." is written \\"', "'": "a ' inside '...' is written ''"}


@dataclass(frozen=True)
class Explanation:
    """The line to fix (1-based) and what is wrong there, in plain words."""

    line: int
    reason: str


class _Source:
    """The text the error's marks point into."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _BREAKS.split(text)
        # A byte order mark (Notepad writes one) is not part of the first line's text or column.
        self.lines[0] = self.lines[0].removeprefix("\ufeff")

    def char(self, mark: yaml.Mark | None, offset: int = 0) -> str:
        at = -1 if mark is None else mark.index + offset
        return self.text[at] if 0 <= at < len(self.text) else ""

    def line(self, number: int) -> str:
        """Line ``number`` (0-based, as in a mark)."""
        return self.lines[number] if 0 <= number < len(self.lines) else ""

    def content_above(self, number: int) -> int | None:
        """The nearest line above ``number`` that is neither blank nor a comment (0-based)."""
        for above in range(min(number, len(self.lines)) - 1, -1, -1):
            stripped = self.lines[above].strip()
            if stripped and not stripped.startswith("#"):
                return above
        return None

    def quote_closed_on(self, number: int) -> yaml.ScalarToken | None:
        """A quoted value that began on an earlier line and ends on line ``number``: in these
        files that is a quote left open, closed by accident by the next quote in the file."""
        found = None
        try:
            for token in yaml.scan(self.text, Loader=yaml.SafeLoader):
                if (isinstance(token, yaml.ScalarToken) and token.style in _INSIDE_QUOTES
                        and token.start_mark.line < token.end_mark.line == number):
                    found = token
        except yaml.YAMLError:
            pass  # the scanner stops where the parser did, or later
        return found

    def unclosed_bracket(self) -> yaml.Mark | None:
        """Where the innermost [ or { still open at the end of the file was opened."""
        opened: list[yaml.Mark] = []
        try:
            for token in yaml.scan(self.text, Loader=yaml.SafeLoader):
                if isinstance(token, yaml.FlowSequenceStartToken | yaml.FlowMappingStartToken):
                    opened.append(token.start_mark)
                elif (isinstance(token, yaml.FlowSequenceEndToken | yaml.FlowMappingEndToken)
                      and opened):
                    opened.pop()
        except yaml.YAMLError:
            pass
        return opened[-1] if opened else None


Rule = Callable[[yaml.MarkedYAMLError, _Source], Explanation | None]


def explain(exc: yaml.MarkedYAMLError, text: str) -> Explanation | None:
    """The line to fix and a plain reason for the syntax error ``exc`` in ``text``, or None when
    the mistake is not one of the common ones."""
    if exc.problem_mark is None:
        return None
    source = _Source(text)
    rules: tuple[Rule, ...] = (_quote, _tab, _bracket, _colon, _indentation, _other)
    for rule in rules:
        found = rule(exc, source)
        if found is not None:
            return found
    return None


def _at(mark: yaml.Mark, reason: str) -> Explanation:
    return Explanation(mark.line + 1, reason)


def _misplaced_line(source: _Source, number: int) -> Explanation:
    indent = source.line(number)[:len(source.line(number)) - len(source.line(number).lstrip())]
    return Explanation(number + 1, TAB_HINT if "\t" in indent else INDENT_HINT)


def _quote(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark, opened, problem = exc.problem_mark, exc.context_mark, exc.problem or ""
    assert mark is not None
    if "quoted scalar" in (exc.context or "") and opened is not None:
        if "unknown escape" in problem:
            return _at(mark, 'inside "..." a backslash starts an escape: write \\\\ for a '
                             "backslash, or put the value in single quotes")
        quote = source.char(opened)
        if quote in _INSIDE_QUOTES and ("end of stream" in problem or "separator" in problem):
            return _at(opened, f"the {quote} opened on this line is never closed: end the value "
                               f"with {quote} ({_INSIDE_QUOTES[quote]})")
    left_open = source.quote_closed_on(mark.line)
    if left_open is not None:
        quote = left_open.style
        return _at(left_open.start_mark,
                   f"the {quote} opened on this line is not closed until line {mark.line + 1}: "
                   f"close it on this line ({_INSIDE_QUOTES[quote]})")
    before = source.char(mark, -1)
    if problem.endswith("'<scalar>'") and before in _INSIDE_QUOTES:
        return _at(mark, f"text right after a closing {before}: close each quote once "
                         f"({_INSIDE_QUOTES[before]})")
    return None


def _tab(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark = exc.problem_mark
    assert mark is not None
    if source.char(mark) != "\t" or "cannot start any token" not in (exc.problem or ""):
        return None
    if source.line(mark.line)[:mark.column].strip():
        return _at(mark, "YAML does not allow a tab here: use a space")
    return _at(mark, TAB_HINT)


def _bracket(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark, opened, problem = exc.problem_mark, exc.context_mark, exc.problem or ""
    assert mark is not None
    if problem.endswith("'<stream end>'"):
        opened = source.unclosed_bracket() or opened
    for opener, closer, what in (("[", "]", "list"), ("{", "}", "mapping")):
        if problem.endswith(f"but found '{closer}'"):
            return _at(mark, f"this {closer} closes nothing: remove it, or add the {opener} it "
                             "belongs to")
        if (opened is not None and source.char(opened) == opener
                and (exc.context or "").startswith("while parsing a flow")
                and problem.startswith(("expected ','", "expected the node content"))):
            return _at(opened, f"the {opener} opened on this line is never closed: end the "
                               f"{what} with {closer}, and separate its items with commas")
    return None


def _colon(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark, opened, problem = exc.problem_mark, exc.context_mark, exc.problem or ""
    assert mark is not None
    if problem == "could not find expected ':'" and opened is not None:
        return (_no_space(source, opened.line) or _at(
            opened, "this line is not 'key: value' or '- item': add the missing ': ', or "
                    "indent the line to continue the value above"))
    if problem != "mapping values are not allowed here":
        return None
    if re.search(r":\s", source.line(mark.line)[:mark.column]):
        return _at(mark, "a second ': ' on this line: put a value that contains ': ' in quotes")
    above = source.content_above(mark.line)
    # The line above ended in a plain value ("b:2"), which this line only continues.
    return ((_no_space(source, above) if above is not None else None)
            or _misplaced_line(source, mark.line))


def _no_space(source: _Source, number: int) -> Explanation | None:
    found = _NO_SPACE.match(source.line(number))
    if found is None:
        return None
    key, value = found.group(1), found.group(2)[:40]
    return Explanation(number + 1, f"no space after the colon in '{key}:{value}': write "
                                   f"'{key}: {value}'")


def _indentation(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark, problem = exc.problem_mark, exc.problem or ""
    assert mark is not None
    if problem.startswith("expected <block end>") and problem.endswith(_MISPLACED):
        return _misplaced_line(source, mark.line)
    return None


def _other(exc: yaml.MarkedYAMLError, source: _Source) -> Explanation | None:
    mark = exc.problem_mark
    assert mark is not None
    if (exc.context or "").startswith("expected a single document"):
        return _at(mark, "a second document starts here ('---'): the file holds one; remove "
                         "the '---' line")
    first = source.char(mark)
    if "cannot start any token" in (exc.problem or "") and first:
        return _at(mark, f"a value cannot start with {first!r}: put the value in quotes")
    opened = exc.context_mark
    if exc.context in ("while scanning an alias", "while scanning an anchor") and opened:
        return _at(opened, f"a value cannot start with {source.char(opened)!r}: put the value "
                           "in quotes")
    return None
