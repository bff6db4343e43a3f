"""Commands for General Order 80.11 at work: ``review`` (the queue, decisions, the rule file),
``policy check`` (pages against their required statements), ``notices`` (what staff are sent)
and ``reports monthly``. :func:`register` adds them to the ``archiver`` group."""

from __future__ import annotations

import os
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any

import click

from archiver.cli import completion
from archiver.cli.support import JSON_OPTION, actor, archive_from_env, echo, print_json
from archiver.terminal import visible
from archiver.wording import author_or_unknown, counted

DECISIONS = ("keep", "hide", "remove")


@click.group()
def review() -> None:
    """The review queue: what the monitoring rules flagged, and the reviewers' decisions."""


@review.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Decided flags too.")
@click.option("--account", "account_id", type=int, shell_complete=completion.account_ids,
              help="Only this account's flags.")
@click.option("--limit", type=click.IntRange(1, 100_000), help="At most this many.")
@JSON_OPTION
def review_list(include_decided: bool, account_id: int | None, limit: int | None,
                as_json: bool) -> None:
    """Open flags, oldest first (F-numbers for 'review decide'); comments shown in short."""
    from archiver.monitoring.review import review_queue

    with archive_from_env() as archive:
        rows = review_queue(archive, include_decided=include_decided, account_id=account_id,
                            limit=limit)
    if as_json:
        print_json({"total": len(rows), "flags": rows})
        return
    echo(f"{counted(len(rows), 'flag')}" + ("" if include_decided else " open"))
    for r in rows:
        state = "" if r["state"] == "open" else f" [{r['state']}]"
        echo(f"{r['flag_id']}{state}\titem {r['item_id']}\t{r['platform']}:"
             f"{visible(r['account'])}\t{r['kind']}\t{r['rule']} ({r['category']})\t"
             f"{visible(author_or_unknown(r['author']))}\t{visible(r['excerpt'])}")
        echo(f"\t{visible(r['ground'])}")


@review.command("decide")
@click.argument("target", metavar="ITEM_OR_FLAG_ID")
@click.option("--decision", required=True, type=click.Choice(DECISIONS),
              help="What was done on the platform.")
@click.option("--ground", required=True, help="The policy ground, e.g. 'GO 80.11 III.A.1.d(1)'.")
@click.option("--by", "decided_by", required=True, help="The reviewer's name.")
@JSON_OPTION
def review_decide(target: str, decision: str, ground: str, decided_by: str,
                  as_json: bool) -> None:
    """Record a reviewer's decision about an item (42) or the item of a flag (F12).

    The decision is an audit event and shows in 'archiver items show'; the archive keeps the
    record as captured whatever was decided.
    """
    from archiver.monitoring.review import decide

    with archive_from_env() as archive:
        row = decide(archive, target, decision, ground=ground, decided_by=decided_by,
                     actor=actor())
    if as_json:
        print_json(row)
        return
    closed = ", ".join(row["flags_closed"]) or "none open"
    echo(f"item {row['item_id']}: {row['decision']} by {visible(row['decided_by'])} on "
         f"{visible(row['ground'])} (decision {row['decision_id']}, audit event "
         f"{row['audit_event_id']}); flags closed: {closed}")


@review.command("flag")
@JSON_OPTION
def review_flag(as_json: bool) -> None:
    """Run the monitoring rules now on every item whose newest version they have not seen."""
    from archiver.monitoring.flags import flag_unchecked

    with archive_from_env() as archive:
        outcome = flag_unchecked(archive, origin="manual")
    if as_json:
        print_json({"checked": outcome.checked, "flagged": outcome.flagged,
                    "flag_ids": [f"F{i}" for i in outcome.flag_ids]})
        return
    echo(f"checked {counted(outcome.checked, 'item')}: {counted(outcome.flagged, 'new flag')}")


@review.group("rules")
def review_rules() -> None:
    """The monitoring rule file (the shipped GO 80.11 file runs until one is loaded)."""


