"""Monitoring rule files: load a YAML file, validate it (every problem with its line), compile it.

A rule file has two parts. ``monitor`` lists the rules run on what is captured; each names the
policy ground it serves and matches one way:

* ``words``: a list of words and phrases (case and spelling folded; ``idiot*`` also matches
  ``idiots``; a space matches any run of spaces);
* ``pattern``: a regular expression (Python syntax, run on the normalized text);
* ``links``: web addresses, bare domains too, except those under ``except_domains``;
* ``authors``: visitors by name or platform id (blocked authors).

A rule applies to visitors' comments and replies (``applies_to: visitors``, the default) or to
the department's own posts and replies (``applies_to: department``); a department rule may ask
that its words stand within ``near_name`` words of a person's name (GO 80.11 III.A.2.a(3): no
statement about a suspect's guilt). Every match is for review; nothing is hidden or removed.

``page_requirements`` lists what each page must state (GO 80.11 III.A.1.b and III.A.1.d): a
requirement is met when each of its groups (``all_of``; or the one group of ``phrases`` and
``patterns`` written on the requirement itself) finds one of its phrases or patterns in the
account's public profile.

The file is read by :mod:`archiver.inputs.yaml_files` (no aliases, bounded depth, a key given
twice refused, syntax errors in plain words) and checked on PyYAML's node tree, so every problem
names the line to fix. See ``archiver/monitoring/rules/go-80-11.yaml``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from archiver.errors import ArchiverError
from archiver.exports.redaction import FLAG_NAMES
from archiver.inputs.yaml_checks import (
    Entry,
    NodeChecker,
    Problem,
    node_line,
    parse_document,
    read_document,
)
from archiver.inputs.yaml_files import YamlDocument
from archiver.terminal import has_control_characters

SHIPPED_FILE = "go-80-11.yaml"
CATEGORIES = ("obscenity", "threat", "personal_attack", "personal_info", "link", "off_topic",
              "blocked_author", "own_post")
AUDIENCES = ("visitors", "department")
MATCHERS = ("words", "pattern", "links", "authors")
TOP_KEYS = {"rules", "title", "notes", "monitor", "page_requirements"}
RULE_KEYS = {"name", "category", "ground", "applies_to", "near_name", "flags", "notes",
             *MATCHERS}
LINK_KEYS = {"except_domains"}
REQUIREMENT_KEYS = {"id", "ground", "title", "phrases", "patterns", "all_of", "notes"}
GROUP_KEYS = {"phrases", "patterns"}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A web address, or a bare domain ("spam-link.example.invalid") not part of an e-mail address.
LINK = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"'()]+"
    r"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b(?:/[^\s<>\"'()]*)?")
WORD = re.compile(r"\w+")
# Two or more capitalised words (an initial may stand between): "Harold Finch", "John Q. Smith".
PERSON_NAME = re.compile(r"\b[A-Z][a-z'-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-z'-]+)+\b")


class RulesError(ArchiverError):
    """A rule file is invalid; the message lists every problem as ``file:line: reason``."""


@dataclass(frozen=True)
class MonitoringRule:
    """One compiled rule: what it matches, whose words, the category and the policy ground."""

    name: str
    category: str
    ground: str
    audience: str
    matcher: str  # words | pattern | links | authors
    pattern: re.Pattern[str] | None = None
    authors: frozenset[str] = frozenset()
    except_domains: tuple[str, ...] = ()
    near_name: int | None = None
    line: int = 0


@dataclass(frozen=True)
class Requirement:
    """What a page must state; met when every group finds one of its phrases or patterns."""

    id: str
    ground: str
    title: str
    groups: tuple[tuple[re.Pattern[str], ...], ...]
    line: int = 0


@dataclass(frozen=True)
class RuleSet:
    """A validated rule file: its rules in order and the page requirements."""

    name: str
    title: str
    source: str
    sha256: str
    text: str
    rules: tuple[MonitoringRule, ...] = ()
    requirements: tuple[Requirement, ...] = ()

    def for_audience(self, audience: str) -> tuple[MonitoringRule, ...]:
        """The rules run on ``audience``'s words (``visitors`` or ``department``)."""
        return tuple(r for r in self.rules if r.audience == audience)


