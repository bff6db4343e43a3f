"""Schedule files: validation with file and line, the shipped schedules, date arithmetic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from archiver.cli import cli
from archiver.retention.assign import ItemFacts, add_period, disposition_date, retention_start
from archiver.retention.loading import shipped_schedules_dir
from archiver.retention.schedule import Authority, Period, Series, check_schedule
from tests.support.retention import TEST_SCHEDULE, write_schedule


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
