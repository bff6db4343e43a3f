"""The Facebook Page connector against the loopback Graph API server (no fakes)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PagingLoop,
    RateLimitExhausted,
    TransientError,
)
from archiver.connectors.facebook import FacebookConnector, parse_feed_body
from archiver.connectors.messages import MESSAGES_SCOPE
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    ListingWindow,
    MediaRef,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.stories import STORIES_SCOPE
from archiver.standins.graph_server import GraphServer
from tests.support.graph import (
    FIXED_NOW,
    facebook_connector,
    graph_server,
    make_facebook_connector,
    sample_dataset,
)

__all__ = ["facebook_connector", "graph_server", "sample_dataset"]  # fixtures used by name

PAGE = "104882335720091"
HIDDEN_COMMENT = "2002_3008"
DELETED_IN_SECOND_STATE = "2001_3003"


def records(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def scopes_completed(items: list[Record | ListingComplete]) -> list[str]:
    return [x.scope for x in items if isinstance(x, ListingComplete)]


def test_full_read_normalizes_posts_comments_replies(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    items = list(facebook_connector.read())
    recs = records(items)
    kinds = Counter(r.kind for r in recs.values())
    assert kinds == {"post": 13, "comment": 26, "reply": 10}
    done = scopes_completed(items)
    assert done[-1] == ROOT_SCOPE and len(done) == 14  # every post's comments, then the feed
    # The feed's listing ends the tree; the Page's stories and messages (none here) are windows
    # of their own.
    assert items[-3:] == [ListingComplete(ROOT_SCOPE), ListingWindow(STORIES_SCOPE),
                          ListingWindow(MESSAGES_SCOPE)]

    post = recs[f"{PAGE}_2012"]
    assert post.scope == ROOT_SCOPE and post.status == "active"
    assert post.platform_status == "published" and post.text.startswith("Road closure on Main")
    assert post.created_at == datetime(2024, 5, 1, 14, 3, 22, tzinfo=UTC)
    assert post.author_name == "Springfield Police Department" and post.author_id == PAGE
    assert post.url == f"https://www.facebook.com/{PAGE}/posts/2012"
    assert recs[f"{PAGE}_2013"].platform_status == "unpublished"
    photo = recs[f"{PAGE}_2001"]
    assert photo.media == (
        MediaRef(f"{graph_server.origin}/media/parade_route.png", "photo"),
    )
    video = recs[f"{PAGE}_2009"]
    assert video.media[0].url.endswith("swearing_in.mp4") and video.media[0].media_type == "video"

    comment = recs["2002_3006"]
    assert comment.kind == "comment" and comment.scope == f"{PAGE}_2002"
    assert comment.parent_external_id == f"{PAGE}_2002" and comment.updated_at is None
    reply = recs["2002_3007"]
    assert reply.kind == "reply" and reply.parent_external_id == "2002_3006"
    assert reply.scope == f"{PAGE}_2002"
    hidden = recs[HIDDEN_COMMENT]
    assert hidden.status == "hidden" and hidden.platform_status == "hidden"
    assert hidden.text is not None and "<script>alert(1)</script>" in hidden.text
    assert recs["2003_3010"].text == "良かったです！ Glad he is safe."
    assert recs["2009_3027"].media[0].url.endswith("nephew.png")
    # raw is the item exactly as the server sent it
    assert (
        hidden.raw["is_hidden"] is True and hidden.raw["parent"] if "parent" in hidden.raw else True
    )
    assert reply.raw["parent"] == {"id": "2002_3006"}
    assert graph_server.path_counts[f"/v19.0/{PAGE}/feed"] == 3  # 13 posts at 5 a page


def test_paging_with_short_and_empty_pages(sample_dataset) -> None:  # type: ignore[no-untyped-def]
    def same_origin(recs: dict[str, Record], origin: str) -> dict[str, Record]:
        # The two servers serve the sample media from their own ports.
        return {k: replace(r, media=tuple(replace(m, url=m.url.replace(origin, "ORIGIN"))
                                          for m in r.media), raw={}) for k, r in recs.items()}

    with GraphServer(sample_dataset, page_size=100) as plain, make_facebook_connector(plain) as c:
        baseline = same_origin(records(list(c.read())), plain.origin)
    with (
        GraphServer(sample_dataset, page_pattern=[2, 0, 1], trailing_empty_page=True) as odd,
        make_facebook_connector(odd, page_size=2) as c,
    ):
        items = list(c.read())
        assert same_origin(records(items), odd.origin) == baseline
        assert scopes_completed(items)[-1] == ROOT_SCOPE
        # 13 posts in 2,0,1 pages: nine data pages, empty ones between, plus a trailing one
        assert odd.path_counts[f"/v19.0/{PAGE}/feed"] == 14


def test_second_state_edit_hide_delete_add(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.apply_second_state()
    recs = records(list(facebook_connector.read()))
    assert "UPDATE: Oak St." in (recs[f"{PAGE}_2012"].text or "")
    assert recs["2004_3013"].status == "hidden"
    assert DELETED_IN_SECOND_STATE not in recs
    assert "2012_3037" in recs


def test_read_selected_scopes_only(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    items = list(facebook_connector.read([f"{PAGE}_2002"]))
    assert scopes_completed(items) == [f"{PAGE}_2002"]
    assert {r.scope for r in records(items).values()} == {f"{PAGE}_2002"}
    assert len(records(items)) == 4
    assert set(graph_server.path_counts) == {f"/v19.0/{PAGE}_2002/comments"}


def test_comments_of_deleted_post_do_not_fail_the_run(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.graph_error(100, 33, path=f"/{PAGE}_2005/comments$", times=None)
    items = list(facebook_connector.read())
    done = scopes_completed(items)
    assert f"{PAGE}_2005" not in done and f"{PAGE}_2004" in done and done[-1] == ROOT_SCOPE
    assert facebook_connector.stats.extra["listings_gone"] == 1


def test_lookup_deleted_comment_is_gone_with_evidence(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.apply_second_state()
    result = facebook_connector.lookup(
        ItemRef(DELETED_IN_SECOND_STATE, "comment", f"{PAGE}_2001", f"{PAGE}_2001")
    )
    assert isinstance(result, Gone)
    ev = result.evidence
    assert ev["http_status"] == 400
    assert ev["response"]["error"]["code"] == 100
    assert ev["response"]["error"]["error_subcode"] == 33
    assert ev["request"] == f"GET /v19.0/{DELETED_IN_SECOND_STATE}?fields=id"
    assert ev["page_check"]["http_status"] == 200
    assert ev["checked_at"] == FIXED_NOW.isoformat()
    assert graph_server.token not in json.dumps(ev)


def test_lookup_live_is_present(facebook_connector: FacebookConnector) -> None:
    assert isinstance(facebook_connector.lookup(ItemRef("2002_3006", "comment", "x")), Present)
    assert isinstance(facebook_connector.lookup(ItemRef(HIDDEN_COMMENT, "comment", "x")), Present)


def test_lookup_with_lost_permission_is_unknown(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.graph_error(100, 33, path=f"^/v19.0/{PAGE}$", times=None)
    graph_server.apply_second_state()
    result = facebook_connector.lookup(ItemRef(DELETED_IN_SECOND_STATE, "comment", "x"))
    assert isinstance(result, Unknown) and "permission" in result.reason


def test_lookup_on_server_trouble_is_unknown(sample_dataset) -> None:  # type: ignore[no-untyped-def]
    with GraphServer(sample_dataset) as server, make_facebook_connector(server, max_retries=1) as c:
        server.fail_status(500, times=None)
        result = c.lookup(ItemRef("2002_3006", "comment", "x"))
        assert (
            isinstance(result, Unknown) and "HTTP 500" in result.reason or "Graph" in result.reason
        )


def test_5xx_part_way_recovers(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.fail_status(500, path=f"/{PAGE}_2003/comments", times=2)
    assert len(records(list(facebook_connector.read()))) == 49
    assert facebook_connector.stats.retries == 2
    assert len(facebook_connector.sleep.calls) == 2  # type: ignore[attr-defined]


def test_5xx_past_budget_is_transient_error(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.fail_status(503, path=f"/{PAGE}_2003/comments", times=None)
    with pytest.raises(TransientError, match=f"/v19.0/{PAGE}_2003/comments"):
        list(facebook_connector.read())
    assert graph_server.path_counts[f"/v19.0/{PAGE}_2003/comments"] == 6  # 1 + max_retries


def test_429_retry_after_honoured(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.rate_limit_429(retry_after="7", nth=2)
    assert len(records(list(facebook_connector.read()))) == 49
    assert facebook_connector.sleep.calls == [7.0]  # type: ignore[attr-defined]
    assert facebook_connector.stats.rate_limited == 1


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_graph_rate_limit_codes_back_off(code: int, sample_dataset) -> None:  # type: ignore[no-untyped-def]
    with GraphServer(sample_dataset, page_size=5) as server, make_facebook_connector(server) as c:
        server.graph_error(code, path="/feed", times=2)
        assert len(records(list(c.read()))) == 49
        assert c.stats.rate_limited == 2 and c.stats.retries == 0
        waits = c.sleep.calls  # type: ignore[attr-defined]
        assert len(waits) == 2 and waits[1] > waits[0] > 0


def test_business_use_case_regain_time_is_honoured(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    usage = {PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    fault = graph_server.graph_error(80001, nth=1)
    fault.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
    list(facebook_connector.read())
    assert facebook_connector.sleep.calls[0] == 120.0  # type: ignore[attr-defined]


def test_rate_limit_exhausted_past_budget(sample_dataset) -> None:  # type: ignore[no-untyped-def]
    with (
        GraphServer(sample_dataset) as server,
        make_facebook_connector(server, rate_limit_budget_s=20.0) as c,
    ):
        server.graph_error(17, times=None)
        with pytest.raises(RateLimitExhausted, match="20s budget"):
            list(c.read())
        assert c.stats.waited_seconds <= 20.0


def test_usage_headers_near_100_slow_down(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.set_usage(app={"call_count": 98, "total_time": 40, "total_cputime": 30})
    list(facebook_connector.read([f"{PAGE}_2002"]))
    assert facebook_connector.sleep.calls == [8.0]  # type: ignore[attr-defined]
    graph_server.set_usage(app={"call_count": 50, "total_time": 40, "total_cputime": 30})
    list(facebook_connector.read([f"{PAGE}_2002"]))
    assert len(facebook_connector.sleep.calls) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_malformed_json(fault: str, facebook_connector, graph_server) -> None:  # type: ignore[no-untyped-def]
    getattr(graph_server, fault)(path="/feed")
    with pytest.raises(MalformedResponse) as info:
        list(facebook_connector.read())
    assert f"/v19.0/{PAGE}/feed" in str(info.value)
    assert graph_server.token not in str(info.value) and "fields=" not in str(info.value)


def test_expired_token_is_auth_error(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.expire_token()
    with pytest.raises(AuthError) as info:
        list(facebook_connector.read())
    msg = str(info.value)
    assert "190/463" in msg and "invalid or expired" in msg and "\n" not in msg
    assert graph_server.token not in msg


def test_wrong_and_missing_token_are_auth_errors(graph_server: GraphServer) -> None:
    with make_facebook_connector(graph_server, token="not-the-token") as c:
        with pytest.raises(AuthError, match="190"):
            list(c.read())
        assert "not-the-token" not in str(c.stats)
    with (
        make_facebook_connector(graph_server, token=None) as c,
        pytest.raises(AuthError, match="104"),
    ):
        list(c.read())


def test_paging_loop_detected(
    facebook_connector: FacebookConnector, graph_server: GraphServer
) -> None:
    graph_server.paging_loop(path="/feed$", nth=1)
    with pytest.raises(PagingLoop, match=f"/v19.0/{PAGE}/feed"):
        list(facebook_connector.read())


def test_timeout_is_retried(sample_dataset) -> None:  # type: ignore[no-untyped-def]
    with GraphServer(sample_dataset) as server, make_facebook_connector(server, timeout=0.1) as c:
        server.slow(0.4, nth=1)
        assert len(records(list(c.read()))) == 49
        assert c.stats.retries == 1


def test_token_never_leaks(
    facebook_connector: FacebookConnector,
    graph_server: GraphServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = graph_server.token
    graph_server.rate_limit_429(retry_after="1", nth=3)
    graph_server.fail_status(502, nth=5)
    items = list(facebook_connector.read())
    # the server's next links carry access_token, as Graph's do; we sent it only as a header
    assert {how for _, how in graph_server.requests} == {"header"}
    for item in items:
        assert token not in repr(item)
        if isinstance(item, Record):
            assert token not in json.dumps(item.raw)
    graph_server.apply_second_state()
    gone = facebook_connector.lookup(ItemRef(DELETED_IN_SECOND_STATE, "comment", "x"))
    assert isinstance(gone, Gone) and token not in json.dumps(gone.evidence)
    graph_server.expire_token()
    with pytest.raises(ConnectorError) as info:
        list(facebook_connector.read())
    assert token not in str(info.value)
    assert token not in repr(facebook_connector.config)
    assert caplog.records, "expected httpx/connector log records to check"
    for rec in caplog.records:
        assert token not in rec.getMessage()


VALID_FEED = json.dumps(
    {
        "data": [
            {
                "id": "1_2",
                "message": "hi <b>there</b>",
                "created_time": "2024-05-01T14:03:22+0000",
                "from": {"name": "X", "id": "9"},
                "is_hidden": True,
                "attachments": {"data": [{"media_type": "photo", "url": "https://x/y"}]},
            }
        ],
        "paging": {"next": "https://graph.facebook.com/v19.0/1/feed?after=a"},
    }
).encode()


def test_parser_reads_a_valid_page() -> None:
    recs, nxt = parse_feed_body(VALID_FEED)
    assert [r.status for r in recs] == ["hidden"] and nxt is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(VALID_FEED)).map(lambda n: VALID_FEED[:n]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "data",
                            "id",
                            "message",
                            "created_time",
                            "from",
                            "is_hidden",
                            "attachments",
                            "media",
                            "image",
                            "src",
                            "paging",
                            "next",
                            "name",
                            "subattachments",
                            "url",
                        ]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=30,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_parser_never_raises_anything_but_connector_error(body: bytes) -> None:
    try:
        recs, _ = parse_feed_body(body)
    except ConnectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r, Record) for r in recs)
