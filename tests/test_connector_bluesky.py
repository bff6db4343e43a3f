"""The Bluesky connector against the loopback XRPC server, and end to end through capture into
a real archive (SQLite and PostgreSQL), searched and exported."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from archiver.capture.account import capture_account
from archiver.connectors.bluesky_parse import parse_feed_body, parse_thread_body
from archiver.connectors.errors import (
    AuthError,
    MalformedResponse,
    RateLimitExhausted,
)
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    ReadEvent,
    Record,
    Unknown,
)
from archiver.item_detail import item_detail
from archiver.standins import bluesky_server as bs
from archiver.standins.bluesky_server import BlueskyServer
from archiver.store.archive import Archive
from tests.support.graph import SleepRecorder
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_a import FakeClock
from tests.support.platforms_b import register
from tests.support.social import bluesky_connector, bluesky_server, search_and_export

__all__ = ["bluesky_server"]

FEED = "/xrpc/app.bsky.feed.getAuthorFeed"
THREAD = "/xrpc/app.bsky.feed.getPostThread"
POST1 = f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpost0000001"
POST5 = f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpost0000005"


def recs(events: list[ReadEvent]) -> dict[str, Record]:
    return {e.external_id: e for e in events if isinstance(e, Record)}


def test_full_read_pages_to_the_end_and_normalizes(bluesky_server: BlueskyServer) -> None:
    c = bluesky_connector(bluesky_server)
    events = list(c.read())
    got = recs(events)
    assert Counter(r.kind for r in got.values()) == {"post": 6, "comment": 19, "reply": 8}
    assert bluesky_server.path_counts[FEED] == 3  # 10 feed entries at 4 a page
    assert bluesky_server.sign_ins == 1 and c.stats.extra["sessions"] == 1
    assert c.stats.extra["reposts_not_kept"] == 1 and bs.OTHER_ROOT not in got
    # The department's answer elsewhere is kept at the top level, its own in its thread.
    elsewhere = got[f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpdelsewhere1"]
    assert (elsewhere.kind, elsewhere.scope, elsewhere.parent_external_id) == (
        "reply", ROOT_SCOPE, bs.OTHER_ROOT)
    own = got[f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpdanswer0001"]
    assert own.kind == "reply" and own.scope == POST1
    troll = next(r for r in got.values() if r.text == bs.HOSTILE)
    assert troll.status == "hidden" and troll.platform_status == "hidden"
    post2 = got[f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpost0000002"]
    assert [m.media_type for m in post2.media] == ["image"]
    assert post2.url == (f"https://bsky.app/profile/{bs.ACCOUNT_DID}/post/3kpost0000002")
    # The blocked reply cannot be read: that thread is not declared complete, and it is said.
    done = {e.scope for e in events if isinstance(e, ListingComplete)}
    assert POST5 not in done and POST1 in done and ROOT_SCOPE in done
    assert c.stats.extra["replies_unseen"] == 1 and "could not be read" in c.stats.notes[0]


def test_second_state_deleted_reply_shows_as_not_found(bluesky_server: BlueskyServer) -> None:
    bluesky_server.apply_second_state()
    c = bluesky_connector(bluesky_server)
    got = recs(list(c.read()))
    assert bs.DELETED_LEAF not in got and bs.DELETED_WITH_ANSWER not in got
    assert c.stats.extra["replies_deleted"] == 1  # the one still answered: #notFoundPost
    assert got[bs.HIDDEN_IN_SECOND_STATE].status == "hidden" and bs.NEW_REPLY in got


def test_rate_limit_headers_are_waited_out(fake_clock: FakeClock) -> None:
    with BlueskyServer(page_size=4, clock=fake_clock.time, rate_limit=5) as server:
        c = bluesky_connector(server, fake_clock)
        assert len(recs(list(c.read()))) == 33
    # Five requests a window: after each fifth, RateLimit-Remaining 0 until RateLimit-Reset.
    assert fake_clock.calls and all(0 < s <= bs.WINDOW_S for s in fake_clock.calls)
    assert server.request_count == 11 and c.stats.rate_limited == 0


def test_429_waits_for_ratelimit_reset_within_budget(bluesky_server: BlueskyServer,
                                                      fake_clock: FakeClock) -> None:
    bluesky_server.rate_limit_429(retry_after="7", path=THREAD, times=1)
    c = bluesky_connector(bluesky_server, fake_clock)
    assert len(recs(list(c.read()))) == 33
    assert fake_clock.calls == [7.0] and c.stats.rate_limited == 1
    bluesky_server.rate_limit_429(retry_after="60", times=None)
    c2 = bluesky_connector(bluesky_server, fake_clock, rate_limit_budget_s=100.0)
    with pytest.raises(RateLimitExhausted, match="100s budget") as info:
        list(c2.read())
    assert "RateLimitExceeded" in str(info.value) and "\n" not in str(info.value)


def test_wrong_app_password_is_one_line_without_it(bluesky_server: BlueskyServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        list(bluesky_connector(bluesky_server, token="wrong-app-password").read())
    message = str(info.value)
    assert "\n" not in message and "AuthenticationRequired" in message
    assert "createSession" in message and "wrong-app-password" not in message
    assert all("wrong-app-password" not in r.getMessage() for r in caplog.records)


def test_expired_session_signs_in_again(bluesky_server: BlueskyServer) -> None:
    c = bluesky_connector(bluesky_server)
    first = list(c.read())
    bluesky_server.expire_sessions()
    again = list(c.read())
    assert recs(again).keys() == recs(first).keys()
    assert bluesky_server.sign_ins == 2 and c.stats.extra["sessions"] == 2


def test_secrets_never_reach_records_evidence_or_messages(bluesky_server: BlueskyServer) -> None:
    c = bluesky_connector(bluesky_server)
    items = list(c.read())
    tokens = [*bluesky_server.sessions, bluesky_server.password]
    assert all(t not in repr(x) for t in tokens for x in items)
    assert {how for path, how in bluesky_server.requests if path != "/xrpc/com.atproto.server."
            "createSession"} == {"header"}
    bluesky_server.apply_second_state()
    gone = c.lookup(ItemRef(bs.DELETED_LEAF, "comment", POST1))
    assert isinstance(gone, Gone)
    assert all(t not in json.dumps(gone.evidence) for t in tokens)


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_garbage_answers_are_one_line_errors(bluesky_server: BlueskyServer, fault: str) -> None:
    getattr(bluesky_server, fault)(path=FEED, times=None)
    with pytest.raises(MalformedResponse) as info:
        list(bluesky_connector(bluesky_server).read())
    assert "\n" not in str(info.value) and info.value.args[0].startswith("bluesky: ")


def test_server_errors_are_retried(bluesky_server: BlueskyServer) -> None:
    bluesky_server.fail_status(502, path=THREAD, times=2)
    c = bluesky_connector(bluesky_server)
    assert len(recs(list(c.read()))) == 33 and c.stats.retries == 2


def test_lookup_gone_present_unknown(bluesky_server: BlueskyServer) -> None:
    c = bluesky_connector(bluesky_server)
    assert isinstance(c.lookup(ItemRef(bs.DELETED_LEAF, "comment", POST1)), Present)
    bluesky_server.apply_second_state()
    gone = c.lookup(ItemRef(bs.DELETED_LEAF, "comment", POST1))
    assert isinstance(gone, Gone) and gone.evidence["response"]["error"] == "NotFound"
    assert gone.evidence["account_check"]["http_status"] == 200
    bluesky_server.fail_status(500, path="getProfile", times=None)
    lost = c.lookup(ItemRef(bs.DELETED_LEAF, "comment", POST1))
    assert isinstance(lost, Unknown) and "proves nothing" in lost.reason
    assert isinstance(c.lookup(ItemRef("3kr-not-a-uri", "comment", POST1)), Unknown)


def test_lookup_of_an_own_post_asks_its_repository(bluesky_server: BlueskyServer) -> None:
    c = bluesky_connector(bluesky_server)
    post3 = f"at://{bs.ACCOUNT_DID}/app.bsky.feed.post/3kpost0000003"
    assert isinstance(c.lookup(ItemRef(post3, "post", ROOT_SCOPE)), Present)
    bluesky_server.set_dataset(bluesky_server.dataset.with_changes(bs.BskyChanges(
        delete=(post3,))))
    gone = c.lookup(ItemRef(post3, "post", ROOT_SCOPE))
    assert isinstance(gone, Gone) and gone.evidence["response"]["error"] == "RecordNotFound"
    assert "describeRepo" in gone.evidence["account_check"]["request"]


VALID_FEED = json.dumps({"cursor": "4", "feed": [{"post": {
    "uri": POST1, "author": {"did": bs.ACCOUNT_DID, "handle": "pd"},
    "record": {"text": "hi", "createdAt": "2025-03-01T14:00:00.000Z"},
    "embed": {"images": [{"fullsize": "https://x.invalid/a.jpg"}]}}}]}).encode()
VALID_THREAD = json.dumps({"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": {
    "uri": POST1, "replyCount": 1}, "replies": [{"$type": "app.bsky.feed.defs#threadViewPost",
    "post": {"uri": POST5, "record": {"text": "re", "reply": {}}}, "replies": [
        {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x", "notFound": True}]}]},
    "threadgate": {"record": {"hiddenReplies": [POST5]}}}).encode()
KEYS = ["feed", "post", "uri", "author", "did", "handle", "record", "text", "createdAt", "reply",
        "root", "parent", "embed", "images", "fullsize", "reason", "thread", "$type", "replies",
        "replyCount", "threadgate", "hiddenReplies", "cursor"]


@FUZZ
@given(hostile_bodies(VALID_FEED, KEYS))
def test_feed_parser_ends_in_records_or_one_error(body: bytes) -> None:
    assert_records_or_one_error(lambda b: parse_feed_body(b, bs.ACCOUNT_DID), body)


@FUZZ
@given(hostile_bodies(VALID_THREAD, KEYS))
def test_thread_parser_ends_in_records_or_one_error(body: bytes) -> None:
    assert_records_or_one_error(lambda b: parse_thread_body(b, POST1), body)


def test_thread_parser_reads_the_whole_asked_depth() -> None:
    node: dict[str, object] = {"$type": "app.bsky.feed.defs#threadViewPost",
                               "post": {"uri": "at://d/app.bsky.feed.post/last"}}
    for n in range(199):
        node = {"$type": "app.bsky.feed.defs#threadViewPost", "replies": [node],
                "post": {"uri": f"at://d/app.bsky.feed.post/{n}", "replyCount": 1}}
    records = parse_thread_body(json.dumps({"thread": node}).encode(),
                                "at://d/app.bsky.feed.post/198")
    assert len(records) == 199 and records[-1].external_id == "at://d/app.bsky.feed.post/last"
    assert [r.kind for r in records[:2]] == ["comment", "reply"]


# --- end to end through capture, search and export ------------------------------------------


def test_capture_search_and_export_end_to_end(archive: Archive, tmp_path: Path) -> None:
    with BlueskyServer(page_size=4) as server:
        acct = register(archive, "bluesky", server.dataset.did, server.base_url, server.password)
        first = acct.capture()
        assert first.status == "succeeded", first.error
        assert first.new_items == 33

        server.apply_second_state()
        second = acct.capture()
        assert second.status == "succeeded", second.error
        assert (second.new_items, second.removed) == (1, 2)
        assert second.new_versions == 1 + 2 + 1  # the hide, two removals, the new reply
        items = acct.items()
        removed = item_detail(archive, items[bs.DELETED_WITH_ANSWER].id)
        assert [v["status"] for v in removed["versions"]] == ["active", "removed"]
        assert "Post not found" in str(removed["removal_evidence"])
        hidden = item_detail(archive, items[bs.HIDDEN_IN_SECOND_STATE].id)
        assert [v["status"] for v in hidden["versions"]] == ["active", "hidden"]
        # The answer to the deleted reply left the thread but still exists: never removed.
        orphan = item_detail(archive, items[f"at://{bs._visitor(50)[0]}/app.bsky.feed.post/"
                                           "3ka0000200001"].id)
        assert [v["status"] for v in orphan["versions"]] == ["active"]

        before, requests = acct.versions(), server.request_count
        third = acct.capture(SleepRecorder())
        assert (third.new_items, third.new_versions, third.removed) == (0, 0, 0)
        assert acct.versions() == before
        print(f"bluesky: unchanged re-capture made {server.request_count - requests} requests")

    rows, package = search_and_export(archive, tmp_path, '"DROP TABLE"')
    assert [r["external_id"] for r in rows] == [f"at://{bs._visitor(66)[0]}/app.bsky.feed.post/"
                                                 "3ktroll0000001"]
    assert rows[0]["status"] == "hidden" and rows[0]["platform"] == "bluesky"
    html = "".join(v for k, v in package.items() if k.endswith(".html"))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert not any(t in text for t in (server.password, *server.sessions)
                   for text in package.values())


def test_capture_with_a_refused_app_password_fails_cleanly(archive: Archive) -> None:
    with BlueskyServer() as server:
        acct = register(archive, "bluesky", server.dataset.did, server.base_url, "not-it")
        result = capture_account(archive, acct.account, {"ARCHIVER_TEST_PLATFORM_TOKEN": "not-it"},
                                 sleep=SleepRecorder())
    assert result.status == "failed" and "AuthenticationRequired" in (result.error or "")
    assert "\n" not in (result.error or "") and acct.items() == {}
