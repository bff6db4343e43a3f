"""Rule-based and per-item redaction of exported text (the archive itself is never changed).

Rules come from a YAML file the agency can edit (default: ``redaction_rules.yaml`` shipped with
the package); each names the exemption it rests on. Matched text becomes a visible
``[REDACTED: reason]`` mark; every redaction is logged for ``redactions.csv``.

Rules match a normalized view of each string, so a number written with fullwidth digits,
non-breaking hyphens or zero-width characters between its digits is still found; the mark then
replaces the original characters. Platform payloads are redacted whole: every string at any
depth, keys included, because each platform keeps visitor text under keys of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from archiver.errors import ArchiverError, ConfigError
from archiver.inputs.yaml_files import line_of, load_yaml, read_yaml

FLAG_NAMES = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE}
# Dash-like characters outside Unicode's dash punctuation category (Pd), which folds as a whole.
OTHER_DASHES = frozenset("\u2212\u2043\u02d7\u2796\ufe63")
# Characters that show nothing or only decorate the one before them: format characters
# (zero-width space and joiners, word joiner, BOM, soft hyphen, bidi controls) and combining
# marks. A reader sees the same number with or without them.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@dataclass(frozen=True)
class Rule:
    """One pattern, the reason shown in the mark and the exemption it rests on."""

    name: str
    pattern: re.Pattern[str]
    reason: str
    exemption: str


@dataclass(frozen=True)
class ItemRedaction:
    """``--redact-item ID:reason``: the whole text of one item, every version."""

    item_id: int
    reason: str
    exemption: str = ""


@dataclass(frozen=True)
class Redaction:
    """One logged redaction (a row of ``redactions.csv``)."""

    item_id: int
    version: int | None
    field: str
    rule: str
    exemption: str
    count: int


def mark(reason: str) -> str:
    """The visible replacement text."""
    return f"[REDACTED: {reason}]"


def _fold(ch: str) -> str:
    """One non-ASCII character as rules see it: compatibility form (NFKC: fullwidth digits,
    non-breaking spaces), dashes as '-', invisible characters dropped."""
    if unicodedata.category(ch) in INVISIBLE_CATEGORIES:
        return ""
    return "".join("-" if unicodedata.category(c) == "Pd" or c in OTHER_DASHES else c
                   for c in unicodedata.normalize("NFKC", ch)
                   if unicodedata.category(c) not in INVISIBLE_CATEGORIES)


@dataclass(frozen=True)
class NormalizedView:
    """A string as rules match it, with the original offset of each of its characters.

    Characters are normalized one at a time, so every character of the view comes from exactly
    one original character and a match maps back to a whole original span.
    """

    text: str
    origins: tuple[int, ...] | None = None  # None: the view is the original

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span holding the view's characters ``start:end`` (``end > start``)."""
        if self.origins is None:
            return start, end
        return self.origins[start], self.origins[end - 1] + 1


def normalized_view(value: str) -> NormalizedView:
    """``value`` folded for matching (see :func:`_fold`); ASCII text is its own view."""
    if value.isascii():
        return NormalizedView(value)
    chars: list[str] = []
    origins: list[int] = []
    pos = 0
    for found in _NON_ASCII.finditer(value):
        at = found.start()
        chars.append(value[pos:at])
        origins.extend(range(pos, at))
        folded = _fold(value[at])
        chars.append(folded)
        origins.extend([at] * len(folded))
        pos = at + 1
    chars.append(value[pos:])
    origins.extend(range(pos, len(value)))
    text = "".join(chars)
    return NormalizedView(value) if text == value else NormalizedView(text, tuple(origins))


def match_spans(pattern: re.Pattern[str], value: str,
                view: NormalizedView | None = None) -> list[tuple[int, int]]:
    """Original spans of ``value`` that ``pattern`` matches, in the normalized view or as
    written (dropping a character can also undo a match, e.g. at a word boundary), merged.
    ``view`` is ``value``'s view when the caller already has it."""
    view = view or normalized_view(value)
    spans = [view.original_span(m.start(), m.end())
             for m in pattern.finditer(view.text) if m.end() > m.start()]
    if view.origins is not None:
        spans += [m.span() for m in pattern.finditer(value) if m.end() > m.start()]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _replace(value: str, spans: list[tuple[int, int]], replacement: str) -> str:
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out += [value[pos:start], replacement]
        pos = end
    out.append(value[pos:])
    return "".join(out)


