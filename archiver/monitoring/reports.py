"""The monthly activity report of an account, as PDF and CSV, and its notice.

A month is the agency's calendar month (``ARCHIVER_TIMEZONE``). It counts what the archive saw
then: new posts and new comments (by publication time, or first capture when the platform gave
none), edits (a new version with the same status), items hidden and removed (a version that
turned hidden or removed), the monitoring flags and the reviewers' decisions, and the capture
runs with every one that failed or stored only part of what it read. The PDF is set by
:mod:`archiver.pdf.writer` (fonts embedded); the CSV's cells are spreadsheet-safe
(:mod:`archiver.exports.cells`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from archiver.exports.cells import SafeCsvWriter
from archiver.monitoring.notices import notice_exists, queue_notice
from archiver.notify.message import Attachment
from archiver.pdf.writer import document_info, text_pdf
from archiver.store.archive import Archive
from archiver.store.models import Account, CaptureRun, Item, ItemVersion
from archiver.store.monitoring import ReviewDecision, ReviewFlag
from archiver.terminal import visible
from archiver.wording import counted

POST_KINDS = ("post", "media", "page_revision")
COMMENT_KINDS = ("comment", "reply")
FAILED_RUNS = ("failed", "partial", "interrupted")
MEASURES = ("new_posts", "new_comments", "edits", "hidden", "removed", "flags",
            "decisions", "capture_runs", "capture_failures")


@dataclass
class MonthlyReport:
    """One account's month in numbers, with the failed runs named."""

    account_id: int
    platform: str
    handle: str
    month: date  # its first day
    start: datetime
    end: datetime
    counts: dict[str, int] = field(default_factory=dict)
    flags_by_category: dict[str, int] = field(default_factory=dict)
    decisions_by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``2024-05``."""
        return self.month.strftime("%Y-%m")

    @property
    def title(self) -> str:
        return (f"Monthly social media activity, {self.month:%B %Y}: "
                f"{self.platform}:{self.handle}")

    def as_json(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "platform": self.platform,
                "account": self.handle, "month": self.label, "from": self.start.isoformat(),
                "until": self.end.isoformat(), **self.counts,
                "flags_by_category": self.flags_by_category,
                "decisions_by_kind": self.decisions_by_kind, "failures": self.failures}


def month_of(text: str) -> date:
    """``YYYY-MM`` as the month's first day; anything else is a ValueError."""
    year, month = (int(p) for p in text.split("-"))
    return date(year, month, 1)


def previous_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    first = day.replace(day=1)
    return (first.replace(year=first.year - 1, month=12) if first.month == 1
            else first.replace(month=first.month - 1))


def _bounds(archive: Archive, month: date) -> tuple[datetime, datetime]:
    tz = archive.settings.tz
    after = (month.replace(year=month.year + 1, month=1) if month.month == 12
             else month.replace(month=month.month + 1))
    return (datetime.combine(month, time(), tz).astimezone(UTC),
            datetime.combine(after, time(), tz).astimezone(UTC))


def monthly_report(archive: Archive, account: Account, month: date) -> MonthlyReport:
    """What the archive saw of ``account`` in ``month`` (see the module)."""
    start, end = _bounds(archive, month)
    report = MonthlyReport(account.id, account.platform, account.handle, month, start, end)
    with archive.sessions() as s:
        published = func.coalesce(Item.published_at, Item.first_captured_at)
        for name, kinds in (("new_posts", POST_KINDS), ("new_comments", COMMENT_KINDS)):
            report.counts[name] = s.scalar(
                select(func.count()).select_from(Item)
                .where(Item.account_id == account.id, Item.kind.in_(kinds),
                       published >= start, published < end)) or 0
        report.counts.update(_changes(s, account.id, start, end))
        flags = s.execute(select(ReviewFlag.category, func.count())
                          .where(ReviewFlag.account_id == account.id,
                                 ReviewFlag.flagged_at >= start, ReviewFlag.flagged_at < end)
                          .group_by(ReviewFlag.category)).all()
        report.flags_by_category = {c: n for c, n in sorted(flags)}
        report.counts["flags"] = sum(report.flags_by_category.values())
        decisions = s.execute(select(ReviewDecision.decision, func.count())
                              .join(Item, Item.id == ReviewDecision.item_id)
                              .where(Item.account_id == account.id,
                                     ReviewDecision.decided_at >= start,
                                     ReviewDecision.decided_at < end)
                              .group_by(ReviewDecision.decision)).all()
        report.decisions_by_kind = {d: n for d, n in sorted(decisions)}
        report.counts["decisions"] = sum(report.decisions_by_kind.values())
        runs = list(s.scalars(select(CaptureRun).where(CaptureRun.account_id == account.id,
                                                       CaptureRun.started_at >= start,
                                                       CaptureRun.started_at < end)
                              .order_by(CaptureRun.id)))
    report.counts["capture_runs"] = len(runs)
    report.failures = [{"run_id": r.id, "started_at": r.started_at.isoformat(),
                        "trigger": r.trigger, "status": r.status, "error": r.error}
                       for r in runs if r.status in FAILED_RUNS]
    report.counts["capture_failures"] = len(report.failures)
    return report


