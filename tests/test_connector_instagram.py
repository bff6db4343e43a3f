"""The Instagram connector against the loopback Instagram Graph server, and end to end through
capture into a real archive (SQLite and PostgreSQL)."""

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
from archiver.connectors.errors import AuthError, ConnectorError, PagingLoop, RateLimitExhausted
from archiver.connectors.instagram import parse_comments_body
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.item_detail import item_detail
from archiver.standins import instagram_server as ig
from archiver.standins.instagram_server import InstagramServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Item, ItemVersion
from tests.support.graph import SleepRecorder
from tests.support.platforms_a import FakeClock, instagram_server, make_instagram_connector

__all__ = ["instagram_server"]

MEDIA = "/v19.0/17841400000000001/media"


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_full_read_pages_to_the_end_and_normalizes(instagram_server: InstagramServer) -> None:
    c = make_instagram_connector(instagram_server)
    items = list(c.read())
    got = recs(items)
    ds = instagram_server.ig
    assert len(got) == len(ds.media) + len(ds.comments)
    assert Counter(r.kind for r in got.values()) == {"post": 7, "comment": 22, "reply": 8}
    done = [x.scope for x in items if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 8
    assert instagram_server.path_counts[MEDIA] == 3  # 7 media at 3 a page
    # post 2's first comment has 4 replies, only 2 inline: its /replies listing was read
    assert instagram_server.path_counts["/v19.0/1800000000002010/replies"] == 2
    post = got["17900000000000005"]
    assert post.scope == ROOT_SCOPE and post.platform_status == "published"
    assert [m.url.rsplit("/", 1)[1] for m in post.media] == ["post5_1.jpg", "post5_2.jpg"]
    assert got["17900000000000003"].media[0].media_type == "video"
    reply = got["1800000000002014"]
    assert reply.kind == "reply" and reply.parent_external_id == "1800000000002010"
    assert reply.scope == "17900000000000002"
    comment = got["1800000000002010"]
    assert comment.kind == "comment" and comment.parent_external_id == "17900000000000002"
    hidden = got["18000000000040990"]
    assert hidden.status == "hidden" and hidden.platform_status == "hidden"
    assert "<script>" in (hidden.text or "")


def test_second_state(instagram_server: InstagramServer) -> None:
    instagram_server.apply_second_state()
    got = recs(list(make_instagram_connector(instagram_server).read()))
    assert "Corrected" in (got[ig.EDITED_MEDIA].text or "")
    assert got[ig.HIDDEN_IN_SECOND_STATE].status == "hidden"
    assert ig.DELETED_IN_SECOND_STATE not in got and ig.NEW_COMMENT in got


def test_rate_limits_honoured_through_sleep(instagram_server: InstagramServer) -> None:
    clock = FakeClock()
    c = make_instagram_connector(instagram_server, clock)
    instagram_server.rate_limit_429(retry_after="7", nth=1)
    instagram_server.graph_error(80002, path="/comments", times=1)
    assert len(recs(list(c.read()))) == 37
    assert clock.calls[0] == 7.0 and len(clock.calls) == 2 and c.stats.rate_limited == 2
    instagram_server.graph_error(4, times=None)
    c2 = make_instagram_connector(instagram_server, rate_limit_budget_s=10.0)
    with pytest.raises(RateLimitExhausted, match="10s budget"):
        list(c2.read())


def test_error_bodies(instagram_server: InstagramServer) -> None:
    instagram_server.expire_token()
    with pytest.raises(AuthError, match="190/463") as info:
        list(make_instagram_connector(instagram_server).read())
    assert instagram_server.token not in str(info.value)


def test_lookup_gone_present_unknown(instagram_server: InstagramServer) -> None:
    c = make_instagram_connector(instagram_server)
    assert isinstance(c.lookup(ItemRef("1800000000002010", "comment", "x")), Present)
    instagram_server.apply_second_state()
    gone = c.lookup(ItemRef(ig.DELETED_IN_SECOND_STATE, "comment", "x"))
    assert isinstance(gone, Gone)
    assert gone.evidence["response"]["error"]["code"] == 100
    assert gone.evidence["account_check"]["http_status"] == 200
    instagram_server.graph_error(100, 33, path=r"^/v19.0/17841400000000001$", times=None)
    lost = c.lookup(ItemRef(ig.DELETED_IN_SECOND_STATE, "comment", "x"))
    assert isinstance(lost, Unknown) and "permission" in lost.reason


def test_paging_loop_detected(instagram_server: InstagramServer) -> None:
    instagram_server.paging_loop(path="/media$", nth=1)
    with pytest.raises(PagingLoop, match=MEDIA):
        list(make_instagram_connector(instagram_server).read())


def test_token_never_leaks(
    instagram_server: InstagramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = instagram_server.token
    instagram_server.fail_status(502, nth=3)
    c = make_instagram_connector(instagram_server)
    items = list(c.read())
    assert {how for _, how in instagram_server.requests} == {"header"}
    assert all(token not in repr(x) for x in items)
    instagram_server.apply_second_state()
    gone = c.lookup(ItemRef(ig.DELETED_IN_SECOND_STATE, "comment", "x"))
    assert token not in json.dumps(gone.evidence)  # type: ignore[union-attr]
    with pytest.raises(AuthError) as info:
        list(make_instagram_connector(instagram_server, token="wrong-token").read())
    assert "wrong-token" not in str(info.value)
    assert all(token not in r.getMessage() for r in caplog.records)


VALID = json.dumps({"data": [{"id": "1", "text": "hi", "timestamp": "2024-05-01T14:03:22+0000",
                              "hidden": True, "from": {"id": "9", "username": "u"},
                              "replies": {"data": [{"id": "2", "text": "re"}]}}]}).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=200),
    st.integers(0, len(VALID)).map(lambda n: VALID[:n]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.sampled_from(["data", "id", "text", "timestamp", "hidden", "from", "username",
                             "replies", "paging", "next", "parent_id"]), inner, max_size=5),
        max_leaves=25,
    ).map(lambda v: json.dumps(v).encode()),
))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    try:
        out = parse_comments_body(body, "m1")
    except ConnectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r, Record) and r.status in ("active", "hidden") for r in out)


