"""The Nextdoor connector against the loopback partner API server, and through capture, search
and export."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from archiver.connectors.errors import PagingLoop
from archiver.connectors.nextdoor import LIMITS, NextdoorConnector, parse_posts_body
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemRef,
    ListingComplete,
    ListingWindow,
    Record,
    Unknown,
)
from archiver.item_detail import item_detail
from archiver.standins.nextdoor_server import (
    ADDED,
    AGENCY_ID,
    DELETED,
    EDITED,
    HOSTILE,
    NEW_POST,
    OLDEST,
    NextdoorServer,
)
from archiver.store.archive import Archive
from tests.support.agency_platforms import exported_items, found_texts, nextdoor_server
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, register, timed_capture

__all__ = ["nextdoor_server"]
POST = "300000000002"


def connector(server: NextdoorServer, **kw: object) -> NextdoorConnector:
    token = kw.pop("token", server.token)
    c = make_connector("nextdoor", AGENCY_ID, server.base_url, token, **kw)  # type: ignore[arg-type]
    assert isinstance(c, NextdoorConnector)
    return c


def recs(events: list[object]) -> dict[str, Record]:
    return {x.external_id: x for x in events if isinstance(x, Record)}


def test_reads_posts_with_embedded_comments_as_windows(nextdoor_server: NextdoorServer) -> None:
    c = connector(nextdoor_server)
    events = list(c.read())
    r = recs(events)
    assert Counter(x.kind for x in r.values()) == {"post": 6, "comment": 24, "reply": 12}
    # nothing is ever complete here: the posts and each post's comments are windows
    assert not [x for x in events if isinstance(x, ListingComplete)]
    windows = [x.scope for x in events if isinstance(x, ListingWindow)]
    assert windows[0] == ROOT_SCOPE and len(windows) == 7
    post = r[POST]
    assert post.text == "Springfield PD alert #2\n\nNeighbourhood safety alert number 2."
    assert post.url == f"https://nextdoor.com/p/{POST}/" and post.media
    assert "comments" not in post.raw  # the comments are items of their own
    reply = r["5000002000012"]
    assert reply.kind == "reply" and reply.parent_external_id == "500000200001"
    assert reply.scope == POST
    hostile = r["500000200002"]
    assert hostile.text == HOSTILE and hostile.author_name == "Resident 2"
    assert nextdoor_server.path_counts["/external/api/partner/v1/post/"] == 2
    assert c.stats.notes == [LIMITS]


def test_a_sweep_of_some_posts_reads_the_one_listing(nextdoor_server: NextdoorServer) -> None:
    events = list(connector(nextdoor_server).read([POST]))
    assert len(recs(events)) == 42


def test_lookup_is_never_a_removal(nextdoor_server: NextdoorServer) -> None:
    answer = connector(nextdoor_server).lookup(ItemRef(DELETED, "comment", POST, POST))
    assert isinstance(answer, Unknown) and "no read of a post or comment by id" in answer.reason
    assert nextdoor_server.request_count == 0


def test_rate_limit_and_server_errors_are_waited_out(nextdoor_server: NextdoorServer) -> None:
    c = connector(nextdoor_server)
    nextdoor_server.rate_limit_429(retry_after="11", nth=1)
    nextdoor_server.fail_status(502, nth=3)
    assert len(recs(list(c.read()))) == 42
    assert c.stats.rate_limited == 1 and c.stats.retries == 1
    assert 11.0 in c.sleep.calls  # type: ignore[attr-defined]


def test_paging_loop_detected(nextdoor_server: NextdoorServer) -> None:
    nextdoor_server.paging_loop(times=None)
    with pytest.raises(PagingLoop, match="/post/"):
        list(connector(nextdoor_server).read())


VALID = json.dumps({"data": [{"id": 3, "subject": "s", "body": "b", "creation_date":
                              "2024-05-01T10:00:00Z", "author": {"name": "PD"},
                              "media_attachments": ["https://x.invalid/1.jpg"], "comments": [
    {"id": "5", "body": "c", "creation_date": 1714557600, "author_name": "R", "comments": [
        {"id": "6", "body": "r", "parent_comment_id": "5", "author_id": 9}]}]}],
    "cursor": "abc", "has_next_page": True}).encode()
KEYS = ["data", "id", "subject", "body", "creation_date", "author", "name", "media_attachments",
        "comments", "author_name", "author_id", "parent_comment_id", "cursor", "has_next_page",
        "url"]


def test_parser_reads_valid_page() -> None:
    out = parse_posts_body(VALID)
    assert [(r.kind, r.external_id, r.parent_external_id) for r in out] == [
        ("post", "3", None), ("comment", "5", "3"), ("reply", "6", "5")]
    assert out[0].created_at == out[1].created_at  # ISO and Unix seconds read alike


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_posts_body, body)


def test_capture_end_to_end(archive: Archive, nextdoor_server: NextdoorServer) -> None:
    acct = register(archive, "nextdoor", AGENCY_ID, nextdoor_server.base_url,
                    nextdoor_server.token)
    first = timed_capture(acct, nextdoor_server, "nextdoor first capture")
    assert first.status == "succeeded" and first.new_items == 42
    assert first.notes == [LIMITS]
    nextdoor_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    # the new post pushed the oldest out of the window; one comment was deleted: both are
    # reported as no longer listed, neither is looked up or marked removed
    assert (second.new_items, second.removed, second.unconfirmed) == (2, 0, 0)
    assert second.no_longer_listed == 2
    assert second.new_versions == 3  # comment edit, new post, new reply
    items = acct.items()
    assert {items[i].status for i in (DELETED, OLDEST)} == {"active"}
    assert NEW_POST in items and ADDED in items
    assert len(item_detail(archive, items[EDITED].id)["versions"]) == 2
    versions = acct.versions()
    again = timed_capture(acct, nextdoor_server, "nextdoor unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions


def test_captured_account_is_searched_and_exported(
    archive: Archive, nextdoor_server: NextdoorServer, tmp_path: Path
) -> None:
    acct = register(archive, "nextdoor", AGENCY_ID, nextdoor_server.base_url,
                    nextdoor_server.token)
    assert acct.capture().status == "succeeded"
    assert found_texts(archive, "javascript", acct.account.id) == [HOSTILE]
    bag, _ = exported_items(archive, '"alert #2"', tmp_path)
    rows = list(csv.DictReader((bag / "data" / "index.csv").open(encoding="utf-8")))
    assert {r["platform"] for r in rows} == {"nextdoor"} and len(rows) == 1 + 4 + 2
    html = "".join(p.read_text(encoding="utf-8") for p in (bag / "data" / "threads").glob("*.html"))
    assert "<a href=javascript" not in html and "&lt;a href=javascript" in html
    assert not [p for p in bag.rglob("*") if "system32" in p.name or "\\" in p.name]
