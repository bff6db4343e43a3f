"""Capture assigns series and disposition dates in its own rows (archiver.retention.assign's
``CaptureAssigner``); those must equal what the full recomputation (``assign_items``) gives, for
every trigger that depends on the item alone, after a first capture and after edits, hides and
removals."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.retention.assign import active_schedule, assign_items
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import Archive
from archiver.store.models import Item
from tests.support.retention import TOKEN_ENV, capture_sample, use_schedule

EVERY_TRIGGER = """\
schedule: triggers
title: One series per trigger capture computes itself
default_series: KEEP
fiscal_year_end: "06-30"
series:
  - code: POSTS
    title: Posts
    retention: {years: 2}
    trigger: end_of_calendar_year_after_published
    action: destroy
    authority: {citation: "Test authority A"}
  - code: COMMENTS
    title: Comments
    retention: {months: 1, days: 3}
    trigger: published
    action: destroy
    authority: {citation: "Test authority B"}
  - code: REPLIES
    title: Replies
    retention: {days: 90}
    trigger: removed
    action: transfer
    authority: {citation: "Test authority C"}
  - code: KEEP
    title: Everything else
    retention: {years: 1}
    trigger: end_of_fiscal_year_after_published
    action: destroy
    authority: {citation: "Test authority D"}
rules:
  - series: POSTS
    match: {kind: post}
  - series: COMMENTS
    match: {kind: comment}
  - series: REPLIES
    match: {kind: reply}
"""

Retention = tuple[str | None, object, object, object, object]


def _retention(archive: Archive) -> dict[int, Retention]:
    with archive.sessions() as s:
        return {i.id: (i.series_code, i.published_at, i.retention_start, i.disposition_date,
                       i.disposed_at) for i in s.scalars(select(Item))}


def _recomputed(archive: Archive) -> int:
    with archive.transaction() as s:
        ids = list(s.scalars(select(Item.id)))
        return assign_items(s, active_schedule(s), archive.settings.tz, ids)


def test_capture_assigns_what_recomputation_would(archive: Archive, tmp_path: Path) -> None:
    use_schedule(archive, tmp_path / "schedules", EVERY_TRIGGER)
    with GraphServer(load_sample(), page_size=5) as server:
        account = capture_sample(archive, server)
        first = _retention(archive)
        assert all(code is not None for code, *_ in first.values())
        assert any(due is not None for _c, _p, _s, due, _d in first.values())
        assert _recomputed(archive) == 0
        assert _retention(archive) == first

        server.apply_second_state()
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=lambda _s: None)
        assert result.status == "succeeded" and result.new_versions and result.removed
        second = _retention(archive)
        assert _recomputed(archive) == 0
        assert _retention(archive) == second
