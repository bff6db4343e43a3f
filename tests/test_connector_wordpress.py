"""The WordPress connector against the loopback WordPress REST API server, and through capture."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from hypothesis import given

from archiver.connectors.errors import AuthError, PagingLoop, TransientError
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.wordpress import WordPressConnector, parse_comments_body
from archiver.item_detail import item_detail
from archiver.standins.wordpress_server import (
    DELETED_COMMENT,
    EDITED_COMMENT,
    SPAMMED,
    TRASHED_POST,
    WordPressServer,
)
from archiver.store.archive import Archive
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, register, timed_capture, wordpress_server

__all__ = ["wordpress_server"]
SITE = "https://pd.example.invalid"


def connector(server: WordPressServer, **kw: object) -> WordPressConnector:
    token = kw.pop("token", server.app_password)
    c = make_connector("wordpress", SITE, server.base_url, token, page_size=4, **kw)  # type: ignore[arg-type]
    assert isinstance(c, WordPressConnector)
    return c


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_reads_posts_pages_and_comments_in_every_status(wordpress_server: WordPressServer) -> None:
    c = connector(wordpress_server)
    items = list(c.read())
    r = recs(items)
    assert Counter(x.kind for x in r.values()) == {"post": 10, "comment": 24, "reply": 8}
    done = [x.scope for x in items if isinstance(x, ListingComplete)]
    assert done[0] == ROOT_SCOPE and set(done[1:]) == {
        f"post-{n}" for n in (*range(1, 9), 101, 102)
    }
    # 8 posts at 4 a page: page 3 answers 400 rest_post_invalid_page_number, read as the end
    assert wordpress_server.path_counts["/wp-json/wp/v2/posts"] == 3
    post = r["post-1"]
    assert post.scope == ROOT_SCOPE and post.platform_status == "publish"
    assert post.media[0].url.endswith("news1.jpg")
    reply = r["comment-1004"]
    assert reply.kind == "reply" and reply.parent_external_id == "comment-1001"
    assert reply.scope == "post-1"
    held, spam = r["comment-1006"], r["comment-1011"]
    assert (held.status, held.platform_status) == ("hidden", "hold")
    assert (spam.status, spam.platform_status) == ("hidden", "spam")
    assert r["comment-1001"].raw["author_email"]  # context=edit


def test_second_state_and_lookups(wordpress_server: WordPressServer) -> None:
    c = connector(wordpress_server)
    wordpress_server.apply_second_state()
    r = recs(list(c.read()))
    assert "(edited)" in (r[f"comment-{EDITED_COMMENT}"].text or "")
    assert r[f"comment-{SPAMMED}"].platform_status == "spam"
    assert r[f"post-{TRASHED_POST}"].platform_status == "trash"
    assert f"comment-{DELETED_COMMENT}" not in r
    gone = c.lookup(ItemRef(f"comment-{DELETED_COMMENT}", "comment", "post-2"))
    assert isinstance(gone, Gone)
    assert gone.evidence["lookups"][0]["response"]["code"] == "rest_comment_invalid_id"
    present = c.lookup(ItemRef(f"comment-{SPAMMED}", "comment", "post-1"))
    assert isinstance(present, Present) and present.record is not None
    assert isinstance(c.lookup(ItemRef("post-101", "post", ROOT_SCOPE)), Present)
    assert isinstance(c.lookup(ItemRef("post-999", "post", ROOT_SCOPE)), Gone)
    # without credentials, a trashed post answers 401: never a removal
    public = connector(wordpress_server, token=None)
    assert isinstance(public.lookup(ItemRef(f"post-{TRASHED_POST}", "post", "")), Unknown)
    wordpress_server.wp_error(404, "rest_no_route", times=None)
    assert isinstance(c.lookup(ItemRef("comment-1", "comment", "post-1")), Unknown)


def test_rate_limit_and_errors(wordpress_server: WordPressServer) -> None:
    c = connector(wordpress_server)
    wordpress_server.rate_limit_429(retry_after="12", nth=2)
    assert len(recs(list(c.read()))) == 42
    assert c.sleep.calls == [12.0]  # type: ignore[attr-defined]
    with pytest.raises(AuthError, match="incorrect_password"):
        list(connector(wordpress_server, token="archiver:wrong").read())
    wordpress_server.fail_status(503, times=None)
    with pytest.raises(TransientError, match="503"):
        list(connector(wordpress_server, max_retries=2).read())


def test_paging_loop_detected(wordpress_server: WordPressServer) -> None:
    wordpress_server.paging_loop(path="/posts", nth=2)
    with pytest.raises(PagingLoop, match="repeats the previous page"):
        list(connector(wordpress_server).read())


def test_token_never_leaks(
    wordpress_server: WordPressServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = wordpress_server.app_password.split(":", 1)[1]
    items = list(connector(wordpress_server).read())
    bearer = list(connector(wordpress_server, token=wordpress_server.token).read())
    assert len(recs(bearer)) == len(recs(items))
    with pytest.raises(AuthError) as info:
        list(connector(wordpress_server, token="archiver:" + secret + "x").read())
    for s in (secret, wordpress_server.token):
        assert s not in str(info.value)
        assert all(s not in json.dumps(r.raw) for r in recs(items).values())
        assert all(s not in rec.getMessage() for rec in caplog.records)


VALID = json.dumps(
    [
        {
            "id": 5,
            "post": 1,
            "parent": 2,
            "status": "spam",
            "content": {"rendered": "<p>x</p>", "raw": "x"},
            "date_gmt": "2024-04-01T09:00:00",
            "author_name": "A",
        }
    ]
).encode()
KEYS = [
    "id",
    "post",
    "parent",
    "status",
    "content",
    "raw",
    "rendered",
    "date_gmt",
    "author",
    "author_name",
    "link",
]


def test_parser_reads_valid_page() -> None:
    assert [(r.kind, r.status, r.text) for r in parse_comments_body(VALID)] == [
        ("reply", "hidden", "x")
    ]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_comments_body, body)


def test_capture_end_to_end(archive: Archive, wordpress_server: WordPressServer) -> None:
    acct = register(
        archive, "wordpress", SITE, wordpress_server.base_url, wordpress_server.app_password
    )
    first = timed_capture(acct, wordpress_server, "wordpress first capture")
    assert first.status == "succeeded" and first.new_items == 42
    wordpress_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    # post edit, comment edit, spam, trash, and the hard-deleted comment (removed)
    assert (second.new_items, second.removed, second.new_versions) == (0, 1, 5)
    items = acct.items()
    spam = item_detail(archive, items[f"comment-{SPAMMED}"].id)
    assert [v["status"] for v in spam["versions"]] == ["active", "hidden"]
    removed = item_detail(archive, items[f"comment-{DELETED_COMMENT}"].id)
    assert removed["status"] == "removed" and "rest_comment_invalid_id" in str(
        removed["removal_evidence"]
    )
    versions = acct.versions()
    again = timed_capture(acct, wordpress_server, "wordpress unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions
