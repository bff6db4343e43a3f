"""Where a monitoring rule matches: spans of a text (or the author), on the normalized spelling.

Texts are matched as redaction rules match them (:func:`archiver.exports.redaction.match_spans`):
fullwidth digits, any dash and invisible characters are folded first, and spans point back into
the text as written, so a phone number typed with fullwidth digits is still found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from archiver.exports.redaction import NormalizedView, match_spans, normalized_view
from archiver.monitoring.rules import PERSON_NAME, WORD, MonitoringRule, fold_name

_SCHEME = re.compile(r"(?i)^(?:https?://)?(?:www\.)?")


@dataclass(frozen=True)
class Hit:
    """A rule that matched: in which field, its first span there, and how many spans."""

    rule: MonitoringRule
    field: str  # text | author
    start: int | None
    end: int | None
    count: int


def link_host(link: str) -> str:
    """The host a link names: ``https://www.Example.org/x`` and ``example.org/x`` both give
    ``example.org``."""
    rest = _SCHEME.sub("", link)
    return re.split(r"[/:?#]", rest, maxsplit=1)[0].lower().rstrip(".")


def _allowed_host(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _near_a_name(text: str, spans: list[tuple[int, int]], words: int) -> list[tuple[int, int]]:
    """The spans with a person's name at most ``words`` words before or after them."""
    names = [m.span() for m in PERSON_NAME.finditer(text)]
    kept = []
    for start, end in spans:
        for n_start, n_end in names:
            if n_start < end and start < n_end:
                continue  # the word is part of the capitalised run itself ("Guilty Plea")
            between = text[end:n_start] if n_start >= end else text[n_end:start]
            if len(WORD.findall(between)) <= words:
                kept.append((start, end))
                break
    return kept


def text_spans(rule: MonitoringRule, text: str,
               view: NormalizedView | None = None) -> list[tuple[int, int]]:
    """The spans of ``text`` that ``rule`` flags (``view``: the text's normalized view, when
    the caller already has it)."""
    if rule.pattern is None or not text:
        return []
    spans = match_spans(rule.pattern, text, view)
    if rule.matcher == "links" and rule.except_domains:
        spans = [(s, e) for s, e in spans
                 if not _allowed_host(link_host(text[s:e]), rule.except_domains)]
    if rule.near_name is not None:
        spans = _near_a_name(text, spans, rule.near_name)
    return spans


def run_rules(rules: Sequence[MonitoringRule], text: str | None, author_name: str | None,
              author_id: str | None) -> list[Hit]:
    """Every rule of ``rules`` that matches the text or the author, first span first."""
    hits: list[Hit] = []
    view = normalized_view(text) if text else None
    for rule in rules:
        if rule.matcher == "authors":
            names = {fold_name(a) for a in (author_name, author_id) if a}
            if names & rule.authors:
                hits.append(Hit(rule, "author", None, None, 1))
            continue
        spans = text_spans(rule, text or "", view)
        if spans:
            hits.append(Hit(rule, "text", spans[0][0], spans[0][1], len(spans)))
    return hits
