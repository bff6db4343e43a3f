"""The TikTok connector against the loopback TikTok API for Business server, and through
capture, search and export."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from archiver.connectors.errors import (
    ConnectorError,
    PagingLoop,
    RateLimitExhausted,
)
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.tiktok import NOT_CONFIRMABLE, TikTokConnector, parse_comments_body
from archiver.item_detail import item_detail
from archiver.standins.tiktok_server import (
    ADDED,
    BUSINESS_ID,
    DELETED,
    EDITED_VIDEO,
    HIDDEN_LATER,
    HOSTILE,
    TikTokServer,
)
from archiver.store.archive import Archive
from tests.support.agency_platforms import exported_items, found_texts, tiktok_server
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, register, timed_capture

__all__ = ["tiktok_server"]
HIDDEN = "7000000001000000003"


def connector(server: TikTokServer, **kw: object) -> TikTokConnector:
    token = kw.pop("token", server.token)
    c = make_connector("tiktok", BUSINESS_ID, server.base_url, token, **kw)  # type: ignore[arg-type]
    assert isinstance(c, TikTokConnector)
    return c


def recs(events: list[object]) -> dict[str, Record]:
    return {x.external_id: x for x in events if isinstance(x, Record)}


def test_reads_videos_comments_hidden_and_replies(tiktok_server: TikTokServer) -> None:
    events = list(connector(tiktok_server).read())
    r = recs(events)
    assert Counter(x.kind for x in r.values()) == {"post": 6, "comment": 24, "reply": 12}
    done = [x.scope for x in events if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 7
    video = r[EDITED_VIDEO]
    assert video.url == f"https://www.tiktok.com/@springfieldpd/video/{EDITED_VIDEO}"
    assert video.media[0].url.endswith(f"{EDITED_VIDEO}.jpeg")
    assert video.created_at is not None and video.created_at.year == 2024
    hidden = r[HIDDEN]
    assert (hidden.status, hidden.platform_status) == ("hidden", "hidden")
    assert HOSTILE in (hidden.text or "")  # verbatim: escaping is the reader's job
    reply = r["70000000010000000012"]
    assert reply.kind == "reply" and reply.parent_external_id == "7000000001000000001"
    assert reply.scope == EDITED_VIDEO
    # 6 videos at 5 a page; one comment list per video and one reply list per commented thread
    paths = tiktok_server.path_counts
    assert paths["/open_api/v1.3/business/video/list/"] == 2
    assert paths["/open_api/v1.3/business/comment/reply/list/"] == 6
    # the token went in its header, every time
    assert {how for _, how in tiktok_server.requests} == {"header"}


def test_rate_limit_code_and_429_are_waited_out(tiktok_server: TikTokServer) -> None:
    c = connector(tiktok_server)
    tiktok_server.api_code(40100, "Too many requests", path="/comment/list/", times=2)
    tiktok_server.rate_limit_429(retry_after="9", nth=6)
    assert len(recs(list(c.read()))) == 42
    assert c.stats.rate_limited == 3 and 9.0 in c.sleep.calls  # type: ignore[attr-defined]


def test_rate_limit_budget(tiktok_server: TikTokServer) -> None:
    c = connector(tiktok_server, rate_limit_budget_s=10.0)
    tiktok_server.api_code(40100, "Too many requests", times=None)
    with pytest.raises(RateLimitExhausted, match="code 40100"):
        list(c.read())


def test_other_codes_stop_with_tiktoks_message(tiktok_server: TikTokServer) -> None:
    tiktok_server.api_code(40002, "video_id: video not found", path="/comment/list/")
    with pytest.raises(ConnectorError, match="code 40002: video_id: video not found"):
        list(connector(tiktok_server).read())


def test_paging_loop_detected(tiktok_server: TikTokServer) -> None:
    tiktok_server.paging_loop(path="/video/list/", times=None)
    with pytest.raises(PagingLoop, match="/business/video/list/"):
        list(connector(tiktok_server).read())


def test_lookup_never_confirms_a_deletion(tiktok_server: TikTokServer) -> None:
    c = connector(tiktok_server)
    assert isinstance(c.lookup(ItemRef(EDITED_VIDEO, "post", ROOT_SCOPE)), Present)
    tiktok_server.apply_second_state()
    gone = c.lookup(ItemRef(DELETED, "comment", EDITED_VIDEO, EDITED_VIDEO))
    assert isinstance(gone, Unknown) and "cannot confirm a deletion" in gone.reason
    assert isinstance(c.lookup(ItemRef("7999", "post", ROOT_SCOPE)), Unknown)
    assert c.stats.notes == [NOT_CONFIRMABLE]


VALID = json.dumps({"code": 0, "message": "OK", "request_id": "r", "data": {
    "comments": [{"comment_id": "1", "video_id": "v", "text": "hi", "create_time": 1714557600,
                  "status": "HIDDEN", "replies": 2, "user_id": "u", "display_name": "U"},
                 {"comment_id": 2, "parent_comment_id": "1", "text": "re", "status": "PUBLIC"}],
    "cursor": 2, "has_more": True}}).encode()
KEYS = ["code", "message", "data", "comments", "comment_id", "video_id", "text", "create_time",
        "status", "replies", "parent_comment_id", "user_id", "display_name", "cursor", "has_more"]


def test_parser_reads_valid_page() -> None:
    out = parse_comments_body(VALID)
    assert [(r.kind, r.status, r.external_id) for r in out] == [
        ("comment", "hidden", "1"), ("reply", "active", "2")]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_comments_body, body)


def test_capture_end_to_end(archive: Archive, tiktok_server: TikTokServer) -> None:
    acct = register(archive, "tiktok", BUSINESS_ID, tiktok_server.base_url, tiktok_server.token)
    first = timed_capture(acct, tiktok_server, "tiktok first capture")
    assert first.status == "succeeded" and first.new_items == 42
    tiktok_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    # the deleted comment is reported, never marked removed, and the run says why
    assert (second.new_items, second.removed, second.unconfirmed) == (1, 0, 1)
    assert second.new_versions == 3  # caption edit, comment hidden, new comment
    assert second.notes == [NOT_CONFIRMABLE]
    items = acct.items()
    assert [v["status"] for v in item_detail(archive, items[HIDDEN_LATER].id)["versions"]] == [
        "active", "hidden"]
    assert items[DELETED].status == "active" and ADDED in items
    versions = acct.versions()
    again = timed_capture(acct, tiktok_server, "tiktok unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions


def test_captured_account_is_searched_and_exported(
    archive: Archive, tiktok_server: TikTokServer, tmp_path: Path
) -> None:
    acct = register(archive, "tiktok", BUSINESS_ID, tiktok_server.base_url, tiktok_server.token)
    assert acct.capture().status == "succeeded"
    texts = found_texts(archive, "HYPERLINK", acct.account.id)
    assert len(texts) == 2 and all(HOSTILE in t for t in texts)
    bag, _ = exported_items(archive, '"safety tip #1"', tmp_path)
    rows = list(csv.DictReader((bag / "data" / "index.csv").open(encoding="utf-8")))
    assert {r["platform"] for r in rows} == {"tiktok"} and len(rows) == 1 + 4 + 2
    html = "".join(p.read_text(encoding="utf-8") for p in (bag / "data" / "threads").glob("*.html"))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert not [p for p in bag.rglob("*") if "passwd" in p.name or "script" in p.name]


def test_profile_is_the_accounts_bio(tiktok_server: TikTokServer) -> None:
    profile = connector(tiktok_server).profile()
    found = {f.name: f.text for f in profile.fields}
    assert list(found) == ["display_name", "bio_description"]
    assert found["bio_description"].startswith("Official account of the Springfield")
    assert profile.url == "https://www.tiktok.com/@springfieldpd"
    assert tiktok_server.token not in repr(profile)
