"""Reading the YAML files an agency edits (retention schedules, holidays, redaction rules).

PyYAML's safe loader still fails outside ``YAMLError`` on some input: deep nesting exhausts
Python's stack (its composer and constructor recurse), an impossible date such as ``2024-02-30``
raises ``ValueError`` from :class:`datetime.date`, and aliases let a few lines expand into
gigabytes ("billion laughs"). Here every such failure is one :class:`YamlInputError`,
``SOURCE:LINE: reason``. None of these files needs anchors and aliases, so they are refused;
nesting deeper than :data:`MAX_DEPTH` is refused before the stack is at risk. A key given twice
is refused too (PyYAML would silently keep the last), and the common syntax mistakes are named
in plain words by :mod:`archiver.inputs.yaml_hints`.

Mappings and lists come back as :class:`LineDict` and :class:`LineList`, which remember the line
they start on, so a check made after loading can still name the line to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import yaml

from archiver.errors import ConfigError
from archiver.inputs.yaml_hints import explain

# Far deeper than any of our files goes (a schedule is 5 levels deep), far shallower than the
# ~1,000 Python frames the recursive composer and constructor may use (2-3 frames per level).
MAX_DEPTH = 50


class YamlInputError(ConfigError):
    """A YAML file cannot be read: ``SOURCE:LINE: reason`` on one line."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source, self.line, self.reason = source, line, " ".join(reason.split())
        super().__init__(f"{source}:{line}: {self.reason}")


class LineDict(dict[Any, Any]):
    """A YAML mapping that knows its line (1-based)."""

    line: int = 0


class LineList(list[Any]):
    """A YAML sequence that knows its line (1-based)."""

    line: int = 0


def line_of(value: Any, default: int = 0) -> int:
    """The line a loaded mapping or list started on, else ``default``."""
    return getattr(value, "line", default) if isinstance(value, LineDict | LineList) else default


def _line(mark: yaml.Mark | None) -> int:
    return mark.line + 1 if mark is not None else 0


class _Loader(yaml.SafeLoader):
    """The safe loader, bounded in depth, without aliases, with lines on every failure."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        # The C parser's marks have the pure-Python Mark's fields; the stubs type them apart.
        mark = cast("yaml.error.Mark | None", event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in this file", mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"values nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            # A scalar the resolver took for a date (or number) that cannot be one.
            what = "date" if node.tag.endswith(":timestamp") else node.tag.rsplit(":", 1)[-1]
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown} is not a valid {what}: {exc}", node.start_mark,
            ) from None


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = _line(node.start_mark)
    yield data
    _refuse_repeated_keys(loader, node)
    data.update(loader.construct_mapping(node))


def _refuse_repeated_keys(loader: _Loader, node: yaml.MappingNode) -> None:
    # YAML requires unique keys (https://yaml.org/type/map.html); PyYAML keeps the last
    # value without a word, so a rule written twice would silently lose its first version.
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        try:
            earlier = first_line.get(key)
        except TypeError:  # an unhashable key, which construct_mapping refuses with its line
            continue
        line = _line(key_node.start_mark)
        if earlier is not None:
            shown = repr(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "a key"
            raise yaml.constructor.ConstructorError(
                None, None, f"key {shown} appears twice, on lines {earlier} and {line}: keep "
                            "one of them", key_node.start_mark)
        first_line[key] = line


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = _line(node.start_mark)
    yield data
    data.extend(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _error(exc: yaml.YAMLError, text: str, source: str) -> YamlInputError:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return YamlInputError(source, line, f"not valid YAML: character U+{exc.character:04X} "
                                            "is not allowed here (write it as an escape, such "
                                            "as \\x1b, inside double quotes)")
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context is None and isinstance(exc, yaml.composer.ComposerError
                                      | yaml.constructor.ConstructorError):
        return YamlInputError(source, _line(mark), problem)  # our own reasons, already clear
    plain = explain(exc, text) if isinstance(exc, yaml.MarkedYAMLError) else None
    if plain is not None:
        return YamlInputError(source, plain.line, f"not valid YAML: {plain.reason}")
    return YamlInputError(source, _line(mark), "not valid YAML: "
                          + (f"{context}: {problem}" if context else problem))


class YamlDocument:
    """One parsed YAML document: its node tree (with lines) and values built from its nodes."""

    def __init__(self, text: str, source: str) -> None:
        """Parse ``text``; raise :class:`YamlInputError` naming ``source`` and the line."""
        self.source = source
        try:
            self._loader = _Loader(text)
            self.root: yaml.Node | None = self._loader.get_single_node()
            # Build every value once now, so a bad scalar anywhere is reported here, with its
            # line, and :meth:`value` cannot fail later.
            self.data: Any = (None if self.root is None
                              else self._loader.construct_document(self.root))
        except yaml.YAMLError as exc:
            raise _error(exc, text, source) from None
        self._loader.dispose()

    def value(self, node: yaml.Node) -> Any:
        """The Python value of ``node`` (a node of this document)."""
        return self._loader.construct_object(node, deep=True)


def load_yaml(text: str, source: str) -> Any:
    """The data in ``text`` (mappings as :class:`LineDict`, lists as :class:`LineList`)."""
    return YamlDocument(text, source).data


def read_yaml(path: Path, source: str) -> Any:
    """:func:`load_yaml` of the file at ``path`` (UTF-8); unreadable files are errors too."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlInputError(source, 0, "the file is not UTF-8 text") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise YamlInputError(source, 0, f"cannot read: {reason}") from None
    return load_yaml(text, source)
