"""The Threads connector against the loopback Threads API server, and end to end through capture
into a real archive (SQLite and PostgreSQL), searched and exported."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from archiver.connectors.errors import (
    AuthError,
    MalformedResponse,
    PagingLoop,
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
from archiver.connectors.threads import UNREAD_NOTE, parse_conversation_body
from archiver.item_detail import item_detail
from archiver.standins import threads_server as th
from archiver.standins.threads_server import ThreadsServer
from archiver.store.archive import Archive
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_a import FakeClock
from tests.support.platforms_b import register
from tests.support.social import search_and_export, threads_connector, threads_server

__all__ = ["threads_server"]

POSTS = f"/v1.0/{th.TH_USER_ID}/threads"
POST1, POST4 = "18080000000000001", "18080000000000004"
MINE_ELSEWHERE = "18090000000029990"


def recs(events: list[ReadEvent]) -> dict[str, Record]:
    return {e.external_id: e for e in events if isinstance(e, Record)}


@pytest.mark.parametrize("next_links", [True, False])
def test_full_read_pages_to_the_end_and_normalizes(next_links: bool) -> None:
    with ThreadsServer(page_size=3, next_links=next_links) as server:
        # Without next links a page is followed only when full to the limit asked.
        c = threads_connector(server, page_size=3)
        events = list(c.read())
    got = recs(events)
    assert Counter(r.kind for r in got.values()) == {"post": 6, "comment": 21, "reply": 8}
    assert server.path_counts[POSTS] == 3  # 7 entries at 3 a page
    assert c.stats.extra["reposts_not_kept"] == 1 and "18080000000009999" not in got
    assert c.stats.notes == [UNREAD_NOTE]
    done = [e.scope for e in events if isinstance(e, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 8 and MINE_ELSEWHERE in done
    answer = got["1809000000002011"]
    assert (answer.kind, answer.parent_external_id, answer.scope) == (
        "reply", "1809000000002010", "18080000000000002")
    comment = got["1809000000002010"]
    assert comment.kind == "comment" and comment.parent_external_id == "18080000000000002"
    # The department's own answer is read once, in its post's conversation.
    own = got["18090000000019990"]
    assert own.scope == POST1 and own.author_name == th.TH_USERNAME
    elsewhere = got[MINE_ELSEWHERE]
    assert (elsewhere.kind, elsewhere.scope, elsewhere.parent_external_id) == (
        "reply", ROOT_SCOPE, th.OTHER_POST)
    assert got["18090000000039990"].scope == MINE_ELSEWHERE  # answered under it
    troll = got["18090000000049990"]
    assert troll.status == "hidden" and troll.platform_status == "hidden"
    assert troll.text == th.HOSTILE
    restricted = got["18090000000049991"]
    assert restricted.status == "hidden" and restricted.platform_status == "restricted"
    assert [m.media_type for m in got["18080000000000002"].media] == ["image"]


def test_second_state_hide_cascades(threads_server: ThreadsServer) -> None:
    threads_server.apply_second_state()
    got = recs(list(threads_connector(threads_server).read()))
    assert "Corrected" in (got[th.EDITED_POST].text or "")
    assert got[th.HIDDEN_IN_SECOND_STATE].status == "hidden"
    assert got["1809000000002011"].status == "hidden"  # the answer under it goes with it
    assert th.DELETED_IN_SECOND_STATE not in got and th.NEW_REPLY in got


def test_rate_limits_honoured_through_sleep(threads_server: ThreadsServer) -> None:
    clock = FakeClock()
    c = threads_connector(threads_server, clock)
    threads_server.rate_limit_429(retry_after="7", nth=1)
    threads_server.graph_error(613, path="/conversation", times=1)
    assert len(recs(list(c.read()))) == 35
    assert clock.calls[0] == 7.0 and c.stats.rate_limited == 2
    threads_server.graph_error(4, times=None)
    with pytest.raises(RateLimitExhausted, match="10s budget"):
        list(threads_connector(threads_server, rate_limit_budget_s=10.0).read())


def test_expired_and_wrong_tokens_are_one_line_without_them(
        threads_server: ThreadsServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as wrong:
        list(threads_connector(threads_server, token="wrong-token").read())
    assert "wrong-token" not in str(wrong.value) and "\n" not in str(wrong.value)
    threads_server.expire_token()
    with pytest.raises(AuthError, match="190/463") as info:
        list(threads_connector(threads_server).read())
    assert threads_server.token not in str(info.value)
    assert all(threads_server.token not in r.getMessage() for r in caplog.records)


def test_token_stays_in_the_header_and_out_of_records(threads_server: ThreadsServer) -> None:
    c = threads_connector(threads_server)
    items = list(c.read())
    assert {how for _, how in threads_server.requests} == {"header"}
    assert all(threads_server.token not in repr(x) for x in items)


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_garbage_answers_are_one_line_errors(threads_server: ThreadsServer, fault: str) -> None:
    getattr(threads_server, fault)(path="/conversation", times=None)
    with pytest.raises(MalformedResponse) as info:
        list(threads_connector(threads_server).read())
    assert "\n" not in str(info.value) and str(info.value).startswith("threads: ")


def test_paging_loop_detected(threads_server: ThreadsServer) -> None:
    threads_server.paging_loop(path="/threads$", nth=1)
    with pytest.raises(PagingLoop, match=POSTS):
        list(threads_connector(threads_server).read())


def test_lookup_gone_present_unknown(threads_server: ThreadsServer) -> None:
    c = threads_connector(threads_server)
    ref = ItemRef(th.DELETED_IN_SECOND_STATE, "comment", "18080000000000003")
    assert isinstance(c.lookup(ref), Present)
    threads_server.apply_second_state()
    gone = c.lookup(ref)
    assert isinstance(gone, Gone) and gone.evidence["response"]["error"]["code"] == 100
    assert threads_server.token not in json.dumps(gone.evidence)
    threads_server.graph_error(100, 33, path=rf"^/v1.0/{th.TH_USER_ID}$", times=None)
    lost = c.lookup(ref)
    assert isinstance(lost, Unknown) and "permission" in lost.reason
    threads_server.clear_faults()
    threads_server.graph_error(24, path=th.DELETED_IN_SECOND_STATE, times=None,
                               message="The requested resource does not exist")
    assert isinstance(c.lookup(ref), Unknown)  # an undocumented answer is never a removal


def test_profile(threads_server: ThreadsServer) -> None:
    profile = threads_connector(threads_server).profile()
    assert profile.url == "https://www.threads.net/@springfieldpd"
    assert "Official Threads account" in profile.text()


VALID = json.dumps({"data": [{"id": "1", "text": "hi", "timestamp": "2025-06-01T14:00:00+0000",
                              "hide_status": "HIDDEN", "username": "u",
                              "root_post": {"id": "p"}, "replied_to": {"id": "p"},
                              "media_url": "https://x.invalid/a.jpg", "media_type": "IMAGE"}],
                    "paging": {"cursors": {"after": "a"}}}).encode()
KEYS = ["data", "id", "text", "timestamp", "hide_status", "username", "root_post",
        "replied_to", "media_type", "media_url", "thumbnail_url", "children", "permalink",
        "paging", "cursors", "after", "next"]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_conversation_parser_ends_in_records_or_one_error(body: bytes) -> None:
    assert_records_or_one_error(lambda b: parse_conversation_body(b, "p"), body)


# --- end to end through capture, search and export ------------------------------------------


def test_capture_search_and_export_end_to_end(archive: Archive, tmp_path: Path) -> None:
    with ThreadsServer(page_size=3) as server:
        acct = register(archive, "threads", server.th.user_id, server.base_url, server.token)
        first = acct.capture()
        assert first.status == "succeeded", first.error
        assert first.new_items == 35

        server.apply_second_state()
        second = acct.capture()
        assert second.status == "succeeded", second.error
        assert (second.new_items, second.removed) == (1, 1)
        assert second.new_versions == 1 + 2 + 1 + 1  # edit, hide and its answer, removal, new
        items = acct.items()
        removed = item_detail(archive, items[th.DELETED_IN_SECOND_STATE].id)
        assert [v["status"] for v in removed["versions"]] == ["active", "removed"]
        assert "33" in str(removed["removal_evidence"])
        edited = item_detail(archive, items[th.EDITED_POST].id)
        assert [v["seq"] for v in edited["versions"]] == [1, 2]

        before, requests = acct.versions(), server.request_count
        third = acct.capture()
        assert (third.new_items, third.new_versions, third.removed) == (0, 0, 0)
        assert acct.versions() == before
        print(f"threads: unchanged re-capture made {server.request_count - requests} requests")

    rows, package = search_and_export(archive, tmp_path, "onerror")
    assert [r["external_id"] for r in rows] == ["18090000000049990"]
    assert rows[0]["status"] == "hidden" and rows[0]["platform"] == "threads"
    html = "".join(v for k, v in package.items() if k.endswith(".html"))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert not any(server.token in text for text in package.values())
