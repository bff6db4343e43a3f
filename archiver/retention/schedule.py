"""Retention schedules: load a YAML file, validate it (every problem with its line), evaluate it.

A schedule lists **record series** (code, title, retention period, trigger, disposition action,
legal authority) and ordered **rules** that assign items to series; the first matching rule wins
and an item no rule matches goes to the declared ``default_series``. Validation works on PyYAML's
node tree, not on the loaded values, so every problem can name the line it comes from; the file is
read by :mod:`archiver.inputs.yaml_files`, so hostile YAML is a problem with a line too, never a
crash.

File format (see ``retention_schedules/*.yaml``)::

    schedule: wa-core-example          # the schedule's name
    title: ...
    fiscal_year_end: "06-30"            # MM-DD, needed only by end_of_fiscal_year_* triggers
    default_series: GS50-01-12
    series:
      - code: GS50-01-12
        title: Communications - Governing/Executive/Advisory
        retention: {years: 2}            # years / months / days; omitted for `permanent`
        trigger: removed
        action: transfer                 # destroy | transfer
        authority: {citation: "...", url: "https://...", confirmed: true}
    rules:
      - series: GS50-01-12
        match: {platform: [facebook], kind: [post, comment, reply]}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import yaml

from archiver.connectors import PLATFORMS
from archiver.connectors.records import ItemKind
from archiver.errors import ArchiverError
from archiver.inputs.yaml_checks import NodeChecker, Problem, node_line, read_document
from archiver.inputs.yaml_files import YamlDocument


class RetentionTrigger(StrEnum):
    """The event a series' retention period runs from (``permanent``: it never runs out)."""

    PUBLISHED = "published"
    CAPTURED = "captured"
    REMOVED = "removed"
    END_OF_CALENDAR_YEAR_AFTER_PUBLISHED = "end_of_calendar_year_after_published"
    END_OF_FISCAL_YEAR_AFTER_PUBLISHED = "end_of_fiscal_year_after_published"
    LAST_ACTIVITY_IN_THREAD = "last_activity_in_thread"
    PERMANENT = "permanent"


class DispositionAction(StrEnum):
    """What disposition does with a series' records once their period has run out."""

    DESTROY = "destroy"
    TRANSFER = "transfer"  # to the archives, in a transfer package, then destroyed here


MATCH_KEYS = ("platform", "account", "kind", "account_tag")
TOP_KEYS = {"schedule", "title", "jurisdiction", "notes", "fiscal_year_end", "default_series",
            "series", "rules"}
SERIES_KEYS = {"code", "title", "retention", "trigger", "action", "authority", "notes"}
PERIOD_KEYS = ("years", "months", "days")
# Longer than any records schedule asks for, short enough that every date computed from an item's
# date stays a valid date (year <= 9999).
PERIOD_LIMITS = {"years": 1000, "months": 12_000, "days": 365_250}
# The values a rule's match may name, where the archive has a fixed set.
MATCH_VALUES: dict[str, tuple[str, ...]] = {"platform": PLATFORMS, "kind": tuple(ItemKind)}
AUTHORITY_KEYS = {"citation", "url", "confirmed", "notes"}
RULE_KEYS = {"series", "match", "notes"}


class ScheduleError(ArchiverError):
    """A schedule file is invalid; the message lists every problem as ``file:line: reason``."""


