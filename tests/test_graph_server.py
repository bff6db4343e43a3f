"""The loopback Graph API server speaks the documented shapes (checked with plain httpx)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from archiver.standins.dataset import load_sample, synthetic_dataset
from archiver.standins.graph_render import parse_fields, select
from archiver.standins.graph_server import GraphServer
from tests.support.graph import graph_server, sample_dataset

__all__ = ["graph_server", "sample_dataset"]  # fixtures used by name

PAGE = "104882335720091"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def get(client: httpx.Client, server: GraphServer, path: str, **params: str) -> httpx.Response:
    params.setdefault("access_token", server.token)
    return client.get(f"{server.base_url}{path}", params=params)


def walk(
    client: httpx.Client, server: GraphServer, path: str, **params: str
) -> tuple[list[dict[str, Any]], int]:
    """Follow paging.next to the end; (items, pages)."""
    response = get(client, server, path, **params)
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["data"])
        pages += 1
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            return items, pages
        response = client.get(nxt)


def test_start_stop_and_base_url() -> None:
    server = GraphServer(load_sample())
    base = server.start()
    assert base.startswith("http://127.0.0.1:") and base.endswith("/v19.0")
    port = int(base.split(":")[2].split("/")[0])
    server.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port was released


def test_feed_paging_with_cursors_and_token_in_next(
    graph_server: GraphServer, client: httpx.Client
) -> None:
    first = get(client, graph_server, f"/{PAGE}/feed", limit="4").json()
    assert len(first["data"]) == 4
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert f"access_token={graph_server.token}" in first["paging"]["next"]
    assert "limit=4" in first["paging"]["next"]
    items, pages = walk(client, graph_server, f"/{PAGE}/feed", limit="4")
    assert len(items) == 13 and pages == 4
    created = [p["created_time"] for p in items]
    assert created == sorted(created, reverse=True)  # newest first
    assert len({p["id"] for p in items}) == 13


def test_limit_is_capped_by_page_size(graph_server: GraphServer, client: httpx.Client) -> None:
    body = get(client, graph_server, f"/{PAGE}/feed", limit="100").json()
    assert len(body["data"]) == 5  # the fixture serves pages of 5


def test_fields_selection_nested(graph_server: GraphServer, client: httpx.Client) -> None:
    body = get(
        client,
        graph_server,
        f"/{PAGE}/feed",
        fields="id,message,attachments{url,media_type}",
        limit="5",
    ).json()
    keys = {k for p in body["data"] for k in p}
    assert keys <= {"id", "message", "attachments"}
    with_att = [p for p in body["data"] if "attachments" in p]
    for p in with_att:
        assert all(set(a) <= {"url", "media_type"} for a in p["attachments"]["data"])
    default = get(client, graph_server, f"/{PAGE}/feed").json()["data"][0]
    assert set(default) == {"id", "message", "created_time"}


def test_parse_fields_and_select() -> None:
    spec = parse_fields("id,parent{id},attachments{media{image},url},limit.limit(3)")
    assert spec == {
        "id": None,
        "parent": {"id": None},
        "attachments": {"media": {"image": None}, "url": None},
        "limit": None,
    }
    value = {"id": "1", "parent": {"id": "2", "message": "x"}, "other": 1}
    assert select(value, spec) == {"id": "1", "parent": {"id": "2"}}


def test_comments_stream_toplevel_and_order(
    graph_server: GraphServer, client: httpx.Client
) -> None:
    path = f"/{PAGE}_2002/comments"
    stream, _ = walk(client, graph_server, path, filter="stream", fields="id,parent{id},is_hidden")
    assert [c["id"] for c in stream] == ["2002_3005", "2002_3006", "2002_3007", "2002_3008"]
    assert stream[2]["parent"] == {"id": "2002_3006"} and "parent" not in stream[1]
    assert stream[3]["is_hidden"] is True
    top, _ = walk(client, graph_server, path)
    assert [c["id"] for c in top] == ["2002_3005", "2002_3006", "2002_3008"]
    assert set(top[0]) == {"created_time", "from", "message", "id"}
    rev, _ = walk(client, graph_server, path, filter="stream", order="reverse_chronological")
    assert [c["id"] for c in rev] == [c["id"] for c in reversed(stream)]
    replies, _ = walk(client, graph_server, "/2002_3006/comments")
    assert [c["id"] for c in replies] == ["2002_3007"]


def test_object_reads_and_unknown_id(graph_server: GraphServer, client: httpx.Client) -> None:
    assert get(client, graph_server, f"/{PAGE}").json() == {
        "id": PAGE,
        "name": "Springfield Police Department",
    }
    assert get(client, graph_server, "/2002_3006", fields="id").json() == {"id": "2002_3006"}
    missing = get(client, graph_server, "/999_999", fields="id")
    assert missing.status_code == 400
    err = missing.json()["error"]
    assert err["code"] == 100 and err["error_subcode"] == 33
    assert err["type"] == "GraphMethodException" and "999_999" in err["message"]
    assert "fbtrace_id" in err
    nofield = get(client, graph_server, f"/{PAGE}/nonsense")
    assert nofield.status_code == 400 and "error_subcode" not in nofield.json()["error"]


def test_second_state_deletes_and_edits(graph_server: GraphServer, client: httpx.Client) -> None:
    assert get(client, graph_server, "/2001_3003").status_code == 200
    graph_server.apply_second_state()
    assert get(client, graph_server, "/2001_3003").json()["error"]["error_subcode"] == 33
    assert get(client, graph_server, "/2004_3013", fields="is_hidden").json()["is_hidden"] is True
    post = get(client, graph_server, f"/{PAGE}_2012", fields="message,updated_time").json()
    assert "Oak St." in post["message"] and post["updated_time"] == "2024-05-01T16:45:00+0000"


def test_token_checks(graph_server: GraphServer, client: httpx.Client) -> None:
    url = f"{graph_server.base_url}/{PAGE}/feed"
    missing = client.get(url)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104
    wrong = client.get(url, params={"access_token": "nope"})
    assert (
        wrong.json()["error"]["code"] == 190 and wrong.json()["error"]["type"] == "OAuthException"
    )
    assert "WWW-Authenticate" in wrong.headers
    bearer = client.get(url, headers={"Authorization": f"Bearer {graph_server.token}"})
    assert bearer.status_code == 200
    graph_server.expire_token()
    expired = get(client, graph_server, f"/{PAGE}/feed").json()["error"]
    assert (expired["code"], expired["error_subcode"]) == (190, 463)
    assert [how for _, how in graph_server.requests] == ["none", "param", "header", "param"]


def test_usage_headers(graph_server: GraphServer, client: httpx.Client) -> None:
    usage = json.loads(get(client, graph_server, f"/{PAGE}").headers["X-App-Usage"])
    assert set(usage) == {"call_count", "total_cputime", "total_time"}
    buc = {PAGE: [{"type": "pages", "call_count": 95, "estimated_time_to_regain_access": 0}]}
    graph_server.set_usage(
        app={"call_count": 91, "total_time": 1, "total_cputime": 1}, business=buc
    )
    response = get(client, graph_server, f"/{PAGE}")
    assert json.loads(response.headers["X-App-Usage"])["call_count"] == 91
    assert json.loads(response.headers["X-Business-Use-Case-Usage"]) == buc


def test_faults_by_nth_path_and_times(graph_server: GraphServer, client: httpx.Client) -> None:
    graph_server.fail_status(500, nth=2)
    graph_server.graph_error(613, path="/comments$", times=2)
    assert get(client, graph_server, f"/{PAGE}").status_code == 200
    assert get(client, graph_server, f"/{PAGE}").status_code == 500
    assert get(client, graph_server, f"/{PAGE}").status_code == 200
    path = f"/{PAGE}_2001/comments"
    limited = get(client, graph_server, path)
    assert limited.status_code == 400 and limited.json()["error"]["code"] == 613
    assert get(client, graph_server, path).status_code == 400
    assert get(client, graph_server, path).status_code == 200
    assert graph_server.request_count == 6
    assert graph_server.path_counts[f"/v19.0{path}"] == 3


def test_fault_bodies(graph_server: GraphServer, client: httpx.Client) -> None:
    graph_server.rate_limit_429(retry_after="9", nth=1)
    graph_server.malformed(nth=2)
    graph_server.truncated(nth=3)
    graph_server.paging_loop(nth=4)
    r429 = get(client, graph_server, f"/{PAGE}/feed")
    assert r429.status_code == 429 and r429.headers["Retry-After"] == "9"
    bad = get(client, graph_server, f"/{PAGE}/feed")
    with pytest.raises(ValueError):
        bad.json()
    cut = get(client, graph_server, f"/{PAGE}/feed")
    assert cut.status_code == 200 and int(cut.headers["Content-Length"]) == len(cut.content)
    with pytest.raises(ValueError):
        cut.json()
    loop = get(client, graph_server, f"/{PAGE}/feed", limit="2").json()
    assert "after=" not in loop["paging"]["next"]  # points back at the first page


def test_slow_answer(graph_server: GraphServer, client: httpx.Client) -> None:
    graph_server.slow(0.3, nth=1)
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{graph_server.base_url}/{PAGE}", timeout=0.05)
    assert get(client, graph_server, f"/{PAGE}").status_code == 200


def test_empty_pages_still_have_next(sample_dataset, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    with GraphServer(sample_dataset, page_pattern=[3, 0], trailing_empty_page=True) as server:
        first = get(client, server, f"/{PAGE}/feed").json()
        empty = client.get(first["paging"]["next"]).json()
        assert empty["data"] == [] and "next" in empty["paging"]
        items, pages = walk(client, server, f"/{PAGE}/feed")
        assert len(items) == 13 and pages == 10  # 5 full, 4 empty in between, 1 trailing empty


def test_large_synthetic_page_pages_efficiently(client: httpx.Client) -> None:
    data = synthetic_dataset(posts=400, comments_per_post=20, replies_per_comment=2)
    assert len(data.comments) == 400 * 20 * 3
    with GraphServer(data, page_size=100) as server:
        posts, pages = walk(client, server, f"/{data.page_id}/feed", limit="100")
        assert len(posts) == 400 and pages == 4
        comments, _ = walk(
            client, server, f"/{posts[0]['id']}/comments", filter="stream", limit="100"
        )
        assert len(comments) == 60