# --- end to end through capture ------------------------------------------------------------

TOKEN_ENV = "ARCHIVER_TOKEN_TEST_IG"


def test_capture_end_to_end(archive: Archive) -> None:
    with InstagramServer(page_size=3) as server:
        account = add_account(archive, AccountSpec(
            platform="instagram", external_id=server.ig.user_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: server.token}
        t0 = time.perf_counter()
        first = capture_account(archive, account, env, sleep=SleepRecorder())
        elapsed = time.perf_counter() - t0
        assert first.status == "succeeded", first.error
        total = len(server.ig.media) + len(server.ig.comments)
        assert first.new_items == total
        print(f"instagram: {total / elapsed:.0f} items/s on first capture")

        server.apply_second_state()
        second = capture_account(archive, account, env, sleep=SleepRecorder())
        assert second.status == "succeeded", second.error
        assert second.new_items == 1 and second.removed == 2  # the comment and its reply
        assert second.new_versions == 1 + 1 + 2 + 1  # edit, hide, two removals, new comment
        with archive.sessions() as s:
            items = {i.external_id: i for i in s.scalars(select(Item))}
        edited = item_detail(archive, items[ig.EDITED_MEDIA].id)
        assert [v["seq"] for v in edited["versions"]] == [1, 2]
        hidden = item_detail(archive, items[ig.HIDDEN_IN_SECOND_STATE].id)
        assert [v["status"] for v in hidden["versions"]] == ["active", "hidden"]
        removed = item_detail(archive, items[ig.DELETED_IN_SECOND_STATE].id)
        assert [v["status"] for v in removed["versions"]] == ["active", "removed"]
        assert "33" in str(removed["removal_evidence"])

        with archive.sessions() as s:
            before = s.scalar(select(func.count()).select_from(ItemVersion))
        requests_before = server.request_count
        third = capture_account(archive, account, env, sleep=SleepRecorder())
        assert (third.new_items, third.new_versions, third.removed) == (0, 0, 0)
        with archive.sessions() as s:
            assert s.scalar(select(func.count()).select_from(ItemVersion)) == before
        print(f"instagram: unchanged re-capture made {server.request_count - requests_before} "
              "requests")