def words_pattern(words: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for a list of words and phrases (``stem*`` for a stem)."""
    alternatives = []
    for word in sorted(words, key=len, reverse=True):
        stem = word.endswith("*")
        body = r"\s+".join(re.escape(part) for part in word.rstrip("*").split())
        alternatives.append(body + (r"\w*" if stem else ""))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


# -- loading ------------------------------------------------------------------------------------


def shipped_rules_path() -> Path:
    """The GO 80.11 rule file shipped with the package."""
    return Path(str(resources.files("archiver.monitoring").joinpath("rules", SHIPPED_FILE)))


def load_rules_file(path: Path) -> RuleSet:
    """Read and validate ``path``; raise :class:`RulesError` listing every problem."""
    document, data, problems = read_document(path)
    return _valid(_checked(document, data, problems))


def parse_rules(text: str, source: str) -> RuleSet:
    """Validate rule-file ``text`` read from ``source``; raise :class:`RulesError` listing every
    problem (at most 20)."""
    return _valid(check_rules(text, source))


def check_rules(text: str, source: str) -> tuple[RuleSet | None, list[Problem]]:
    """The rule set in ``text`` (None if invalid) and every problem found."""
    return _checked(*parse_document(text.encode("utf-8", "surrogatepass"), source))


def _checked(document: YamlDocument | None, data: bytes,
             problems: list[Problem]) -> tuple[RuleSet | None, list[Problem]]:
    if document is None:
        return None, problems
    checker = _Checker(document)
    found = checker.rule_set(document.root, data.decode("utf-8"),
                             hashlib.sha256(data).hexdigest())
    return (found if not checker.problems else None), checker.problems


def _valid(checked: tuple[RuleSet | None, list[Problem]]) -> RuleSet:
    rules, problems = checked
    if problems or rules is None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise RulesError(f"invalid monitoring rules: {shown}{more}")
    return rules


def shipped_rules() -> RuleSet:
    """The shipped GO 80.11 rule set (what runs until an agency loads its own)."""
    path = shipped_rules_path()
    return parse_rules(path.read_text(encoding="utf-8"), f"shipped rules {SHIPPED_FILE}")


# -- validation ---------------------------------------------------------------------------------


class _Checker(NodeChecker):
    """Walks the node tree, collecting every problem instead of stopping at the first."""

    def strings(self, entry: Entry, what: str, *, empty: bool = False) -> list[str] | None:
        """A list of one-line texts (a single text counts as a list of one); ``empty`` allows
        an empty list."""
        node = entry[1]
        values = self.value(node)
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not (values or empty):
            self.bad(node, f"{what} must be a non-empty list, e.g. [one, two]")
            return None
        out: list[str] = []
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for item_node, value in zip(items, values, strict=True):
            if not isinstance(value, str) or not value.strip() or has_control_characters(value):
                self.bad(item_node, f"{what}: {value!r} is not one line of text (put it in "
                                    "quotes)")
                continue
            out.append(value.strip())
        return out if len(out) == len(values) else None

    # -- the document ------------------------------------------------------------------------
    def rule_set(self, root: yaml.Node | None, text: str, sha: str) -> RuleSet | None:
        if root is None:
            self.bad(1, "the file is empty: it needs 'rules' (a name) and 'monitor' or "
                        "'page_requirements'")
            return None
        top = self.mapping(root, "the rule file", TOP_KEYS)
        if not isinstance(root, yaml.MappingNode):
            return None
        line = node_line(root)
        name = self.text(top.get("rules"), "'rules' (the rule file's name)", line)
        title = self.text(top.get("title"), "'title'", line, required=False) or name or ""
        if "monitor" not in top and "page_requirements" not in top:
            self.bad(line, "the file has neither 'monitor' nor 'page_requirements': nothing "
                           "to check")
        rules = list(self.each(top.get("monitor"), "'monitor'", self.rule))
        requirements = list(self.each(top.get("page_requirements"), "'page_requirements'",
                                      self.requirement))
        self.unique([(r.name, r.line) for r in rules], "rule name")
        self.unique([(r.id, r.line) for r in requirements], "requirement id")
        if self.problems or name is None:
            return None
        return RuleSet(name=name, title=title, source=self.file, sha256=sha, text=text,
                       rules=tuple(rules), requirements=tuple(requirements))

    def each(self, entry: Entry | None, what: str, check: Any) -> Iterator[Any]:
        if entry is None:
            return
        if not isinstance(entry[1], yaml.SequenceNode):
            self.bad(entry[1], f"{what} must be a list (each entry starting with '- ')")
            return
        for node in entry[1].value:
            found = check(node)
            if found is not None:
                yield found

    def unique(self, names: list[tuple[str, int]], what: str) -> None:
        first: dict[str, int] = {}
        for name, line in names:
            if name in first:
                self.bad(line, f"{what} {name!r} is used twice, on lines {first[name]} and "
                               f"{line}: give each its own")
            first.setdefault(name, line)

    def identifier(self, fields: dict[str, Entry], key: str, what: str, line: int) -> str | None:
        """A rule's name or a requirement's id: short, lower case, the same in every report."""
        value = self.text(fields.get(key), f"{what} '{key}'", line)
        if value is not None and not NAME.match(value):
            self.bad(fields[key][1], f"{what} {key} {value!r}: use lower-case letters, digits, "
                                     "'-', '_' and '.' (at most 64)")
            return None
        return value

    # -- monitoring rules --------------------------------------------------------------------
    def rule(self, node: yaml.Node) -> MonitoringRule | None:
        fields = self.mapping(node, "a rule", RULE_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        line = node_line(node)
        name = self.identifier(fields, "name", "rule", line)
        what = f"rule {name}" if name else "a rule"
        category = self.choice(fields.get("category"), f"'category' of {what}", CATEGORIES, line)
        ground = self.text(fields.get("ground"), f"'ground' of {what} (the policy section it "
                                                 "serves, e.g. \"GO 80.11 III.A.1.d\")", line)
        audience = self.choice(fields.get("applies_to"), f"'applies_to' of {what}", AUDIENCES,
                               line, default="visitors")
        given = [key for key in MATCHERS if key in fields]
        if len(given) != 1:
            self.bad(line, f"{what} needs exactly one of {', '.join(MATCHERS)} "
                           f"({'none' if not given else ' and '.join(given)} given)")
            return None
        matcher = given[0]
        compiled = self.matcher(matcher, fields, what)
        near = self.near_name(fields.get("near_name"), what, matcher, audience)
        if None in (name, category, ground, audience, compiled):
            return None
        assert name and category and ground and audience and compiled is not None
        pattern, authors, domains = compiled
        return MonitoringRule(name=name, category=category, ground=ground, audience=audience,
                              matcher=matcher, pattern=pattern, authors=authors,
                              except_domains=domains, near_name=near, line=line)

    def choice(self, entry: Entry | None, what: str, allowed: tuple[str, ...], line: int,
               default: str | None = None) -> str | None:
        if entry is None and default is not None:
            return default
        value = self.text(entry, what, line)
        if value is not None and value not in allowed:
            assert entry is not None
            self.bad(entry[1], f"{what} {value!r} is not one of: {', '.join(allowed)}")
            return None
        return value

    def matcher(self, matcher: str, fields: dict[str, Entry], what: str
                ) -> tuple[re.Pattern[str] | None, frozenset[str], tuple[str, ...]] | None:
        entry = fields[matcher]
        if "flags" in fields and matcher != "pattern":
            self.bad(fields["flags"][0], f"{what}: 'flags' go with a 'pattern' only")
        if matcher == "words":
            words = self.word_list(entry, f"{what}: words")
            return None if words is None else (words_pattern(words), frozenset(), ())
        if matcher == "pattern":
            pattern = self.regex(entry, f"{what}: pattern", fields.get("flags"))
            return None if pattern is None else (pattern, frozenset(), ())
        if matcher == "authors":
            authors = self.strings(entry, f"{what}: authors", empty=True)
            if authors is None:
                return None
            return None, frozenset(fold_name(a) for a in authors), ()
        return self.links(entry, what)

    def word_list(self, entry: Entry, what: str) -> list[str] | None:
        words = self.strings(entry, what)
        if words is None:
            return None
        for word in words:
            if "*" in word.rstrip("*") or word.endswith("**") or len(word.rstrip("*")) < 2:
                self.bad(entry[1], f"{what}: {word!r}: a word is two or more characters, with "
                                   "'*' only at its end (idiot* matches idiots)")
                return None
        return words

    def regex(self, entry: Entry, what: str, flag_entry: Entry | None) -> re.Pattern[str] | None:
        source = self.text(entry, what, node_line(entry[1]))
        flags = 0
        if flag_entry is not None:
            for flag in (self.strings(flag_entry, f"{what} flags") or []):
                if flag not in FLAG_NAMES:
                    self.bad(flag_entry[1], f"{what}: unknown flag {flag!r} (one of: "
                                            f"{', '.join(sorted(FLAG_NAMES))})")
                    return None
                flags |= FLAG_NAMES[flag]
        if source is None:
            return None
        try:
            pattern = re.compile(source, flags)
        except re.error as exc:
            self.bad(entry[1], f"{what} is not a valid regular expression: {exc} (write '\\' "
                               "before a character meant literally, such as \\( or \\.)")
            return None
        if pattern.fullmatch(""):
            self.bad(entry[1], f"{what} matches empty text, so it would match everywhere")
            return None
        return pattern

    def links(self, entry: Entry, what: str
              ) -> tuple[re.Pattern[str], frozenset[str], tuple[str, ...]] | None:
        value = self.value(entry[1])
        if value is True:
            return LINK, frozenset(), ()
        if value is False or value is None:
            self.bad(entry[1], f"{what}: links must be true or a mapping with except_domains")
            return None
        fields = self.mapping(entry[1], f"the links of {what}", LINK_KEYS)
        if not isinstance(entry[1], yaml.MappingNode):
            return None
        domains: list[str] = []
        if "except_domains" in fields:
            found = self.strings(fields["except_domains"], f"{what}: except_domains")
            if found is None:
                return None
            domains = [d.lower().lstrip("*.").strip(".") for d in found]
        return LINK, frozenset(), tuple(domains)

    def near_name(self, entry: Entry | None, what: str, matcher: str,
                  audience: str | None) -> int | None:
        if entry is None:
            return None
        value = self.value(entry[1])
        if matcher != "words" or audience != "department":
            self.bad(entry[0], f"{what}: near_name goes with words on the department's posts "
                               "(applies_to: department)")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
            self.bad(entry[1], f"{what}: near_name {value!r} is not a whole number of words "
                               "from 1 to 50")
            return None
        return value

    # -- page requirements -------------------------------------------------------------------
    def requirement(self, node: yaml.Node) -> Requirement | None:
        fields = self.mapping(node, "a page requirement", REQUIREMENT_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        line = node_line(node)
        rid = self.identifier(fields, "id", "requirement", line)
        what = f"requirement {rid}" if rid else "a requirement"
        ground = self.text(fields.get("ground"), f"'ground' of {what}", line)
        title = self.text(fields.get("title"), f"'title' of {what} (what the page must say)",
                          line)
        groups: list[tuple[re.Pattern[str], ...]] = []
        own = {k: v for k, v in fields.items() if k in GROUP_KEYS}
        if own:
            groups.append(self.group(own, what))
        if "all_of" in fields:
            groups += [self.group(self.mapping(g, f"a group of {what}", GROUP_KEYS), what,
                                  node_line(g))
                       for g in self.group_nodes(fields["all_of"], what)]
        if not groups:
            self.bad(line, f"{what} needs phrases, patterns or all_of (groups of them)")
        if any(not g for g in groups) or None in (rid, ground, title) or not groups:
            return None
        assert rid and ground and title
        return Requirement(id=rid, ground=ground, title=title, groups=tuple(groups), line=line)

    def group_nodes(self, entry: Entry, what: str) -> list[yaml.Node]:
        if not isinstance(entry[1], yaml.SequenceNode) or not entry[1].value:
            self.bad(entry[1], f"{what}: all_of must be a list of groups (each with phrases "
                               "and/or patterns)")
            return []
        return list(entry[1].value)

    def group(self, fields: dict[str, Entry], what: str,
              line: int | None = None) -> tuple[re.Pattern[str], ...]:
        found: list[re.Pattern[str]] = []
        if not fields:
            if line is not None:
                self.bad(line, f"{what}: a group needs phrases or patterns")
            return ()
        if "phrases" in fields:
            phrases = self.word_list(fields["phrases"], f"{what}: phrases")
            if phrases is None:
                return ()
            found.append(words_pattern(phrases))
        if "patterns" in fields:
            node = fields["patterns"][1]
            items = node.value if isinstance(node, yaml.SequenceNode) else [node]
            for item in items:
                pattern = self.regex((fields["patterns"][0], item), f"{what}: pattern", None)
                if pattern is None:
                    return ()
                found.append(pattern)
        return tuple(found)


def fold_name(name: str) -> str:
    """An author's name or id as blocked-author rules compare it (case and spaces folded)."""
    return " ".join(name.casefold().split())
