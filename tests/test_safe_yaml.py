"""The YAML files an agency edits (holidays, redaction rules): hostile or mistaken input is one
``FILE:LINE: reason`` line, on the command line too, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.errors import ConfigError
from archiver.exports.business_days import load_calendar
from archiver.exports.redaction import load_rules
from archiver.inputs.yaml_files import YamlInputError, load_yaml
from tests.support.retention import TEST_SCHEDULE, write_schedule
from tests.test_cli import archiver

DEEP = "[" * 20_000 + "]" * 20_000
RULE = "  - {name: x, pattern: 'secret', reason: r, exemption: e}\n"

# name -> (holidays file, line, a word of the reason)
HOLIDAYS = {
    "deep": ("rules: []\ndates: " + DEEP + "\n", 2, "nested"),
    "impossible-date": ("rules: []\ndates:\n  - 2024-01-01\n  - 2024-02-30\n", 4, "2024-02-30"),
    "alias": ("rules: &r []\ndates: *r\n", 2, "alias"),
    "escape-character": ("rules: []\n\ndates: [\x1b]\n", 3, "U+001B"),
    "bad-month": ("rules:\n  - {name: a, month: 1, day: 1}\n  - {name: b, month: 13, day: 1}\n",
                  3, "month"),
    "month-as-text": ("rules:\n  - {name: a, month: '1', day: 1}\n", 2, "month"),
    "leap-day": ("rules:\n  - {name: a, month: 2, day: 29}\n", 2, "every year"),
    "fifth-monday": ("rules:\n  - {name: a, month: 5, weekday: 0, nth: 5}\n", 2, "nth"),
    "huge-number": ("rules:\n  - {name: a, month: 99999999999999999999, day: 1}\n", 2,
                    "month"),
    "date-and-time": ("dates: [2024-05-07 10:00:00]\n", 1, "not a date"),
}


@pytest.mark.parametrize("name", list(HOLIDAYS))
def test_holidays_file_errors_have_their_line(tmp_path: Path, name: str) -> None:
    text, line, needle = HOLIDAYS[name]
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_calendar(path)
    message = str(err.value)
    assert message.startswith(f"ARCHIVER_HOLIDAYS: {path}:{line}: ") and needle in message, \
        message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("rules:\n" + RULE + "notes: " + DEEP + "\n", 3, "nested"),
    ("rules:\n" + RULE + "  - {name: y, pattern: 'a', reason: 2024-02-30, exemption: e}\n", 3,
     "2024-02-30"),
    ("rules:\n" + RULE + "  - {name: y, pattern: 'a'}\n", 3, "lacks reason, exemption"),
])
def test_redaction_rules_errors_have_their_line(tmp_path: Path, text: str, line: int,
                                                needle: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    message = str(err.value)
    assert f"{path}:{line}: " in message and needle in message, message


def test_command_line_reports_one_line(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}  # both fail before the archive is opened
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text(HOLIDAYS["impossible-date"][0])
    done = archiver({**env, "ARCHIVER_HOLIDAYS": str(holidays)}, "requests", "add", "R-1",
                    "--received", "2024-05-06")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: ARCHIVER_HOLIDAYS: {holidays}:4: '2024-02-30' "
                                        "is not a valid date: day is out of range for month"]
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n" + RULE + "notes: " + DEEP + "\n")
    done = archiver(env, "export", "open-records", "--request-id", "R-1", "--query", "*",
                    "--out", str(tmp_path / "out.zip"), "--redact", "--rules", str(rules))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: redaction rules {rules}:3: values nested more "
                                        "than 50 levels deep"]


# -- syntax mistakes: the line to fix and a plain hint ------------------------------------------

INDENT = ("check the indentation of this line against the line above: use spaces, the same "
          "number for keys at the same level")


def _mistakes() -> dict[str, tuple[str, int, str]]:
    """name -> (schedule text with one mistake, the line to fix, words of the hint)."""
    s = TEST_SCHEDULE
    return {
        # PyYAML: "expected <block end>, but found '?'"
        "key-outdented-in-a-list": (s.replace("    title: Comments", "  title: Comments"), 12,
                                    INDENT),
        "key-indented-too-far": (s.replace("    action: transfer", "     action: transfer"), 15,
                                 INDENT),
        "key-outdented-in-a-mapping": (s.replace("    trigger: permanent", "   trigger: permanent"),
                                       19, INDENT),
        "tab": (s.replace("    title: Posts", "\t\ttitle: Posts"), 6,
                "YAML does not allow tabs for indentation"),
        "tab-after-spaces": (s.replace("    title: Posts", "  \ttitle: Posts"), 6,
                             "YAML does not allow tabs for indentation"),
        "unclosed-double-quote": (s.replace('"Test authority B"}', '"Test authority B}'), 16,
                                  'the " opened on this line'),
        "unclosed-single-quote": (s.replace("title: Posts", "title: 'Posts"), 6,
                                  "the ' opened on this line is never closed"),
        "quote-inside-quotes": (s.replace('"Test authority C"', '"Test "authority" C"'), 20,
                                'after a closing "'),
        "unclosed-brace": (s.replace("{years: 1}", "{years: 1"), 7,
                           "the { opened on this line is never closed"),
        "unclosed-bracket": (s.replace("[comment, reply]}", "[comment, reply}"), 25,
                             "the [ opened on this line is never closed"),
        "missing-space-after-colon": (s.replace("trigger: published\n    action: destroy",
                                                "trigger:published\n    action: destroy"), 8,
                                      "write 'trigger: published'"),
        "missing-space-on-the-first-line": (s.replace("schedule: test-schedule",
                                                      "schedule:test-schedule"), 1,
                                            "write 'schedule: test-schedule'"),
        "colon-in-a-value": (s.replace("title: Everything else", "title: Everything: else"), 18,
                             "in quotes"),
        "duplicate-key": (s.replace("    title: Posts", "    title: Posts\n    title: Postings"),
                          7, "key 'title' appears twice, on lines 6 and 7"),
    }


@pytest.mark.parametrize("name", list(_mistakes()))
def test_validate_names_the_line_and_a_hint(tmp_path: Path, name: str) -> None:
    text, line, hint = _mistakes()[name]
    path = write_schedule(tmp_path, text)
    done = CliRunner().invoke(cli, ["retention", "validate", str(path)])
    assert done.exit_code == 1
    assert done.stderr == ""  # a validator's findings are its output
    shown = done.stdout.splitlines()
    assert len(shown) == 1, shown
    assert shown[0].startswith(f"{path}:{line}: ") and hint in shown[0], shown[0]
    assert "<block end>" not in shown[0] and "'?'" not in shown[0]


@pytest.mark.parametrize("name", ["key-outdented-in-a-list", "tab", "duplicate-key"])
def test_load_says_it_in_one_error_line(tmp_path: Path, name: str) -> None:
    text, line, hint = _mistakes()[name]
    path = write_schedule(tmp_path, text)
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}  # refused before the archive is opened
    done = archiver(env, "retention", "load", str(path))
    assert done.returncode == 1
    shown = done.stderr.splitlines()
    assert len(shown) == 1, done.stderr
    assert shown[0].startswith(f"error: invalid retention schedule: {path}:{line}: ") \
        and hint in shown[0], shown[0]


@pytest.mark.parametrize(("text", "line", "hint"), [
    ("a: [1]]\n", 1, "this ] closes nothing"),
    ("a:\n  b: 1\n  c: {x: 1}}\n", 3, "this } closes nothing"),
    ('path: "C:\\data"\n', 1, "a backslash starts an escape"),
    ("a: 1\n---\nb: 2\n", 2, "a second document"),
    ("a: @home\n", 1, "a value cannot start with '@'"),
    ("a: 1\nfoo\nb: 2\n", 2, "not 'key: value'"),
    ("a:\n  - 1\n - 2\n", 3, INDENT),
    ("a: 1\n- 2\n", 2, INDENT),
    ("a: 1\n\tb: 2\n", 2, "YAML does not allow tabs for indentation"),
    ("a:\n  b:2\n  c: 3\n", 2, "write 'b: 2'"),
    ("rules:\n  - {name: x, month: 1}\n  - {name: y, month: 2, month: 3}\n", 3,
     "key 'month' appears twice, on lines 3 and 3"),
])
def test_more_mistakes_have_a_hint(text: str, line: int, hint: str) -> None:
    with pytest.raises(YamlInputError) as err:
        load_yaml(text, "f.yaml")
    assert str(err.value).startswith(f"f.yaml:{line}: ") and hint in str(err.value), err.value
    assert "\n" not in str(err.value)


def test_duplicate_keys_are_refused_in_every_file(tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("dates: [2024-12-24]\nrules: []\ndates: [2024-12-31]\n")
    with pytest.raises(ConfigError, match=r"holidays.yaml:3: key 'dates' appears twice, on "
                                          r"lines 1 and 3"):
        load_calendar(holidays)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: x, pattern: 'a', reason: r, exemption: e,\n"
                     "     pattern: 'b'}\n")
    with pytest.raises(ConfigError, match=r"rules.yaml:3: key 'pattern' appears twice, on "
                                          r"lines 2 and 3"):
        load_rules(rules)
