"""Rule-based and per-item redaction of exported text (the archive itself is never changed).

Rules come from a YAML file the agency can edit (default: ``redaction_rules.yaml`` shipped with
the package); each names the exemption it rests on. Matched text becomes a visible
``[REDACTED: reason]`` mark; every redaction is logged for ``redactions.csv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from archiver.errors import ArchiverError, ConfigError
from archiver.safe_yaml import line_of, load_yaml, read_yaml

# Keys of a raw platform payload that carry visitor or page text (and so may need redaction).
TEXT_KEYS = frozenset({"message", "text", "caption", "description", "story", "body", "title"})
FLAG_NAMES = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE}


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


@dataclass
class Redactor:
    """Applies rules and per-item redactions; collects the log through ``sink``."""

    rules: tuple[Rule, ...] = ()
    items: Mapping[int, ItemRedaction] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.rules or self.items)

    def text(self, item_id: int, version: int | None, field_name: str, value: str | None,
             log: list[Redaction]) -> str | None:
        """``value`` with every redaction applied; appends what was done to ``log``."""
        if value is None or value == "":
            return value
        whole = self.items.get(item_id)
        if whole is not None:
            log.append(Redaction(item_id, version, field_name, "item", whole.exemption, 1))
            return mark(whole.reason)
        for rule in self.rules:
            value, count = rule.pattern.subn(mark(rule.reason), value)
            if count:
                log.append(Redaction(item_id, version, field_name, rule.name, rule.exemption,
                                     count))
        return value

    def payload(self, item_id: int, version: int | None, data: Any, log: list[Redaction],
                path: str = "raw") -> Any:
        """A copy of a raw JSON payload with the text-bearing keys redacted."""
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                where = f"{path}.{key}"
                if key in TEXT_KEYS and isinstance(value, str):
                    out[key] = self.text(item_id, version, where, value, log)
                else:
                    out[key] = self.payload(item_id, version, value, log, where)
            return out
        if isinstance(data, list):
            return [self.payload(item_id, version, v, log, f"{path}[{i}]")
                    for i, v in enumerate(data)]
        return data


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