@review_rules.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
def review_rules_validate(path: Path) -> None:
    """Check a rule file; every problem as FILE:LINE: reason, non-zero exit if any."""
    from archiver.monitoring.rules import load_rules_file

    rules = load_rules_file(path)
    echo(f"{visible(str(path))}: valid: rules {visible(rules.name)}, "
         f"{counted(len(rules.rules), 'monitoring rule')}, "
         f"{counted(len(rules.requirements), 'page requirement')}")


@review_rules.command("load")
@click.argument("path", type=click.Path(path_type=Path))
def review_rules_load(path: Path) -> None:
    """Validate a rule file and make it the active one (audited)."""
    from archiver.monitoring.loading import load_rules

    with archive_from_env() as archive:
        change = load_rules(archive, path, actor=actor())
    echo(visible(change.describe()))


@review_rules.command("show")
@JSON_OPTION
def review_rules_show(as_json: bool) -> None:
    """The active rules: each rule's name, category, whose words and policy ground."""
    from archiver.monitoring.loading import active_rules

    with archive_from_env() as archive, archive.sessions() as s:
        rules = active_rules(s)
    monitor = [{"name": r.name, "category": r.category, "applies_to": r.audience,
                "matcher": r.matcher, "ground": r.ground} for r in rules.rules]
    page = [{"id": q.id, "ground": q.ground, "title": q.title} for q in rules.requirements]
    if as_json:
        print_json({"rules": rules.name, "title": rules.title, "source": rules.source,
                    "sha256": rules.sha256, "monitor": monitor, "page_requirements": page})
        return
    echo(f"rules {visible(rules.name)} from {visible(rules.source)} (sha256 "
         f"{rules.sha256[:12]})")
    for r in monitor:
        echo(f"  {r['name']}\t{r['category']}\t{r['applies_to']}\t{r['matcher']}\t"
             f"{visible(r['ground'])}")
    for q in page:
        echo(f"  page: {q['id']}\t{visible(q['ground'])}\t{visible(q['title'])}")


@click.group()
def policy() -> None:
    """Pages against what General Order 80.11 asks them to state."""


@policy.command("check")
@click.option("--account", "account_ids", type=int, multiple=True,
              shell_complete=completion.account_ids, help="Only this account (repeatable).")
@JSON_OPTION
def policy_check(account_ids: tuple[int, ...], as_json: bool) -> None:
    """Read each active account's public profile and report, per requirement (III.A.1.b,
    III.A.1.d), whether it is met and the text that meets it. Stored with the profile as
    evidence; a requirement met before and not now is notified. Non-zero exit when a
    requirement is not met or a profile cannot be read."""
    from archiver.daemon.notices import check_pages

    with archive_from_env() as archive:
        checks = check_pages(archive, os.environ, list(account_ids) or None, actor=actor())
    if as_json:
        print_json({"accounts": checks})
    else:
        for c in checks:
            _print_check(c)
    if any(c["passed"] is not True for c in checks):
        sys.exit(1)


def _print_check(c: dict[str, Any]) -> None:
    where = f"account {c['account_id']} {c['platform']}:{visible(c['account'])}"
    if c["status"] != "checked":
        echo(f"{where}: profile unreadable: {visible(c['error'] or '')}")
        return
    met = sum(1 for r in c["requirements"] if r["passed"])
    echo(f"{where}: {met} of {counted(len(c['requirements']), 'requirement')} met "
         f"(check {c['check_id']}, evidence sha256 {c['evidence_sha256']})")
    for r in c["requirements"]:
        echo(f"  {'PASS' if r['passed'] else 'FAIL'} {r['requirement']} "
             f"({visible(r['ground'])}): {visible(r['title'])}")
        for f in r["found"]:
            echo(f"       found in {visible(f['field'])}: \"{visible(f['text'])}\"")
    if c["no_longer_met"]:
        echo(f"  no longer met since the last check: {', '.join(c['no_longer_met'])} "
             "(a notice is queued)")


@click.group()
def notices() -> None:
    """Messages to staff: flagged comments, pages no longer compliant, capture health,
    monthly reports (ARCHIVER_NOTIFY_* settings)."""


