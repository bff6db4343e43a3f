"""Property: for random items, schedules, holds and dates, no held item is ever destroyed and
every destroyed item was eligible (and every eligible, unheld item was destroyed)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from archiver.config import Settings
from archiver.initialise import initialise
from archiver.retention.holds import HoldSpec, create_hold, release_hold
from archiver.retention.purge import purge
from archiver.standins.dataset import synthetic_dataset
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import open_archive
from archiver.store.models import Hold, HoldItem, Item, Tombstone
from archiver.verify import verify_archive
from tests.support.retention import capture_sample, use_schedule

TRIGGERS = ["published", "captured", "end_of_calendar_year_after_published"]


def schedule_text(post: tuple[str, int], comment: tuple[str, int], confirmed: bool) -> str:
    return f"""\
schedule: random
default_series: C
series:
  - code: P
    title: Posts
    retention: {{days: {post[1]}}}
    trigger: {post[0]}
    action: destroy
    authority: {{citation: "A"}}
  - code: C
    title: Comments
    retention: {{days: {comment[1]}}}
    trigger: {comment[0]}
    action: destroy
    authority: {{citation: "B", confirmed: {str(confirmed).lower()}}}
rules:
  - series: P
    match: {{kind: post}}
"""


series_st = st.tuples(st.sampled_from(TRIGGERS), st.integers(0, 900))
hold_st = st.tuples(st.integers(0, 400), st.integers(0, 400), st.booleans(), st.booleans())


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(posts=st.integers(1, 4), comments=st.integers(0, 3), start=st.integers(0, 700),
       post_series=series_st, comment_series=series_st, confirmed=st.booleans(),
       holds=st.lists(hold_st, max_size=3), purge_offset=st.integers(0, 1500))
def test_no_held_item_destroyed_and_every_destroyed_item_eligible(
    posts: int, comments: int, start: int, post_series: tuple[str, int],
    comment_series: tuple[str, int], confirmed: bool,
    holds: list[tuple[int, int, bool, bool]], purge_offset: int,
) -> None:
    t0 = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(days=start)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        cfg = Settings(home=home, db_url=f"sqlite:///{home / 'a.sqlite3'}",
                       store_url=(home / "blobs").as_uri(), index_dir=home / "index")
        initialise(cfg, environ={})
        with open_archive(cfg) as archive:
            use_schedule(archive, home / "sched", schedule_text(post_series, comment_series,
                                                                 confirmed))
            with GraphServer(synthetic_dataset(posts, comments, 1, start=t0)) as server:
                capture_sample(archive, server)
            for n, (a, b, release, by_account) in enumerate(holds):
                since = t0 + timedelta(minutes=min(a, b))
                until = t0 + timedelta(minutes=max(a, b))
                create_hold(archive, HoldSpec(name=f"h{n}", matter="m", created_by="t",
                                              since=since, until=until,
                                              account_id=1 if by_account else None))
                if release:
                    release_hold(archive, f"h{n}", released_by="t", reason="done")
            as_of = date(2022, 1, 1) + timedelta(days=purge_offset)
            purge(archive, as_of, approved_by="tester", out_dir=home / "out")
            with archive.sessions() as s:
                held = set(s.scalars(select(HoldItem.item_id).join(Hold)
                                     .where(Hold.released_at.is_(None))))
                destroyed = set(s.scalars(select(Tombstone.item_id)))
                items = list(s.scalars(select(Item)))
            assert not held & destroyed
            for item in items:
                eligible = (item.disposition_date is not None and item.disposition_date <= as_of
                            and (item.series_code == "P" or confirmed))
                if item.id in destroyed:
                    assert eligible, (item.id, item.series_code, item.disposition_date, as_of)
                else:
                    assert not eligible or item.id in held
            assert verify_archive(archive).ok