@dataclass(frozen=True)
class Period:
    """A retention period; all zero is allowed (eligible on the trigger date itself)."""

    years: int = 0
    months: int = 0
    days: int = 0

    def text(self) -> str:
        parts = [f"{n} {unit if n == 1 else unit + 's'}" for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return ", ".join(parts) or "0 days"


@dataclass(frozen=True)
class Authority:
    citation: str
    url: str | None = None
    # False marks a period the agency has not yet adopted: purge never acts on such a series.
    confirmed: bool = True


@dataclass(frozen=True)
class Series:
    code: str
    title: str
    trigger: RetentionTrigger
    action: DispositionAction | None
    authority: Authority
    period: Period | None = None


@dataclass(frozen=True)
class Rule:
    series: str
    # key -> allowed values (lower-cased); a key left out matches anything.
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its series by code, its rules in order, and its default."""

    name: str
    title: str
    default_series: str
    series: dict[str, Series]
    rules: tuple[Rule, ...]
    fiscal_year_end: tuple[int, int] = (12, 31)
    sha256: str = ""

    def to_json(self) -> str:
        """Canonical JSON of the schedule (stored with the loaded state)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        data = json.loads(text)
        series = {
            code: Series(
                code=s["code"], title=s["title"], trigger=RetentionTrigger(s["trigger"]),
                action=DispositionAction(s["action"]) if s["action"] is not None else None,
                authority=Authority(**s["authority"]),
                period=Period(**s["period"]) if s["period"] is not None else None,
            )
            for code, s in data["series"].items()
        }
        rules = tuple(
            Rule(series=r["series"], match={k: tuple(v) for k, v in r["match"].items()},
                 line=r["line"])
            for r in data["rules"]
        )
        return cls(
            name=data["name"], title=data["title"], default_series=data["default_series"],
            series=series, rules=rules, fiscal_year_end=tuple(data["fiscal_year_end"]),
            sha256=data["sha256"],
        )

    def series_for(self, *, platform: str, account: Iterable[str], kind: str,
                   tags: Iterable[str]) -> Series:
        """The first rule's series that matches the item, else the default series."""
        facts = {
            "platform": {platform.lower()},
            "account": {a.lower() for a in account},
            "kind": {kind.lower()},
            "account_tag": {t.lower() for t in tags},
        }
        for rule in self.rules:
            if all(facts[key] & set(allowed) for key, allowed in rule.match.items()):
                return self.series[rule.series]
        return self.series[self.default_series]


# -- loading and validation -------------------------------------------------------------------


def load_schedule(path: Path) -> Schedule:
    """Read and validate ``path``; raise :class:`ScheduleError` listing every problem."""
    schedule, problems = check_schedule(path)
    if problems or schedule is None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ScheduleError(f"invalid retention schedule: {shown}{more}")
    return schedule


def check_schedule(path: Path) -> tuple[Schedule | None, list[Problem]]:
    """Validate ``path``: the schedule (None if invalid) and every problem found."""
    document, data, problems = read_document(path)
    if document is None:
        return None, problems
    checker = _Checker(document)
    schedule = checker.schedule(document.root, hashlib.sha256(data).hexdigest())
    return (schedule if not checker.problems else None), checker.problems


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


_Word = TypeVar("_Word", bound=StrEnum)


def _member(vocabulary: type[_Word], text: str | None) -> _Word | None:
    """The member of ``vocabulary`` that ``text`` names; None for none or no text."""
    try:
        return vocabulary(text) if text is not None else None
    except ValueError:
        return None


class _Checker(NodeChecker):
    """Walks the node tree, collecting problems instead of stopping at the first."""

    def __init__(self, document: YamlDocument) -> None:
        super().__init__(document)
        # Every series code the file defines, valid or not: a reference to a series that has a
        # problem of its own is not a second problem.
        self.codes: set[str] = set()

    # -- the document ------------------------------------------------------------------------
    def schedule(self, root: yaml.Node | None, sha: str) -> Schedule | None:
        if root is None:
            self.bad(1, "the file is empty")
            return None
        top = self.mapping(root, "the schedule", TOP_KEYS)
        if not isinstance(root, yaml.MappingNode):
            return None
        line = node_line(root)
        name = self.text(top.get("schedule"), "'schedule' (the schedule's name)", line)
        title = self.text(top.get("title"), "'title'", line, required=False) or (name or "")
        fiscal = self.fiscal(top.get("fiscal_year_end"))
        series = self.all_series(top.get("series"), line)
        for s in series.values():
            if s.trigger == RetentionTrigger.END_OF_FISCAL_YEAR_AFTER_PUBLISHED and fiscal is None:
                self.bad(line, f"series {s.code} uses trigger {s.trigger} but the schedule has "
                               "no fiscal_year_end (MM-DD)")
        default = self.text(top.get("default_series"), "'default_series' (the series for "
                            "items no rule matches)", line)
        if default is not None and default not in self.codes:
            self.bad(top["default_series"][1], f"default_series {default!r} is not a series "
                                               "defined in this file")
        rules = self.rules(top.get("rules"), series)
        if self.problems or name is None or default is None:
            return None
        return Schedule(name=name, title=title, default_series=default, series=series,
                        rules=tuple(rules), fiscal_year_end=fiscal or (12, 31), sha256=sha)

    def fiscal(self, entry: tuple[yaml.Node, yaml.Node] | None) -> tuple[int, int] | None:
        if entry is None:
            return None
        node = entry[1]
        # The text as written: 2024-06-30 would otherwise show as datetime.date(2024, 6, 30).
        text = node.value if isinstance(node, yaml.ScalarNode) else str(self.value(node))
        try:
            month, day = (int(p) for p in text.split("-"))
            date(2001, month, day)  # a non-leap year: 02-29 cannot end every fiscal year
        except (ValueError, OverflowError):
            self.bad(node, f"fiscal_year_end {text!r} is not a month-day like 06-30")
            return None
        return month, day

    def all_series(self, entry: tuple[yaml.Node, yaml.Node] | None,
                   line: int) -> dict[str, Series]:
        if entry is None or not isinstance(entry[1], yaml.SequenceNode) or not entry[1].value:
            self.bad(entry[1] if entry else line, "'series' must be a non-empty list")
            return {}
        found: dict[str, Series] = {}
        for node in entry[1].value:
            series = self.one_series(node)
            if series is None:
                continue
            if series.code in found:
                self.bad(node, f"series code {series.code!r} is defined twice")
                continue
            found[series.code] = series
        return found

    def one_series(self, node: yaml.Node) -> Series | None:
        fields = self.mapping(node, "a series", SERIES_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        line = node_line(node)
        code = self.text(fields.get("code"), "series 'code'", line)
        if code is not None:
            self.codes.add(code)
        what = f"series {code}" if code else "a series"
        title = self.text(fields.get("title"), f"'title' of {what}", line)
        trigger_text = self.text(fields.get("trigger"), f"'trigger' of {what}", line)
        # Whether an action and a period are needed depends on the trigger: with no valid trigger
        # their absence is not a problem of its own.
        trigger = _member(RetentionTrigger, trigger_text)
        known_trigger = trigger is not None
        if trigger_text is not None and trigger is None:
            self.bad(fields["trigger"][1], f"{what}: trigger {trigger_text!r} does not exist "
                                           f"(one of: {', '.join(RetentionTrigger)})")
        permanent = trigger == RetentionTrigger.PERMANENT
        action_text = self.text(fields.get("action"), f"'action' of {what}", line,
                                required=known_trigger and not permanent)
        action = _member(DispositionAction, action_text)
        if action_text is not None and action is None:
            self.bad(fields["action"][1], f"{what}: action {action_text!r} is not one of "
                                          f"{', '.join(DispositionAction)}")
        period = None
        if permanent:
            if "retention" in fields:
                self.bad(fields["retention"][0], f"{what}: a permanent series has no retention "
                                                 "period")
        elif "retention" not in fields:
            if known_trigger:
                self.bad(line, f"{what}: missing 'retention' period (years/months/days)")
        else:
            period = self.period(fields["retention"][1], what)
        authority = self.authority(fields.get("authority"), what, line)
        if None in (code, title, trigger, authority) or (not permanent and None in (action,
                                                                                    period)):
            return None
        assert code and title and trigger and authority
        return Series(code=code, title=title, trigger=trigger, action=action,
                      authority=authority, period=period)

    def period(self, node: yaml.Node, what: str) -> Period | None:
        if not isinstance(node, yaml.MappingNode):
            self.bad(node, f"{what}: retention {self.value(node)!r} is not a duration (write "
                           "e.g. {years: 2} or {months: 6, days: 15})")
            return None
        fields = self.mapping(node, f"the retention of {what}", PERIOD_KEYS)
        if not fields:
            self.bad(node, f"{what}: retention is empty: give years, months and/or days")
            return None
        values: dict[str, int] = {}
        for key, (_, value_node) in fields.items():
            value = self.value(value_node)
            limit = PERIOD_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
                self.bad(value_node, f"{what}: retention {key} {value!r} is not a whole number "
                                     f"from 0 to {limit}")
                return None
            values[key] = value
        return Period(**values)

    def authority(self, entry: tuple[yaml.Node, yaml.Node] | None, what: str,
                  line: int) -> Authority | None:
        if entry is None:
            self.bad(line, f"{what}: missing 'authority' (citation, url): a series must say "
                           "what law or schedule allows its disposition")
            return None
        fields = self.mapping(entry[1], f"the authority of {what}", AUTHORITY_KEYS)
        citation = self.text(fields.get("citation"), f"authority 'citation' of {what}",
                             node_line(entry[1]))
        url = self.text(fields.get("url"), f"authority 'url' of {what}", 0, required=False)
        confirmed = True
        if "confirmed" in fields:
            confirmed = self.value(fields["confirmed"][1])
            if not isinstance(confirmed, bool):
                self.bad(fields["confirmed"][1], f"{what}: authority 'confirmed' must be true "
                                                 "or false")
                return None
        if citation is None:
            return None
        return Authority(citation=citation, url=url, confirmed=confirmed)

    def rules(self, entry: tuple[yaml.Node, yaml.Node] | None,
              series: Mapping[str, Series]) -> list[Rule]:
        if entry is None:
            return []
        if not isinstance(entry[1], yaml.SequenceNode):
            self.bad(entry[1], "'rules' must be a list")
            return []
        rules: list[Rule] = []
        for node in entry[1].value:
            rule = self.rule(node, series)
            if rule is None:
                continue
            for earlier in rules:
                if _covers(earlier, rule):
                    self.bad(node, f"rule for {rule.series} is shadowed by the rule on line "
                                   f"{earlier.line} (for {earlier.series}), which matches "
                                   "everything it matches: it can never apply")
                    break
            rules.append(rule)
        return rules

    def rule(self, node: yaml.Node, series: Mapping[str, Series]) -> Rule | None:
        fields = self.mapping(node, "a rule", RULE_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        line = node_line(node)
        code = self.text(fields.get("series"), "rule 'series'", line)
        if code is not None and self.codes and code not in self.codes:
            self.bad(fields["series"][1], f"rule names series {code!r}, which is not defined")
        if code not in series:
            code = None  # undefined, or defined with a problem already reported
        match: dict[str, tuple[str, ...]] = {}
        if "match" in fields:
            for key, (_, value_node) in self.mapping(fields["match"][1], "a rule's match",
                                                     MATCH_KEYS).items():
                value = self.value(value_node)
                values = value if isinstance(value, list) else [value]
                if not values or not all(isinstance(v, str | int) and not isinstance(v, bool)
                                         for v in values):
                    self.bad(value_node, f"match {key} must be a value or a list of values")
                    continue
                wanted = {str(v).lower() for v in values}
                known = MATCH_VALUES.get(key)
                unknown = sorted(wanted - set(known)) if known is not None else []
                if unknown:
                    self.bad(value_node, f"match {key} {', '.join(map(repr, unknown))}: no such "
                                         f"{key} (one of: {', '.join(known or ())})")
                    continue
                match[key] = tuple(sorted(wanted))
        if code is None:
            return None
        return Rule(series=code, match=match, line=line)


def _covers(earlier: Rule, later: Rule) -> bool:
    """True if every item ``later`` matches is matched by ``earlier`` first."""
    for key, allowed in earlier.match.items():
        if key not in later.match or not set(later.match[key]) <= set(allowed):
            return False
    return True
