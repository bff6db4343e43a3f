"""Schedule files: validation with file and line, the shipped schedules, date arithmetic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.connectors import PLATFORMS
from archiver.connectors.records import ItemKind
from archiver.retention.assign import ItemFacts, add_period, disposition_date, retention_start
from archiver.retention.loading import shipped_schedules_dir
from archiver.retention.schedule import (
    Authority,
    Period,
    RetentionTrigger,
    Series,
    check_schedule,
)
from tests.support.retention import TEST_SCHEDULE, write_schedule
from tests.test_cli import archiver as run_cli


def problems(tmp_path: Path, text: str) -> list[tuple[int, str]]:
    schedule, found = check_schedule(write_schedule(tmp_path, text))
    assert (schedule is None) == bool(found)
    return [(p.line, p.reason) for p in found]


def test_test_schedule_is_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, TEST_SCHEDULE) == []


def test_shipped_schedules_are_valid_and_cite_their_authority() -> None:
    files = sorted(shipped_schedules_dir().glob("*.yaml"))
    assert {f.stem for f in files} >= {"washington-core-example", "kansas-municipal-template"}
    for f in files:
        schedule, found = check_schedule(f)
        assert found == [] and schedule is not None
        assert "Authority" in f.read_text()  # the comment saying where authority comes from
    wa, _ = check_schedule(shipped_schedules_dir() / "washington-core-example.yaml")
    assert wa is not None
    series = wa.series["GS50-01-12"]
    assert series.period == Period(years=2) and series.action == "transfer"
    assert "GS50-01-12" in series.authority.citation
    ks, _ = check_schedule(shipped_schedules_dir() / "kansas-municipal-template.yaml")
    assert ks is not None
    assert all(not s.authority.confirmed for s in ks.series.values())


def test_each_problem_has_its_line(tmp_path: Path) -> None:
    text = TEST_SCHEDULE.replace("retention: {years: 1}", "retention: forever") \
        .replace("trigger: published\n    action: transfer",
                 "trigger: someday\n    action: transfer") \
        .replace("title: Posts", "title: Posts\n    colour: blue") \
        .replace("default_series: KEEP\n", "")
    found = problems(tmp_path, text)
    reasons = "\n".join(f"{line}: {r}" for line, r in found)
    assert any("unknown key 'colour'" in r for _, r in found), reasons
    assert any("is not a duration" in r for _, r in found), reasons
    assert any("trigger 'someday' does not exist" in r for _, r in found), reasons
    assert any("default_series" in r for _, r in found), reasons
    lines = text.splitlines()
    for line, reason in found:
        if "colour" in reason:
            assert "colour" in lines[line - 1]
        if "not a duration" in reason:
            assert "forever" in lines[line - 1]
        if "someday" in reason:
            assert "someday" in lines[line - 1]


def test_shadowed_rule_is_reported(tmp_path: Path) -> None:
    text = TEST_SCHEDULE + "  - series: KEEP\n    match: {kind: [comment]}\n"
    found = problems(tmp_path, text)
    assert len(found) == 1 and "shadowed" in found[0][1]
    assert text.splitlines()[found[0][0] - 1].strip() == "- series: KEEP"


def test_bad_yaml_and_unknown_series(tmp_path: Path) -> None:
    assert "not valid YAML" in problems(tmp_path, "series: [\n")[0][1]
    found = problems(tmp_path, TEST_SCHEDULE.replace("  - series: POSTS", "  - series: NOPE"))
    assert any("'NOPE', which is not defined" in r for _, r in found)


def test_validate_command(tmp_path: Path) -> None:
    good = write_schedule(tmp_path, TEST_SCHEDULE, "good.yaml")
    bad = write_schedule(tmp_path, TEST_SCHEDULE.replace("{days: 30}", "{days: -3}"), "bad.yaml")
    runner = CliRunner()
    ok = runner.invoke(cli, ["retention", "validate", str(good)])
    assert ok.exit_code == 0 and "ok: schedule test-schedule" in ok.output
    failed = runner.invoke(cli, ["retention", "validate", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}:" in failed.output and "not a whole number" in failed.output


TWO_YEARS = Period(years=2)


def _series(trigger: str, period: Period | None = TWO_YEARS) -> Series:
    return Series("S", "S", trigger, "destroy", Authority("x"), period)


def test_triggers_and_periods() -> None:
    facts = ItemFacts(published=date(2021, 5, 3), captured=date(2021, 6, 1), removed=None,
                      last_activity=date(2022, 1, 9))
    fiscal = (6, 30)
    assert retention_start(_series("published"), facts, fiscal) == date(2021, 5, 3)
    assert retention_start(_series("captured"), facts, fiscal) == date(2021, 6, 1)
    assert retention_start(_series("removed"), facts, fiscal) is None
    assert retention_start(_series("end_of_calendar_year_after_published"), facts,
                           fiscal) == date(2021, 12, 31)
    assert retention_start(_series("end_of_fiscal_year_after_published"), facts,
                           fiscal) == date(2021, 6, 30)
    assert retention_start(_series("last_activity_in_thread"), facts, fiscal) == date(2022, 1, 9)
    assert disposition_date(_series("permanent", None), None) is None
    assert add_period(date(2020, 2, 29), Period(years=1)) == date(2021, 2, 28)
    assert add_period(date(2021, 1, 31), Period(months=1, days=1)) == date(2021, 3, 1)


# -- hostile and mistaken input: one FILE:LINE problem, never a traceback -----------------------

DEEP = "[" * 20_000 + "]" * 20_000


def _bad_schedules() -> dict[str, tuple[str, int | range, str]]:
    """name -> (file text, the line of its one problem, a word of its reason)."""
    return {
        "deep": (TEST_SCHEDULE.replace("title: Test schedule",
                                       f"title: Test schedule\nnotes: {DEEP}"), 3, "nested"),
        # Block nesting: the problem is on the line of the first node too deep.
        "deep-block": (TEST_SCHEDULE + "notes:\n" + "".join(f"{'  ' * i}- \n"
                                                             for i in range(300)),
                       range(28, 327), "nested"),
        "bad-date": (TEST_SCHEDULE.replace("default_series: KEEP",
                                           "default_series: KEEP\nfiscal_year_end: 2024-02-30"),
                     4, "2024-02-30"),
        "bad-date-in-title": (TEST_SCHEDULE.replace("title: Posts", "title: 2023-13-01"), 6,
                              "2023-13-01"),
        "huge-years": (TEST_SCHEDULE.replace("{years: 1}", "{years: 99999999999999999999999}"),
                       7, "years"),
        "huge-months": (TEST_SCHEDULE.replace("{years: 1}", "{months: 99999999999}"), 7,
                        "months"),
        "huge-fiscal": (TEST_SCHEDULE.replace("default_series: KEEP", "default_series: KEEP\n"
                                              "fiscal_year_end: 99999999999999999999-01"), 4,
                        "fiscal_year_end"),
        "tweet": (TEST_SCHEDULE.replace("{kind: [comment, reply]}", "{kind: [comment, tweet]}"),
                  25, "'tweet'"),
        "myspace": (TEST_SCHEDULE.replace("{kind: post}", "{kind: post, platform: [myspace]}"),
                    23, "'myspace'"),
        "alias": (TEST_SCHEDULE.replace("title: Test schedule", "title: &t Test schedule")
                  .replace("title: Posts", "title: *t"), 6, "alias"),
        "control-characters": (TEST_SCHEDULE.replace("title: Posts", 'title: "Posts\\e[2J"'),
                               6, "control"),
    }


@pytest.mark.parametrize("name", list(_bad_schedules()))
def test_hostile_schedule_is_one_problem_on_its_line(tmp_path: Path, name: str) -> None:
    text, line, needle = _bad_schedules()[name]
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    assert found[0][0] in (line if isinstance(line, range) else [line]), found
    assert needle in found[0][1], found


def test_kinds_and_platforms_come_from_the_connectors(tmp_path: Path) -> None:
    text = TEST_SCHEDULE.replace("{kind: post}", "{kind: [post, Tweet], platform: [MySpace]}")
    reasons = " ".join(r for _, r in problems(tmp_path, text))
    for kind in ItemKind:
        assert kind in reasons
    for platform in PLATFORMS:
        assert platform in reasons
    every = f"{{kind: [{', '.join(ItemKind)}], platform: [{', '.join(PLATFORMS)}]}}"
    assert problems(tmp_path, TEST_SCHEDULE.replace("{kind: post}", every)
                    .replace("{kind: [comment, reply]}", "{account: [x]}")) == []


def test_an_error_inside_a_series_is_reported_once(tmp_path: Path) -> None:
    # The default series and a rule's series are defined, only wrongly: no second complaint.
    text = TEST_SCHEDULE.replace("trigger: permanent", "trigger: someday") \
        .replace("{days: 30}", "{days: -1}")
    found = problems(tmp_path, text)
    assert [r for _, r in found] == [
        "series COMMENTS: retention days -1 is not a whole number from 0 to 365250",
        "series KEEP: trigger 'someday' does not exist (one of: "
        + ", ".join(RetentionTrigger) + ")",
    ], found


@pytest.mark.parametrize("name", ["deep", "bad-date", "huge-years", "tweet", "alias"])
def test_validate_and_load_agree_in_one_line(tmp_path: Path, name: str) -> None:
    text, line, needle = _bad_schedules()[name]
    path = write_schedule(tmp_path, text, f"{name}.yaml")
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}  # load refuses before opening the archive
    validated = run_cli(env, "retention", "validate", str(path))
    assert validated.returncode == 1 and validated.stderr == "", validated.stderr
    shown = validated.stdout.splitlines()
    assert len(shown) == 1 and shown[0].startswith(f"{path}:{line}: ") and needle in shown[0], \
        shown
    loaded = run_cli(env, "retention", "load", str(path))
    assert loaded.returncode == 1
    assert loaded.stderr.splitlines() == [f"error: invalid retention schedule: {shown[0]}"]
