"""Redaction rules: what each default rule catches, and what it leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.errors import ArchiverError, ConfigError
from archiver.exports.redaction import (
    Redaction,
    Redactor,
    load_rules,
    mark,
    parse_item_redactions,
)


def redact(text: str) -> tuple[str | None, list[Redaction]]:
    log: list[Redaction] = []
    return Redactor(rules=load_rules()).text(1, 1, "text", text, log), log


@pytest.mark.parametrize(("text", "rule", "gone"), [
    ("Call me at (217) 555-0147.", "phone", "555-0147"),
    ("cell 217-555-0147 anytime", "phone", "555-0147"),
    ("write jane.doe@example.com", "email", "jane.doe@example.com"),
    ("my SSN is 123-45-6789", "ssn", "123-45-6789"),
    ("DOB: 04/12/1987", "date_of_birth", "04/12/1987"),
    ("born on March 3, 1990 in town", "date_of_birth", "March 3, 1990"),
    ("he lives at 1234 North Elm Street now", "street_address", "1234 North Elm Street"),
])
def test_default_rules(text: str, rule: str, gone: str) -> None:
    redacted, log = redact(text)
    assert redacted is not None and gone not in redacted and "[REDACTED: " in redacted
    assert [r.rule for r in log] == [rule]
    assert log[0].exemption.startswith("K.S.A. 45-221(a)(30)")


@pytest.mark.parametrize("text", [
    "The parade is on Saturday at 9 AM.",
    "Main St. between 3rd and 5th Ave",
    "post 104882335720091_2001",
    "Meeting 2024-05-01 at 10",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    redacted, log = redact(text)
    assert redacted == text and log == []


def test_item_redaction_and_payload() -> None:
    redactor = Redactor(rules=load_rules(), items=parse_item_redactions(["7:investigation"]))
    log: list[Redaction] = []
    assert redactor.text(7, 2, "text", "anything", log) == mark("investigation")
    raw = {"id": "2175550147", "message": "ring 217-555-0147",
           "from": {"name": "Jane", "id": "1"}, "attachment": {"description": "x@y.org"}}
    out = redactor.payload(8, 1, raw, log)
    assert out["id"] == "2175550147"  # ids are not text
    assert out["message"] == "ring [REDACTED: telephone number]"
    assert out["attachment"]["description"] == "[REDACTED: e-mail address]"
    assert raw["message"] == "ring 217-555-0147"  # the input is not changed
    assert {r.field for r in log} == {"text", "raw.message", "raw.attachment.description"}


def test_bad_rules_and_specs(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - {name: x, pattern: '(', reason: r, exemption: e}\n")
    with pytest.raises(ConfigError, match="bad pattern"):
        load_rules(path)
    path.write_text("rules:\n  - {name: x, pattern: 'a'}\n")
    with pytest.raises(ConfigError, match="lacks reason, exemption"):
        load_rules(path)
    path.write_text("rules:\n  - {name: x, pattern: 'secret', reason: r, exemption: e}\n")
    assert Redactor(rules=load_rules(path)).text(1, 1, "text", "a secret", []) == "a [REDACTED: r]"
    with pytest.raises(ArchiverError, match="ITEM_ID:reason"):
        parse_item_redactions(["abc"])
