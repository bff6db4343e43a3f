"""The YouTube connector against the loopback YouTube Data API server, and through capture."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from hypothesis import given

from archiver.connectors.errors import AuthError, ConnectorError, PagingLoop, RateLimitExhausted
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.youtube import YouTubeConnector, parse_threads_body
from archiver.item_detail import item_detail
from archiver.standins.youtube_server import (
    ADDED,
    CHANNEL_ID,
    DELETED,
    EDITED,
    MODERATED,
    YouTubeServer,
)
from archiver.store.archive import Archive
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, register, timed_capture, youtube_server

__all__ = ["youtube_server"]


def connector(server: YouTubeServer, **kw: object) -> YouTubeConnector:
    token = kw.pop("token", server.token)
    c = make_connector("youtube", CHANNEL_ID, server.base_url, token, **kw)  # type: ignore[arg-type]
    assert isinstance(c, YouTubeConnector)
    return c


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_reads_uploads_threads_and_all_replies(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    items = list(c.read())
    r = recs(items)
    assert Counter(x.kind for x in r.values()) == {"post": 7, "comment": 28, "reply": 21}
    done = [x.scope for x in items if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 8
    video = r["vid00000001"]
    assert video.scope == ROOT_SCOPE and video.text.startswith("Springfield PD update #1")
    assert video.media[0].url.endswith("vid00000001/hqdefault.jpg")
    top, reply = r["Ugz001001"], r["Ugz001001.r3"]
    assert top.kind == "comment" and top.parent_external_id == "vid00000001"
    # the thread shows two replies inline; the third came from comments.list?parentId
    assert reply.kind == "reply" and reply.parent_external_id == "Ugz001001"
    assert reply.scope == "vid00000001"
    assert youtube_server.path_counts["/youtube/v3/comments"] == 7
    held, spam = r["Ugz002002"], r["Ugz003003"]
    assert (held.status, held.platform_status) == ("hidden", "heldForReview")
    assert (spam.status, spam.platform_status) == ("hidden", "likelySpam")
    assert "<script>" in (held.text or "")  # kept verbatim: escaping is the reader's job
    # 7 uploads at 5 a page: two playlist pages
    assert youtube_server.path_counts["/youtube/v3/playlistItems"] == 2


def test_second_state_edit_moderation_deletion(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    youtube_server.apply_second_state()
    r = recs(list(c.read()))
    assert "(edited" in (r[EDITED].text or "") and r[EDITED].updated_at is not None
    assert r[MODERATED].status == "hidden" and DELETED not in r and ADDED in r


def test_lookup_gone_present_unknown(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    youtube_server.apply_second_state()
    gone = c.lookup(ItemRef(DELETED, "comment", "vid00000001", "vid00000001"))
    assert isinstance(gone, Gone) and gone.evidence["response"]["items"] == []
    assert youtube_server.token not in json.dumps(gone.evidence)
    assert isinstance(c.lookup(ItemRef(EDITED, "comment", "vid00000001")), Present)
    assert isinstance(c.lookup(ItemRef("vid00000002", "post", ROOT_SCOPE)), Present)
    youtube_server.api_error(404, "commentNotFound", "youtube.comment", path="/comments$")
    assert isinstance(c.lookup(ItemRef("Ugzxxx", "comment", "v")), Gone)
    youtube_server.fail_status(500, times=None)
    assert isinstance(c.lookup(ItemRef(DELETED, "comment", "v")), Unknown)


def test_lookup_unknown_when_channel_no_longer_reads(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    youtube_server.apply_second_state()
    youtube_server.api_error(401, "authError", path="/channels$", times=None)
    assert isinstance(c.lookup(ItemRef(DELETED, "comment", "v")), Unknown)


def test_quota_exceeded_stops_at_once(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    youtube_server.quota_exceeded(nth=4, times=None)
    with pytest.raises(ConnectorError, match="quota is used up") as info:
        list(c.read())
    assert "\n" not in str(info.value)
    assert c.sleep.calls == []  # type: ignore[attr-defined]  # no waiting for the quota window
    assert youtube_server.request_count == 4


def test_rate_limit_exceeded_backs_off_through_sleep(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server)
    youtube_server.rate_limit_exceeded(path="/commentThreads", times=2)
    youtube_server.rate_limit_429(retry_after="9", nth=10)
    assert len(recs(list(c.read()))) == 56
    waits = c.sleep.calls  # type: ignore[attr-defined]
    assert c.stats.rate_limited == 3 and 9.0 in waits and len(waits) == 3


def test_rate_limit_budget(youtube_server: YouTubeServer) -> None:
    c = connector(youtube_server, rate_limit_budget_s=10.0)
    youtube_server.rate_limit_exceeded(times=None)
    with pytest.raises(RateLimitExhausted):
        list(c.read())


def test_error_bodies(youtube_server: YouTubeServer) -> None:
    with pytest.raises(AuthError, match="authError"):
        list(connector(youtube_server, token="wrong").read())
    c = connector(youtube_server)
    youtube_server.api_error(
        403, "commentsDisabled", "youtube.commentThread", path="/commentThreads"
    )
    items = list(c.read())
    assert c.stats.extra["listings_skipped"] == 1
    assert "vid00000007" not in [x.scope for x in items if isinstance(x, ListingComplete)]


def test_paging_loop_detected(youtube_server: YouTubeServer) -> None:
    youtube_server.paging_loop(path="/playlistItems", times=None)
    with pytest.raises(PagingLoop, match="/youtube/v3/playlistItems"):
        list(connector(youtube_server).read())


def test_token_and_api_key_never_leak(
    youtube_server: YouTubeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    items = list(connector(youtube_server).read())
    keyed = connector(youtube_server, token="key:" + youtube_server.api_key)
    public = list(keyed.read())
    # a key reads public data only: held/spam comments are absent and no comment listing is whole
    assert len(recs(public)) == 54
    assert [x.scope for x in public if isinstance(x, ListingComplete)] == [ROOT_SCOPE]
    assert {how for _, how in youtube_server.requests} == {"header", "param"}
    youtube_server.api_error(400, "keyInvalid", "usageLimits", times=None)
    with pytest.raises(AuthError) as info:
        list(keyed.read())
    for secret in (youtube_server.token, youtube_server.api_key):
        assert secret not in str(info.value)
        assert all(secret not in json.dumps(r.raw) for r in recs(items + public).values())
        assert caplog.records and all(secret not in rec.getMessage() for rec in caplog.records)


VALID = json.dumps(
    {
        "items": [
            {
                "id": "t1",
                "snippet": {
                    "videoId": "v",
                    "totalReplyCount": 1,
                    "topLevelComment": {
                        "id": "c1",
                        "snippet": {"textOriginal": "hi", "publishedAt": "2024-05-01T10:00:00Z"},
                    },
                },
                "replies": {
                    "comments": [
                        {
                            "id": "c1.r",
                            "snippet": {"parentId": "c1", "moderationStatus": "likelySpam"},
                        }
                    ]
                },
            }
        ],
        "nextPageToken": "abc",
    }
).encode()
KEYS = [
    "items",
    "id",
    "snippet",
    "topLevelComment",
    "replies",
    "comments",
    "textOriginal",
    "publishedAt",
    "updatedAt",
    "moderationStatus",
    "parentId",
    "totalReplyCount",
    "authorChannelId",
    "value",
    "nextPageToken",
]


def test_parser_reads_valid_page() -> None:
    out = parse_threads_body(VALID)
    assert [(r.kind, r.status) for r in out] == [("comment", "active"), ("reply", "hidden")]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_threads_body, body)


def test_capture_end_to_end(archive: Archive, youtube_server: YouTubeServer) -> None:
    acct = register(archive, "youtube", CHANNEL_ID, youtube_server.base_url, youtube_server.token)
    first = timed_capture(acct, youtube_server, "youtube first capture")
    assert first.status == "succeeded" and first.new_items == 56
    youtube_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    assert (second.new_items, second.removed) == (1, 1)
    assert second.new_versions == 4  # edit, moderation, removal, new comment
    items = acct.items()
    assert [v["status"] for v in item_detail(archive, items[MODERATED].id)["versions"]] == [
        "active",
        "hidden",
    ]
    removed = item_detail(archive, items[DELETED].id)
    assert removed["status"] == "removed" and removed["removal_evidence"]
    versions = acct.versions()
    again = timed_capture(acct, youtube_server, "youtube unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions


def test_capture_quota_exceeded_is_failed_run_nothing_removed(
    archive: Archive, youtube_server: YouTubeServer
) -> None:
    acct = register(archive, "youtube", CHANNEL_ID, youtube_server.base_url, youtube_server.token)
    acct.capture()
    youtube_server.apply_second_state()
    youtube_server.quota_exceeded(path="/commentThreads", nth=None, times=None)
    result = acct.capture()
    assert result.status == "failed" and "quota" in (result.error or "")
    assert result.removed == 0 and youtube_server.token not in (result.error or "")
