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
from tests.support.redaction import PLATFORM_PAYLOADS


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


SSN = mark("social security number")
PHONE = mark("telephone number")
EMAIL = mark("e-mail address")


@pytest.mark.parametrize(("text", "expected", "rule"), [
    ("SSN 987 65 4321 on file", f"SSN {SSN} on file", "ssn"),
    ("ref 222.33.4444.", f"ref {SSN}.", "ssn"),
    ("ref 555\u200b-12-3456 ok", f"ref {SSN} ok", "ssn"),
    ("ref 444\u201155\u20116666 ok", f"ref {SSN} ok", "ssn"),
    ("ref \uff11\uff12\uff13\uff0d\uff14\uff15\uff0d\uff16\uff17\uff18\uff19 ok",
     f"ref {SSN} ok", "ssn"),
    ("ref 1\u200c2\u200d3\u2060-45\u00ad-67\ufeff89 ok", f"ref {SSN} ok", "ssn"),
    ("call \uff12\uff11\uff17\u2011\uff15\uff15\uff15\u2011\uff10\uff11\uff14\uff17 now",
     f"call {PHONE} now", "phone"),
    ("call 217\u2009555\u20130147 now", f"call {PHONE} now", "phone"),
    ("call (217)\u00a0555\u22120147 now", f"call {PHONE} now", "phone"),
    ("call 217\u2014555\u2014\u200b0147.", f"call {PHONE}.", "phone"),
    ("mail \uff4a\uff41\uff4e\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e"
     "\uff43\uff4f\uff4d now", f"mail {EMAIL} now", "email"),
    ("mail jane\u200b.doe@exam\u00adple.com now", f"mail {EMAIL} now", "email"),
    # Dropping an invisible character can also join a number to the word before it: the text as
    # written is matched too.
    ("ref x\u200b987-65-4321 ok", f"ref x\u200b{SSN} ok", "ssn"),
    ("id\u2060217-555-0147", f"id\u2060{PHONE}", "phone"),
])
def test_variant_spellings_redact_the_original_span(text: str, expected: str, rule: str) -> None:
    redacted, log = redact(text)
    assert redacted == expected
    assert [(r.rule, r.count) for r in log] == [(rule, 1)]


def test_variants_keep_the_text_around_them_exactly() -> None:
    # Expanding (ﬁ -> fi) and vanishing characters before a match must not shift the span.
    text = "\ufb01le \u200b\u00bd: 987\u00a065\u00a04321 \u2460 caf\u00e9 \uff21"
    redacted, _ = redact(text)
    assert redacted == f"\ufb01le \u200b\u00bd: {SSN} \u2460 caf\u00e9 \uff21"


def test_several_matches_and_rules_in_one_string() -> None:
    text = "a 217\u2011555\u20110147 b 987 65 4321 c x@y.org d 217.555.0148"
    redacted, log = redact(text)
    assert redacted == f"a {PHONE} b {SSN} c {EMAIL} d {PHONE}"
    assert sorted((r.rule, r.count) for r in log) == [("email", 1), ("phone", 2), ("ssn", 1)]


@pytest.mark.parametrize("platform", sorted(PLATFORM_PAYLOADS))
def test_payload_redacts_every_string_at_any_depth(platform: str) -> None:
    raw = PLATFORM_PAYLOADS[platform]
    log: list[Redaction] = []
    out = Redactor(rules=load_rules()).payload(1, 1, raw, log)
    dumped = repr(out)
    for gone in ("555-123-4567", "555.123.4567", "555 123 4567", "jane@example.com",
                 "987-65-4321", "pio@pd.example.org"):
        assert gone not in dumped
    assert "[REDACTED: " in dumped
    assert log and all(r.field.startswith("raw.") for r in log)
    assert out.get("id", out.get("revid", out.get("data", {}))) is not None
    assert repr(raw) != dumped  # a redacted copy; the input is unchanged
    assert "[REDACTED" not in repr(raw)


def test_payload_keys_carry_data_too() -> None:
    raw = {"by_email": {"jane@example.com": {"note": "ok"}, "joe@example.com": 2},
           "987-65-4321": [None, 3, True, {"x": "217-555-0147"}]}
    log: list[Redaction] = []
    out = Redactor(rules=load_rules()).payload(4, 2, raw, log)
    assert out == {"by_email": {EMAIL: {"note": "ok"}, f"{EMAIL} (2)": 2},
                   SSN: [None, 3, True, {"x": PHONE}]}
    # The log names where each redaction was, without repeating what it removed.
    fields = {r.field for r in log}
    assert fields == {f"raw.by_email.{EMAIL}", f"raw.by_email.{EMAIL} (2)", f"raw.{SSN}",
                      f"raw.{SSN}[3].x"}
    assert sum(r.count for r in log) == 4


def test_item_redaction_withholds_every_string_of_the_payload() -> None:
    redactor = Redactor(rules=load_rules(), items=parse_item_redactions(["7:investigation"]))
    raw = {"snippet": {"textOriginal": "secret plan", "likeCount": 3},
           "content": [{"value": "secret"}]}
    log: list[Redaction] = []
    out = redactor.payload(7, 1, raw, log)
    withheld = mark("investigation")
    assert out == {"snippet": {"textOriginal": withheld, "likeCount": 3},
                   "content": [{"value": withheld}]}
    assert {(r.field, r.rule) for r in log} == {("raw.snippet.textOriginal", "item"),
                                                ("raw.content[0].value", "item")}