@notices.command("send")
@JSON_OPTION
def notices_send(as_json: bool) -> None:
    """Do what the scheduler's notices job does, now: flag new items, write the notices they
    and the capture runs call for, deliver every unsent notice."""
    from archiver.daemon.notices import run_notices

    with archive_from_env() as archive:
        summary = run_notices(archive, os.environ)
    if as_json:
        print_json(summary)
        return
    delivery = summary["delivery"]
    echo(f"checked {counted(summary['checked'], 'item')}: "
         f"{counted(summary['flagged'], 'new flag')}")
    channels = ", ".join(delivery["channels"]) or (
        "none configured (set ARCHIVER_NOTIFY_SMTP_HOST or ARCHIVER_NOTIFY_WEBHOOK_URL)")
    echo(f"channels: {channels}; sent {counted(len(delivery['sent']), 'notice')}, "
         f"{len(delivery['failed'])} failed, {delivery['pending']} waiting")
    for failed in delivery["failed"]:
        echo(f"notice {failed['notice_id']}: {visible(failed['error'])}", err=True)
    if delivery["failed"]:
        sys.exit(1)


@notices.command("list")
@click.option("--since", help="Every notice written since this date (default: unsent ones).")
@JSON_OPTION
def notices_list(since: str | None, as_json: bool) -> None:
    """Notices not sent yet (or all written since a date), oldest first."""
    from archiver.dates import parse_date
    from archiver.monitoring.notices import pending_notices, recent_notices

    with archive_from_env() as archive:
        if since:
            day = parse_date(since, "--since")
            start = datetime.combine(day, time(), archive.settings.tz)
            rows = recent_notices(archive, start)
        else:
            rows = pending_notices(archive)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        sent = f"sent {r['sent_at']} ({r['channels']})" if r["sent_at"] else (
            f"unsent, {counted(r['attempts'], 'attempt')}"
            + (f": {visible(r['last_error'])}" if r["last_error"] else ""))
        echo(f"{r['notice_id']}\t{r['kind']}\t{r['created_at']}\t{sent}\t{visible(r['subject'])}")


@click.group()
def reports() -> None:
    """Reports that arrive on their own (and on demand)."""


@reports.command("monthly")
@click.option("--month", help="YYYY-MM (default: last month, in the agency's time zone).")
@click.option("--account", "account_id", type=int, required=True,
              shell_complete=completion.account_ids)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the PDF and the CSV.")
@JSON_OPTION
def reports_monthly(month: str | None, account_id: int, out: Path, as_json: bool) -> None:
    """One account's activity in a month: new posts and comments, edits, hidden, removed,
    flags and decisions, capture failures; written as PDF and CSV (the scheduler e-mails every
    account's on the first of the month)."""
    from archiver.errors import ArchiverError
    from archiver.monitoring.reports import month_of, monthly_report, previous_month, report_files
    from archiver.store.accounts import get_account

    with archive_from_env() as archive:
        try:
            chosen = month_of(month) if month else previous_month(
                archive.clock().astimezone(archive.settings.tz).date())
        except ValueError:
            raise ArchiverError(f"--month: {month!r} is not a month like 2024-05") from None
        report = monthly_report(archive, get_account(archive, account_id), chosen)
        files = report_files(archive, report)
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        (out / f.name).write_bytes(f.content)
    if as_json:
        print_json({**report.as_json(), "files": [str(out / f.name) for f in files]})
        return
    from archiver.monitoring.reports import MEASURES

    echo(visible(report.title))
    echo(", ".join(f"{m} {report.counts[m]}" for m in MEASURES))
    for f in files:
        echo(f"wrote {visible(str(out / f.name))}")


def print_review(review_data: dict[str, Any]) -> None:
    """The ``review`` section of ``items show``: flags and decisions, one line each."""
    for f in review_data["flags"]:
        echo(f"flagged {f['flagged_at']} ({f['flag_id']}, version {f['seq']}, {f['state']}): "
             f"{f['rule']} ({f['category']}) under {visible(f['ground'])}")
    for d in review_data["decisions"]:
        echo(f"decided {d['decided_at']}: {d['decision']} by {visible(d['decided_by'])} on "
             f"{visible(d['ground'])} (version {d['seq']}, audit event {d['audit_event_id']})")


def register(group: click.Group) -> None:
    """Add this module's commands to ``group`` (the ``archiver`` command)."""
    for command in (review, policy, notices, reports):
        group.add_command(command)
