"""Checking a YAML file an agency edits, on its node tree, so every problem names its line.

Retention schedules and monitoring rule files are validated this way: a checker walks PyYAML's
nodes (from :class:`archiver.inputs.yaml_files.YamlDocument`), collects every
:class:`Problem` instead of stopping at the first, and the caller reports them all as
``FILE:LINE: reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from archiver.inputs.yaml_files import YamlDocument, YamlInputError
from archiver.terminal import has_control_characters

# A mapping's entry: its key node and its value node.
Entry = tuple[yaml.Node, yaml.Node]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at a line (1-based; 0: the file as a whole)."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def read_document(path: Path) -> tuple[YamlDocument | None, bytes, list[Problem]]:
    """The parsed file at ``path`` and its bytes, or None and the one problem that stopped it
    (unreadable, not UTF-8, not valid YAML)."""
    name = str(path)
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, b"", [Problem(name, 0, f"cannot read the file: {reason}")]
    return parse_document(data, name)


def parse_document(data: bytes, source: str) -> tuple[YamlDocument | None, bytes,
                                                      list[Problem]]:
    """:func:`read_document` for bytes already read from ``source``."""
    try:
        return YamlDocument(data.decode("utf-8"), source), data, []
    except UnicodeDecodeError:
        return None, data, [Problem(source, 0, "the file is not UTF-8 text")]
    except YamlInputError as exc:
        return None, data, [Problem(source, exc.line, exc.reason)]


def node_line(node: yaml.Node) -> int:
    """The line ``node`` starts on (1-based)."""
    return node.start_mark.line + 1


class NodeChecker:
    """What every file checker does: note problems with their lines, read mappings and texts."""

    def __init__(self, document: YamlDocument) -> None:
        self.file = document.source
        self.value = document.value
        self.problems: list[Problem] = []

    def bad(self, where: yaml.Node | int, reason: str) -> None:
        """Note a problem at a node's line (or a line number)."""
        line = where if isinstance(where, int) else node_line(where)
        self.problems.append(Problem(self.file, line, reason))

    def mapping(self, node: yaml.Node | None, what: str, allowed: set[str] | tuple[str, ...],
                ) -> dict[str, Entry]:
        """``{key: (key node, value node)}``; unknown and repeated keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            if node is not None:
                self.bad(node, f"{what} must be a mapping")
            return {}
        out: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str) or key not in allowed:
                self.bad(key_node, f"unknown key {key!r} in {what} "
                                   f"(allowed: {', '.join(sorted(allowed))})")
            elif key in out:
                self.bad(key_node, f"key {key!r} appears twice in {what}")
            else:
                out[key] = (key_node, value_node)
        return out

    def text(self, entry: Entry | None, what: str, line: int,
             required: bool = True) -> str | None:
        """The entry's value as one line of text (stripped); missing or wrong is a problem."""
        if entry is None:
            if required:
                self.bad(line, f"missing {what}")
            return None
        value = self.value(entry[1])
        if not isinstance(value, str) or not value.strip():
            self.bad(entry[1], f"{what} must be non-empty text")
            return None
        if has_control_characters(value):
            # Names and titles reach terminals, reports and file listings.
            self.bad(entry[1], f"{what} must be one line without control characters")
            return None
        return value.strip()
