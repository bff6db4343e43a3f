"""The YAML files an agency edits (holidays, redaction rules): hostile or mistaken input is one
``FILE:LINE: reason`` line, on the command line too, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.errors import ConfigError
from archiver.exports.business_days import load_calendar
from archiver.exports.redaction import load_rules
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
