"""The review queue from the command line: list, decide (an audit event in the item's history,
the record untouched), one-line errors that store nothing, and the rule file's commands."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from archiver.monitoring.rules import check_rules, shipped_rules_path
from archiver.standins.dataset import Author
from archiver.store.audit import check_chain
from archiver.store.models import AuditEvent, ItemVersion
from archiver.store.monitoring import ReviewDecision, ReviewFlag
from tests.support.monitoring import flag_stored_items, item_ids, rule_file
from tests.support.retention import Captured, captured  # noqa: F401 - fixture
from tests.test_cli import archiver, assert_one_line_error


def _versions(sample: Captured) -> list[tuple[int, int, str]]:
    with sample.archive.sessions() as s:
        return [(item_id, seq, sha) for item_id, seq, sha in s.execute(
            select(ItemVersion.item_id, ItemVersion.seq, ItemVersion.sha256)
            .order_by(ItemVersion.id))]


def test_list_shows_open_flags_without_repeating_personal_data(
        captured: Captured, settings_env: dict[str, str]) -> None:  # noqa: F811
    captured.comment_later("\x1b[2J\x1b]0;pwned\x07Go to hell, you clowns")
    flag_stored_items(captured.archive)
    done = archiver(settings_env, "review", "list", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["total"] == 5
    by_item = {(r["external_id"], r["rule"]): r for r in data["flags"]}
    phone = by_item[("2004_3013", "phone-number")]
    assert "555-0147" not in phone["excerpt"] and "[withheld]" in phone["excerpt"]
    assert phone["ground"].startswith("GO 80.11 III.A.1.c") and phone["flag_id"].startswith("F")
    attack = by_item[("2001_99999", "personal-attacks")]
    assert attack["excerpt"].endswith("Go to hell, you clowns")
    text = archiver(settings_env, "review", "list")
    assert text.returncode == 0 and "\x1b" not in text.stdout and "\\x1b[2J" in text.stdout
    assert text.stdout.startswith("5 flags open\n")


def test_a_decision_is_audited_shows_in_the_items_history_and_keeps_the_record(
        captured: Captured, settings_env: dict[str, str]) -> None:  # noqa: F811
    flag_stored_items(captured.archive)
    before = _versions(captured)
    spam = item_ids(captured.archive)["2006_3020"]
    with captured.archive.sessions() as s:
        flag_id = s.scalar(select(func.min(ReviewFlag.id)).where(ReviewFlag.item_id == spam))
    env = {**settings_env, "ARCHIVER_ACTOR": "desk-pc"}
    done = archiver(env, "review", "decide", f"F{flag_id}", "--decision", "remove",
                    "--ground", "GO 80.11 III.A.1.d(1): off-topic (advertising)",
                    "--by", "Sgt. M. Flanders", "--json")
    assert done.returncode == 0, done.stderr
    decided = json.loads(done.stdout)
    assert decided["item_id"] == spam and decided["decision"] == "remove"
    assert sorted(decided["flags_closed"]) == sorted(
        [f"F{flag_id}", f"F{flag_id + 1}"]) and decided["recorded_by"] == "desk-pc"

    shown = json.loads(archiver(env, "items", "show", str(spam), "--json").stdout)
    [decision] = shown["review"]["decisions"]
    assert (decision["decision"], decision["decided_by"], decision["ground"]) == (
        "remove", "Sgt. M. Flanders", "GO 80.11 III.A.1.d(1): off-topic (advertising)")
    assert {f["state"] for f in shown["review"]["flags"]} == {"decided"}
    assert shown["versions"][0]["text"] == "BUY CHEAP FOLLOWERS at spam-link.example.invalid"
    assert shown["status"] == "hidden"  # as captured: the archive changed nothing
    text = archiver(env, "items", "show", str(spam)).stdout
    assert "decided " in text and "remove by Sgt. M. Flanders on GO 80.11" in text

    with captured.archive.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "review.decided"))
        assert (event.actor, event.target_type, event.target_id) == ("desk-pc", "item",
                                                                      str(spam))
        assert decision["audit_event_id"] == event.id
        assert not [p for p in check_chain(s) if not isinstance(p, int)]
    assert _versions(captured) == before
    listed = json.loads(archiver(env, "review", "list", "--json").stdout)
    assert spam not in {r["item_id"] for r in listed["flags"]} and listed["total"] == 2


def test_bad_decisions_are_one_line_errors_and_store_nothing(
        captured: Captured, settings_env: dict[str, str]) -> None:  # noqa: F811
    flag_stored_items(captured.archive)
    base = ["review", "decide"]
    good = ["--decision", "keep", "--ground", "GO 80.11 III.A.1.d", "--by", "Reviewer"]
    assert_one_line_error(archiver(settings_env, *base, "F9999", *good), "no flag F9999")
    assert_one_line_error(archiver(settings_env, *base, "banana", *good), "names no flag")
    assert_one_line_error(archiver(settings_env, *base, "999999", *good),
                          "no item with id 999999")
    blank = ["--decision", "keep", "--ground", "  ", "--by", "Reviewer"]
    assert_one_line_error(archiver(settings_env, *base, "1", *blank), "--ground")
    wrong = archiver(settings_env, *base, "1", "--decision", "delete", "--ground", "x",
                     "--by", "y")
    assert wrong.returncode == 2 and "'delete' is not one of" in wrong.stderr
    with captured.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReviewDecision)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "review.decided")) == 0
        assert s.scalar(select(func.count()).select_from(ReviewFlag)
                        .where(ReviewFlag.state == "open")) == 4


def test_rule_file_problems_name_file_and_line(tmp_path: Path) -> None:
    good = shipped_rules_path().read_text(encoding="utf-8")
    assert check_rules(good, "go-80-11.yaml")[1] == []
    bad = (good.replace("category: threat", "category: threats")
           .replace("    words: [idiot*", "    colour: red\n    words: [idiot*")
           .replace("pattern: '\\b\\d{3}[\\s.-]\\d{2}[\\s.-]\\d{4}\\b'", "pattern: '(\\d{3}'")
           .replace("    near_name: 8\n", "    near_name: 80\n")
           .replace("  - name: links\n", "  - name: links\n    words: [http]\n"))
    rules, problems = check_rules(bad, "rules.yaml")
    assert rules is None
    lines = bad.splitlines()
    found = {p.reason.split(":")[0]: (p.line, p.reason) for p in problems}
    for needle, on_line in (("'threats' is not one of", "category: threats"),
                            ("unknown key 'colour'", "colour: red"),
                            ("not a valid regular expression", "pattern: '(\\d{3}'"),
                            ("near_name 80", "near_name: 80"),
                            ("needs exactly one of", "- name: links")):
        [(line, reason)] = [v for v in found.values() if needle in v[1]]
        assert on_line in lines[line - 1], (needle, line, reason)
    assert "write '\\' before a character meant literally" in found[next(
        k for k in found if "regular expression" in found[k][1])][1]
    twice = good.replace("  - name: obscenity\n", "  - name: obscenity\n    name: again\n")
    [problem] = check_rules(twice, "rules.yaml")[1]
    assert problem.reason.startswith("key 'name' appears twice") and "keep one" in problem.reason
    tabbed = check_rules("rules: x\nmonitor:\n\t- name: y\n", "rules.yaml")[1]
    assert [(p.line, p.reason) for p in tabbed] == [
        (3, "not valid YAML: YAML does not allow tabs for indentation: indent with spaces")]


def test_rules_validate_load_and_show_commands(
        captured: Captured, settings_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    broken = rule_file(tmp_path, "rules: mine\nmonitor:\n  - name: x\n    category: nope\n"
                                 "    ground: G\n    words: [abc]\n", "broken.yaml")
    done = archiver(settings_env, "review", "rules", "validate", str(broken))
    assert_one_line_error(done, f"invalid monitoring rules: {broken}:4: 'category' of rule x "
                                "'nope' is not one of")
    mine = rule_file(tmp_path, "rules: mine\nmonitor:\n  - name: blocked\n"
                               "    category: blocked_author\n    ground: GO 80.11 III.A.1.d\n"
                               "    authors: [Moe Szyslak]\n", "mine.yaml")
    assert "valid: rules mine, 1 monitoring rule, 0 page requirements" in archiver(
        settings_env, "review", "rules", "validate", str(mine)).stdout
    loaded = archiver(settings_env, "review", "rules", "load", str(mine))
    assert loaded.returncode == 0 and "monitoring rules mine" in loaded.stdout
    assert "already active" in archiver(settings_env, "review", "rules", "load",
                                        str(mine)).stdout
    shown = json.loads(archiver(settings_env, "review", "rules", "show", "--json").stdout)
    assert shown["rules"] == "mine" and [r["name"] for r in shown["monitor"]] == ["blocked"]
    # Capture already ran the rules in force on every stored item: nothing is left to flag.
    flagged = json.loads(archiver(settings_env, "review", "flag", "--json").stdout)
    assert flagged["flagged"] == 0
    # What capture stores from now on meets the loaded rules.
    moe = Author("1000004", "Moe Szyslak")
    assert captured.comment_later("Nice weather today.", author=moe).status == "succeeded"
    with captured.archive.sessions() as s:
        rules = set(s.scalars(select(ReviewFlag.rule).join(
            ItemVersion, (ItemVersion.item_id == ReviewFlag.item_id)
            & (ItemVersion.seq == ReviewFlag.seq))
            .where(ItemVersion.text == "Nice weather today.")))
    assert rules == {"blocked"}
    with captured.archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "review.rules_loaded")) == 1
