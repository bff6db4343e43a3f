"""Stories (Instagram's and a Facebook Page's): their own kind and listing, read by the frequent
sweep with their media, and recorded as expired, never as removed, once their day is over.
Against the loopback Graph and Instagram servers, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.connectors.errors import ConnectorError
from archiver.connectors.graph_stories import story_media, story_record
from archiver.connectors.records import ItemKind, ListingComplete, ListingWindow, Record
from archiver.connectors.stories import STORIES_SCOPE
from archiver.daemon.scheduler import comment_sweep
from archiver.item_detail import item_detail
from archiver.standins.graph_server import GraphServer
from archiver.standins.instagram_server import InstagramServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import AuditEvent, Item
from tests.support.graph import SleepRecorder, make_facebook_connector
from tests.support.platforms_a import make_instagram_connector

TOKEN_ENV = "ARCHIVER_TOKEN_TEST_STORIES"


def graph_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+0000")


@pytest.fixture
def ig() -> Iterator[InstagramServer]:
    with InstagramServer(page_size=3) as server:
        yield server


def test_instagram_stories_are_their_own_kind_in_a_window(ig: InstagramServer) -> None:
    sid = ig.post_story(graph_time(datetime.now(UTC) - timedelta(hours=2)), "Road closed")
    events = list(make_instagram_connector(ig).read())
    [story] = [e for e in events if isinstance(e, Record) and e.kind == ItemKind.STORY]
    assert (story.external_id, story.scope, story.text) == (sid, STORIES_SCOPE, "Road closed")
    assert story.media[0].url.endswith("/media/igstory1.png")
    # A window: what leaves it is never looked up as removed; the posts' listing is unchanged.
    assert ListingWindow(STORIES_SCOPE) in events
    assert ListingComplete(STORIES_SCOPE) not in events and ListingComplete("") in events


def test_facebook_stories_carry_their_photo_or_video(graph_server: GraphServer) -> None:
    now = int(datetime.now(UTC).timestamp())
    photo = graph_server.add_story(now - 3600)
    video = graph_server.add_story(now - 60, media_type="video")
    graph_server.end_story(photo, archive=True)  # the story archive is on
    c = make_facebook_connector(graph_server)
    stories = {r.external_id: r for r in c.read([STORIES_SCOPE]) if isinstance(r, Record)}
    assert set(stories) == {photo, video}  # the sweep's scope reads the stories alone
    assert stories[photo].platform_status == "archived"
    assert stories[photo].created_at == datetime.fromtimestamp(now - 3600, UTC)
    assert stories[photo].media[0].url.endswith("/media/story1.png")
    assert (stories[video].media[0].url.endswith("/media/story2.mp4")
            and stories[video].media[0].media_type == "video")
    assert not any(p.endswith("/feed") for p in graph_server.path_counts)


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_missing_permission_is_reported_and_the_rest_is_read(
    platform: str, graph_server: GraphServer, ig: InstagramServer
) -> None:
    if platform == "facebook":
        graph_server.stories_refused = True
        c = make_facebook_connector(graph_server)
    else:
        ig.stories_refused = True
        c = make_instagram_connector(ig)
    events = list(c.read())
    assert any(isinstance(e, Record) and e.kind == "post" for e in events)
    assert ListingComplete("") in events
    assert not any(getattr(e, "scope", None) == STORIES_SCOPE for e in events)
    [note] = c.stats.notes
    assert "stories not read: the token lacks a permission" in note and "(#10)" in note
    which = "page" if platform == "facebook" else "instagram"
    assert c.stats.extra[f"{which}_stories_not_permitted"] == 1


STORY = st.dictionaries(
    st.sampled_from(["post_id", "status", "creation_time", "media_type", "media_id", "url",
                     "images", "source", "width", "height"]),
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.lists(st.dictionaries(st.sampled_from(["source", "width", "height"]),
                               st.integers() | st.text(max_size=5), max_size=3), max_size=2),
    max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STORY, STORY)
def test_story_parser_ends_in_a_record_or_one_connector_error(
    item: dict[str, object], media: dict[str, object]
) -> None:
    try:
        record = story_record(item, story_media("photo", media, "/stories"), "/stories")
    except ConnectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert record.kind == "story" and record.scope == STORIES_SCOPE
        assert all(isinstance(m.url, str) for m in record.media)


# --- end to end: the sweep captures them with their media; expiry is not removal -----------


def test_sweep_captures_stories_with_media_and_records_expiry(archive: Archive) -> None:
    start = datetime.now(UTC)
    with InstagramServer(page_size=5) as server:
        account = add_account(archive, AccountSpec(
            platform="instagram", external_id=server.ig.user_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: server.token}
        first = capture_account(archive, account, env, sleep=SleepRecorder())
        assert first.status == "succeeded", first.error

        kept = server.post_story(graph_time(start - timedelta(hours=1)), "Checkpoint tonight")
        early = server.post_story(graph_time(start - timedelta(minutes=5)), "Oops")
        server.path_counts.clear()
        [swept] = comment_sweep(archive, env, sleep=SleepRecorder())
        assert swept is not None and swept.status == "succeeded", swept.error
        assert swept.new_items == 2 and swept.media_stored == 2
        assert any(p.endswith("/stories") for p in server.path_counts)
        assert not any(p.endswith("/media") for p in server.path_counts)  # no full read

        # A day later both are gone from the listing: one expired, one left within its day.
        server.expire_story(kept)
        server.expire_story(early)
        later = replace(archive, clock=lambda: start + timedelta(hours=22))
        again = capture_account(later, account, env, sleep=SleepRecorder())
        assert (again.removed, again.expired, again.no_longer_listed) == (0, 0, 2)
        day_after = replace(archive, clock=lambda: start + timedelta(hours=23, minutes=30))
        third = capture_account(day_after, account, env, sleep=SleepRecorder())
        assert third.status == "succeeded", third.error
        assert (third.removed, third.unconfirmed, third.expired) == (0, 0, 1)
        assert third.no_longer_listed == 1  # the one that left early: no conclusion drawn
        with archive.sessions() as s:
            items = {i.external_id: i for i in s.scalars(select(Item))}
            expired_events = s.scalars(select(AuditEvent).where(
                AuditEvent.action == "item.expired")).all()
        detail = item_detail(archive, items[kept].id)
        assert [(v["status"], v["platform_status"]) for v in detail["versions"]] == [
            ("active", "published"), ("active", "expired")]
        assert items[kept].kind == "story" and items[kept].status == "active"
        assert [json.loads(e.details_json)["platform_status"]
                for e in expired_events] == ["expired"]

        fourth = capture_account(day_after, account, env, sleep=SleepRecorder())
        assert (fourth.new_versions, fourth.expired, fourth.no_longer_listed) == (0, 0, 1)