@dataclass
class Redactor:
    """Applies rules and per-item redactions; each call appends what it did to ``log``."""

    rules: tuple[Rule, ...] = ()
    items: Mapping[int, ItemRedaction] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.rules or self.items)

    def withholds(self, item_id: int) -> bool:
        """Whether ``item_id`` is withheld whole, so none of its content (media too) goes out."""
        return item_id in self.items

    def text(self, item_id: int, version: int | None, field_name: str, value: str | None,
             log: list[Redaction]) -> str | None:
        """``value`` with every redaction applied; appends what was done to ``log``."""
        if value is None or value == "":
            return value
        whole = self.items.get(item_id)
        if whole is not None:
            log.append(Redaction(item_id, version, field_name, "item", whole.exemption, 1))
            return mark(whole.reason)
        return self.metadata(item_id, version, field_name, value, log)

    def metadata(self, item_id: int, version: int | None, field_name: str, value: str | None,
                 log: list[Redaction]) -> str | None:
        """``value`` (an author, a URL, an id: not the item's text) with the rules applied."""
        if not value or not self.rules:
            return value
        view: NormalizedView | None = None
        for rule in self.rules:
            view = view or normalized_view(value)
            spans = match_spans(rule.pattern, value, view)
            if spans:
                value = _replace(value, spans, mark(rule.reason))
                view = None
                log.append(Redaction(item_id, version, field_name, rule.name, rule.exemption,
                                     len(spans)))
        return value

    def payload(self, item_id: int, version: int | None, data: Any, log: list[Redaction],
                path: str = "raw") -> Any:
        """A redacted copy of a JSON payload: every string at any depth, keys included.

        An item redacted whole has every string value withheld (its keys keep the rules only,
        so the payload keeps its shape).
        """
        if isinstance(data, str):
            return self.text(item_id, version, path, data, log)
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                found: list[Redaction] = []
                name = key
                if isinstance(key, str):
                    name = _free_key(out, self.metadata(item_id, version, path, key, found) or "")
                # Logged under the key's new name: the log must not repeat what it removed.
                log.extend(replace(r, field=f"{path}.{name}") for r in found)
                out[name] = self.payload(item_id, version, value, log, f"{path}.{name}")
            return out
        if isinstance(data, list):
            return [self.payload(item_id, version, v, log, f"{path}[{i}]")
                    for i, v in enumerate(data)]
        return data


def _free_key(taken: Mapping[str, Any], name: str) -> str:
    """``name``, or ``name (2)``, ``(3)``... when two keys redact to the same mark."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


NO_REDACTION = Redactor()


def _compile(entry: Any, where: str) -> Rule:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each rule must be a mapping")
    missing = [k for k in ("name", "pattern", "reason", "exemption") if not entry.get(k)]
    if missing:
        raise ConfigError(f"{where}: rule {entry.get('name')!r} lacks {', '.join(missing)}")
    flags = 0
    for flag in str(entry.get("flags") or "").replace(",", " ").split():
        if flag not in FLAG_NAMES:
            raise ConfigError(f"{where}: rule {entry['name']!r}: unknown flag {flag!r}")
        flags |= FLAG_NAMES[flag]
    try:
        pattern = re.compile(str(entry["pattern"]), flags)
    except re.error as exc:
        raise ConfigError(f"{where}: rule {entry['name']!r}: bad pattern: {exc}") from None
    return Rule(name=str(entry["name"]), pattern=pattern, reason=str(entry["reason"]),
                exemption=str(entry["exemption"]))


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """The rules in ``path``, or the shipped defaults."""
    if path is None:
        where = "default redaction rules"
        data = load_yaml(resources.files("archiver.exports").joinpath("redaction_rules.yaml")
                         .read_text("utf-8"), where)
    else:
        where = f"redaction rules {path}"
        data = read_yaml(path, where)
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise ConfigError(f"{where}: expected a 'rules' list")
    listed = data["rules"]
    return tuple(_compile(entry, f"{where}:{line_of(entry, line_of(listed))}") for entry in listed)


def parse_item_redactions(specs: Iterator[str] | tuple[str, ...] | list[str],
                          exemption: str = "") -> dict[int, ItemRedaction]:
    """``["12:ongoing investigation", ...]`` -> per-item redactions."""
    out: dict[int, ItemRedaction] = {}
    for spec in specs:
        item, sep, reason = spec.partition(":")
        if not sep or not item.strip().isdigit() or not reason.strip():
            raise ArchiverError(f"--redact-item: {spec!r} is not ITEM_ID:reason")
        out[int(item)] = ItemRedaction(int(item), reason.strip(), exemption or reason.strip())
    return out