def _changes(s: Session, account_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Edits, hides and removals among the versions captured in ``[start, end)``."""
    before = aliased(ItemVersion)
    rows = s.execute(
        select(ItemVersion.status, before.status, func.count())
        .join(Item, Item.id == ItemVersion.item_id)
        .outerjoin(before, and_(before.item_id == ItemVersion.item_id,
                                before.seq == ItemVersion.seq - 1))
        .where(Item.account_id == account_id, ItemVersion.captured_at >= start,
               ItemVersion.captured_at < end)
        .group_by(ItemVersion.status, before.status)).all()
    out = {"edits": 0, "hidden": 0, "removed": 0}
    for status, previous, count in rows:
        if previous is not None and status == previous:
            out["edits"] += count
        elif status in ("hidden", "removed") and status != previous:
            out[status] += count
    return out


def report_lines(archive: Archive, report: MonthlyReport) -> list[str]:
    """The report in sentences (the PDF's body and the e-mail's text)."""
    tz = archive.settings.tz
    c = report.counts
    lines = [f"Account {report.account_id}, {report.platform}:{visible(report.handle)}, from "
             f"{report.start.astimezone(tz):%Y-%m-%d %H:%M %Z} to "
             f"{report.end.astimezone(tz):%Y-%m-%d %H:%M %Z}.", "",
             f"New: {counted(c['new_posts'], 'post')} and {counted(c['new_comments'], 'comment')}"
             " (comments include replies).",
             f"Changed: {counted(c['edits'], 'edit')}, {c['hidden']} hidden, {c['removed']} "
             "removed (as the platform showed them; the archive keeps every version).",
             f"Monitoring: {counted(c['flags'], 'flag')}"
             + (" (" + ", ".join(f"{n} {k}" for k, n in report.flags_by_category.items()) + ")"
                if report.flags_by_category else "")
             + f"; {counted(c['decisions'], 'decision')}"
             + (" (" + ", ".join(f"{n} {k}" for k, n in report.decisions_by_kind.items()) + ")"
                if report.decisions_by_kind else "") + ".",
             f"Capture: {counted(c['capture_runs'], 'run')}, "
             f"{counted(c['capture_failures'], 'failure')}."]
    for f in report.failures:
        lines.append(f"  run {f['run_id']} ({f['trigger']}) started "
                     f"{datetime.fromisoformat(f['started_at']).astimezone(tz):%Y-%m-%d %H:%M %Z}"
                     f": {f['status']}: {visible(f['error'] or 'no reason recorded')}")
    return lines


def report_csv(report: MonthlyReport) -> bytes:
    """One row per measure (and per category, decision and failed run), spreadsheet-safe."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["account_id", "platform", "account", "month", "measure", "value",
                     "detail"])
    head = [report.account_id, report.platform, report.handle, report.label]
    for measure in MEASURES:
        writer.writerow([*head, measure, report.counts.get(measure, 0), ""])
    for category, n in report.flags_by_category.items():
        writer.writerow([*head, f"flags:{category}", n, ""])
    for decision, n in report.decisions_by_kind.items():
        writer.writerow([*head, f"decisions:{decision}", n, ""])
    for f in report.failures:
        writer.writerow([*head, "capture_failure", f["run_id"],
                         f"{f['started_at']} {f['trigger']} {f['status']}: {f['error'] or ''}"])
    return out.getvalue().encode("utf-8")


def report_pdf(archive: Archive, report: MonthlyReport) -> bytes:
    """The report as a PDF of sentences (fonts embedded, see :mod:`archiver.pdf.writer`)."""
    about = document_info(archive, report.title)
    return text_pdf(report.title, report_lines(archive, report), about=about)


def report_files(archive: Archive, report: MonthlyReport) -> tuple[Attachment, Attachment]:
    """The PDF and the CSV, named by account id and month (never by stored text)."""
    name = f"activity-account-{report.account_id}-{report.label}"
    return (Attachment(f"{name}.pdf", "application/pdf", report_pdf(archive, report)),
            Attachment(f"{name}.csv", "text/csv", report_csv(report)))


def queue_monthly_reports(archive: Archive, month: date,
                          account_ids: list[int] | None = None) -> list[int]:
    """A notice with each active account's report for ``month`` attached (once per account
    and month)."""
    with archive.sessions() as s:
        query = select(Account).where(Account.active.is_(True)).order_by(Account.id)
        if account_ids is not None:
            query = query.where(Account.id.in_(account_ids))
        accounts = list(s.scalars(query))
    made = []
    for account in accounts:
        key = f"monthly:{account.id}:{month:%Y-%m}"
        with archive.sessions() as s:
            if notice_exists(s, key):
                continue
        report = monthly_report(archive, account, month)
        with archive.transaction() as s:
            notice = queue_notice(
                s, archive, kind="monthly_report", key=key,
                subject=visible(report.title), lines=report_lines(archive, report),
                account_id=account.id, data={"report": report.as_json()},
                attachments=report_files(archive, report))
        if notice is not None:
            made.append(notice)
    return made
