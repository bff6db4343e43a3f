"""The X connector against the loopback X API v2 server, and end to end through capture into a
real archive (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.connectors.errors import AuthError, ConnectorError, PagingLoop, TransientError
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.x import parse_timeline_body
from archiver.item_detail import item_detail
from archiver.standins.x_server import XServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Item, ItemVersion
from tests.support.graph import SleepRecorder
from tests.support.platforms_a import FakeClock, fake_clock, make_x_connector, x_server

__all__ = ["fake_clock", "x_server"]

TIMELINE = "/2/users/2244994945/tweets"


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_full_read_pages_to_the_end_and_normalizes(
    x_server: XServer, fake_clock: FakeClock
) -> None:
    c = make_x_connector(x_server, fake_clock)
    items = list(c.read())
    got = recs(items)
    ds = x_server.dataset
    old_root = x_server.roots()[-1]  # 10 days old: outside search/recent's 7 days
    old_replies = [p for p in ds.posts if p.conversation_id == old_root.id and p.replied_to]
    assert len(got) == len(ds.posts) - len(old_replies)
    assert Counter(r.kind for r in got.values()) == {"post": 6, "comment": 11, "reply": 1}
    done = [x.scope for x in items if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and old_root.id not in done and len(done) == 6
    assert x_server.path_counts[TIMELINE] == 3  # 6 posts at 2 a page
    assert c.stats.extra["conversations_outside_window"] == 1
    root = x_server.roots()[0]
    post = got[root.id]
    assert post.kind == "post" and post.scope == ROOT_SCOPE and post.status == "active"
    assert post.author_name == "Springfield Police (@SpringfieldPD)"
    assert post.url == f"https://x.com/SpringfieldPD/status/{root.id}"
    assert got[x_server.roots()[1].id].media[0].media_type == "photo"
    reply = next(r for r in got.values() if r.kind == "reply")
    assert reply.scope == root.id and got[reply.parent_external_id or ""].kind == "comment"
    hostile = next(r for r in got.values() if "onerror" in (r.text or ""))
    assert hostile.kind == "comment" and "🚓" in (hostile.text or "")


def test_second_state_edit_withhold_delete(x_server: XServer, fake_clock: FakeClock) -> None:
    c = make_x_connector(x_server, fake_clock)
    list(c.read())
    ids = x_server.apply_second_state()
    got = recs(list(c.read()))
    edited = got[ids["edited"]]  # identity stays the first id of the edit history
    assert ids["edit_id"] not in got and "Oak St." in (edited.text or "")
    assert edited.raw["id"] == ids["edit_id"] and edited.updated_at is not None
    assert edited.created_at is not None and edited.created_at < edited.updated_at
    withheld = got[ids["withheld"]]
    assert withheld.status == "hidden" and withheld.platform_status == "withheld"
    assert ids["deleted"] not in got
    assert got[ids["added"]].parent_external_id == ids["edited"]  # replied to the edit id


LONG = ("Missing person: Ada Lovelace, 36, last seen near Oak St. and 5th at 6 pm wearing a green "
        "coat. She needs daily medication. Anyone who saw her is asked to call 555-0100 or the "
        "non-emergency line; do not approach. Photos at the station's front desk. ") * 2


def test_repost_and_quote_keep_the_full_text_of_the_post_they_refer_to(
    x_server: XServer, fake_clock: FakeClock
) -> None:
    assert len(LONG) > 280  # X shows only the first 280 characters in ``text``
    ids = x_server.add_repost_and_quote(LONG)
    own_long = x_server.add_post("Statement: " + LONG)
    got = recs(list(make_x_connector(x_server, fake_clock).read()))
    assert got[ids["repost"]].text == f"RT @visitor1: {LONG}"
    quote = got[ids["quote"]].text or ""
    assert quote.startswith("Please share this.") and LONG in quote
    assert got[own_long].text == "Statement: " + LONG
    # The referenced post, as X gave it, is kept with the record's payload.
    assert got[ids["repost"]].raw["referenced_posts"][0]["note_tweet"]["text"] == LONG


def test_rate_limit_remaining_zero_sleeps_until_reset(fake_clock: FakeClock) -> None:
    with XServer(clock=fake_clock.time, rate_limit=2, search_page=100) as server:
        c = make_x_connector(server, fake_clock)
        got = recs(list(c.read()))
        assert len(got) == 18
        # 2 calls per 15-minute window per endpoint: the connector waited for resets
        assert c.stats.rate_limited >= 2 and fake_clock.calls
        assert all(0 < w <= 15 * 60 + 1 for w in fake_clock.calls)


@pytest.mark.parametrize("shape", ["problem", "v1"])
def test_429_bodies_wait_for_reset(shape: str, x_server: XServer, fake_clock: FakeClock) -> None:
    if shape == "problem":
        x_server.rate_limit_429(retry_after="60", nth=2)
    else:
        x_server.rate_limited_v1(nth=2)
    c = make_x_connector(x_server, fake_clock)
    assert len(recs(list(c.read()))) == 18
    assert fake_clock.calls == [61.0] and c.stats.rate_limited == 1


def test_usage_cap_is_not_retried(x_server: XServer, fake_clock: FakeClock) -> None:
    x_server.usage_cap(nth=1)
    c = make_x_connector(x_server, fake_clock)
    with pytest.raises(ConnectorError, match="usage cap") as info:
        list(c.read())
    assert type(info.value) is ConnectorError and "\n" not in str(info.value)
    assert x_server.request_count == 1 and fake_clock.calls == []


def test_error_bodies(x_server: XServer, fake_clock: FakeClock) -> None:
    with pytest.raises(AuthError, match="Unauthorized"):
        list(make_x_connector(x_server, fake_clock, token="nope").read())
    x_server.fail_status(503, times=None)
    with pytest.raises(TransientError, match="503"):
        list(make_x_connector(x_server, fake_clock, max_retries=2).read())


def test_lookup_gone_present_unknown(x_server: XServer, fake_clock: FakeClock) -> None:
    c = make_x_connector(x_server, fake_clock)
    ids = x_server.apply_second_state()
    assert isinstance(c.lookup(ItemRef(ids["edited"], "post", ROOT_SCOPE)), Present)
    gone = c.lookup(ItemRef(ids["deleted"], "comment", ids["edited"]))
    assert isinstance(gone, Gone)
    assert gone.evidence["error"]["title"] == "Not Found Error"
    assert gone.evidence["error"]["value"] == ids["deleted"]
    assert gone.evidence["account_check"]["http_status"] == 200
    # an account that no longer reads makes "not found" undecidable
    x_server.fail_status(503, path=r"^/2/users/\d+$", times=None)
    c2 = make_x_connector(x_server, fake_clock, max_retries=1)
    unsure = c2.lookup(ItemRef(ids["deleted"], "comment", ids["edited"]))
    assert isinstance(unsure, Unknown) and "cannot be read" in unsure.reason
    x_server.fail_status(500, path="^/2/tweets$", times=None)
    assert isinstance(c2.lookup(ItemRef(ids["edited"], "post", "")), Unknown)


def test_paging_loop_detected(x_server: XServer, fake_clock: FakeClock) -> None:
    x_server.paging_loop(path=TIMELINE, times=None)  # page 2 points at itself
    with pytest.raises(PagingLoop, match=TIMELINE):
        list(make_x_connector(x_server, fake_clock).read())


def test_token_never_leaks(
    x_server: XServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = x_server.token
    x_server.fail_status(502, nth=3)
    c = make_x_connector(x_server, fake_clock)
    items = list(c.read())
    assert {how for _, how in x_server.requests} == {"header"}
    assert all(token not in repr(x) for x in items)
    ids = x_server.apply_second_state()
    gone = c.lookup(ItemRef(ids["deleted"], "comment", "x"))
    assert token not in json.dumps(gone.evidence)  # type: ignore[union-attr]
    assert token not in repr(c.config)
    assert all(token not in r.getMessage() for r in caplog.records)


HISTORY = ["1780000000000000001", "1780000000000000002"]
QUOTED = {"id": "1780000000000000009", "text": "Short", "author_id": "7",
          "note_tweet": {"text": "Short no more: the whole text"}}
VALID = json.dumps({"data": [{"id": "1780000000000000002", "text": "hi",
                              "edit_history_tweet_ids": HISTORY,
                              "author_id": "6", "created_at": "2024-04-16T15:58:10.000Z",
                              "withheld": {"country_codes": ["US"]},
                              "referenced_tweets": [{"type": "quoted", "id": QUOTED["id"]}],
                              "attachments": {"media_keys": ["3_1"]}}],
                    "includes": {"users": [{"id": "6", "name": "J", "username": "j"},
                                           {"id": "7", "name": "Q", "username": "q"}],
                                 "tweets": [QUOTED],
                                 "media": [{"media_key": "3_1", "type": "photo", "url": "https://p/x"}]},
                    "meta": {"result_count": 1, "next_token": "t"}}).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=200),
    st.integers(0, len(VALID)).map(lambda n: VALID[:n]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.sampled_from(["data", "id", "text", "edit_history_tweet_ids", "author_id",
                             "created_at", "withheld", "attachments", "media_keys", "includes",
                             "users", "media", "media_key", "url", "variants", "meta", "errors",
                             "referenced_tweets", "username", "name", "note_tweet", "tweets",
                             "type"]), inner, max_size=5),
        max_leaves=25,
    ).map(lambda v: json.dumps(v).encode()),
))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    try:
        out = parse_timeline_body(body)
    except ConnectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r, Record) and r.status in ("active", "hidden") for r in out)


def test_parser_reads_a_valid_page() -> None:
    (rec,) = parse_timeline_body(VALID)
    assert rec.external_id == "1780000000000000001" and rec.status == "hidden"
    assert rec.author_name == "J (@j)" and rec.media[0].url == "https://p/x"
    assert rec.text == "hi\n\nQuoting @q: Short no more: the whole text"
    assert rec.raw["referenced_posts"] == [QUOTED]


# --- end to end through capture ------------------------------------------------------------

TOKEN_ENV = "ARCHIVER_TOKEN_TEST_X"


def test_capture_end_to_end(archive: Archive) -> None:
    with XServer(timeline_page=5, search_page=10) as server:  # real clock: capture's connector
        account = add_account(archive, AccountSpec(
            platform="x", external_id=server.dataset.account.id, handle="SpringfieldPD",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: server.token}
        t0 = time.perf_counter()
        first = capture_account(archive, account, env, sleep=SleepRecorder())
        elapsed = time.perf_counter() - t0
        assert first.status == "succeeded", first.error
        assert first.new_items == 18
        print(f"x: {first.new_items / elapsed:.0f} items/s on first capture")

        ids = server.apply_second_state()
        second = capture_account(archive, account, env, sleep=SleepRecorder())
        assert second.status == "succeeded", second.error
        assert (second.new_items, second.removed, second.new_versions) == (1, 1, 4)
        with archive.sessions() as s:
            items = {i.external_id: i for i in s.scalars(select(Item))}
        assert ids["edit_id"] not in items
        edited = item_detail(archive, items[ids["edited"]].id)
        assert [v["seq"] for v in edited["versions"]] == [1, 2]
        assert "Oak St." in edited["versions"][1]["text"]
        withheld = item_detail(archive, items[ids["withheld"]].id)
        assert [v["status"] for v in withheld["versions"]] == ["active", "hidden"]
        removed = item_detail(archive, items[ids["deleted"]].id)
        assert [v["status"] for v in removed["versions"]] == ["active", "removed"]
        assert "Not Found Error" in str(removed["removal_evidence"])
        assert items[ids["added"]].parent_id == items[ids["edited"]].id

        with archive.sessions() as s:
            before = s.scalar(select(func.count()).select_from(ItemVersion))
        requests_before = server.request_count
        third = capture_account(archive, account, env, sleep=SleepRecorder())
        assert (third.new_items, third.new_versions, third.removed) == (0, 0, 0)
        with archive.sessions() as s:
            assert s.scalar(select(func.count()).select_from(ItemVersion)) == before
        print(f"x: unchanged re-capture made {server.request_count - requests_before} requests")
