"""The shared request loop, against a scripted HTTP server on loopback."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from archiver.connectors import PLATFORMS, UnknownPlatform, get_connector_class
from archiver.connectors.base import (
    Classification,
    Connector,
    ConnectorConfig,
    CursorPaging,
    ObjectNotFound,
    PageNumberPaging,
    PageRequest,
    Stream,
    Verdict,
    classify_http,
    retry_after_seconds,
    strip_secrets,
)
from archiver.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PagingLoop,
    RateLimitExhausted,
    TransientError,
)
from archiver.connectors.facebook import FacebookConnector
from archiver.connectors.records import ItemRef, ListingComplete, LookupResult, Record, Unknown
from tests.support.graph import SleepRecorder

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "tok-SECRET-123"

Answer = tuple[int, dict[str, str], bytes]


class Scripted:
    """A loopback server answering each path from a queue of canned answers (last one repeats)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = {}
        self.hits: list[str] = []
        self.auth: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per answer, no Nagle: fast keep-alive round trips
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802
                owner.hits.append(self.path)
                owner.auth.append(self.headers.get("Authorization"))
                path = self.path.split("?", 1)[0]
                queue = owner.script.get(path) or [(404, {}, b'{"detail":"nope"}')]
                status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def on(self, path: str, *answers: Answer) -> None:
        self.script[path] = list(answers)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(payload: Any, **headers: str) -> Answer:
    return 200, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.stop()


class ItemsStream(Stream):
    def __init__(self, url: str, paging: Any, params: dict[str, str] | None = None) -> None:
        self.url = url
        self.paging = paging
        self.params = params or {}

    def first_request(self) -> PageRequest:
        return PageRequest(self.url, self.params)

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        items = payload.get("items") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise MalformedResponse(f"response from {request.path}: no items")
        return items


class EndOn400(ItemsStream):
    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        if isinstance(payload, dict) and payload.get("code") == "rest_post_invalid_page_number":
            return Classification(Verdict.END)
        return classify_http(response)


class Toy(Connector):
    platform: ClassVar[str] = "toy"
    default_api_base: ClassVar[str] = "http://127.0.0.1:9"

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[Record | ListingComplete]:
        return iter(())

    def lookup(self, ref: ItemRef) -> LookupResult:
        return Unknown("toy")

    def all_items(self, stream: Stream) -> list[Any]:
        return [item for page in self.pages(stream) for item in page]


def toy(server: Scripted, **overrides: Any) -> Toy:
    values: dict[str, Any] = {
        "account_external_id": "acct",
        "api_base": server.base,
        "token": SECRET,
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_base": 1.0,
        "backoff_cap": 8.0,
        "rate_limit_budget_s": 100.0,
    }
    values.update(overrides)
    config = ConnectorConfig(**values)
    return Toy(config, sleep=SleepRecorder(), now=lambda: NOW, rng=random.Random(7))


def test_config_repr_hides_token() -> None:
    config = ConnectorConfig(account_external_id="1", token=SECRET)
    assert SECRET not in repr(config)
    assert config.timeout == 30.0 and config.max_retries == 5


def test_registry() -> None:
    assert "facebook" in PLATFORMS
    assert get_connector_class("facebook") is FacebookConnector
    with pytest.raises(UnknownPlatform, match="known platforms: .*facebook"):
        get_connector_class("myspace")
    with pytest.raises(ValueError):
        get_connector_class("")


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7", NOW) == 7.0
    assert retry_after_seconds("Sat, 01 Jun 2024 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Sat, 01 Jun 2024 11:00:00 GMT", NOW) == 0.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_strip_secrets_and_request_key() -> None:
    url = "https://graph.example/v1/1/feed?limit=2&access_token=abc&after=X"
    assert strip_secrets(url) == "https://graph.example/v1/1/feed?limit=2&after=X"
    a = PageRequest("https://h/p", {"b": "2", "a": "1"})
    b = PageRequest("https://h/p?a=1&b=2&access_token=zzz")
    assert a.key() == b.key()
    assert PageRequest("https://h/p/q?x=1").path == "/p/q"


def test_cursor_paging_to_the_end_with_bearer_header(scripted: Scripted) -> None:
    scripted.on(
        "/items",
        ok({"items": [1, 2], "meta": {"next_token": "t2"}}),
        ok({"items": [], "meta": {"next_token": "t3"}}),  # empty page that still goes on
        ok({"items": [3], "meta": {}}),
    )
    with toy(scripted) as c:
        stream = ItemsStream(f"{scripted.base}/items", CursorPaging(("meta", "next_token"), "tok"))
        assert c.all_items(stream) == [1, 2, 3]
    assert scripted.hits == ["/items", "/items?tok=t2", "/items?tok=t3"]
    assert scripted.auth == [f"Bearer {SECRET}"] * 3


def test_page_number_paging_and_end_verdict(scripted: Scripted) -> None:
    scripted.on(
        "/wp",
        ok([{"id": 1}, {"id": 2}]),
        ok([{"id": 3}, {"id": 4}]),
        (400, {}, b'{"code":"rest_post_invalid_page_number","message":"past the end"}'),
    )
    with toy(scripted) as c:
        stream = EndOn400(f"{scripted.base}/wp", PageNumberPaging("page", 2), {"page": "1"})
        assert [x["id"] for x in c.all_items(stream)] == [1, 2, 3, 4]
    assert scripted.hits[-1] == "/wp?page=3"


def test_5xx_recovers_within_budget(scripted: Scripted) -> None:
    scripted.on("/items", (502, {}, b"bad gateway"), (503, {}, b""), ok({"items": [1]}))
    with toy(scripted) as c:
        assert c.all_items(ItemsStream(f"{scripted.base}/items", CursorPaging(("n",), "n"))) == [1]
        assert c.stats.retries == 2 and c.stats.requests == 3
        # equal jitter: attempt k waits between base*2^k/2 and base*2^k
        first, second = c.sleep.calls  # type: ignore[attr-defined]
        assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0


def test_5xx_past_retries_is_transient_error_without_query(scripted: Scripted) -> None:
    scripted.on("/items", (500, {}, b"oops"))
    with toy(scripted) as c:
        stream = ItemsStream(f"{scripted.base}/items", CursorPaging(("n",), "n"), {"q": "x"})
        with pytest.raises(TransientError) as info:
            c.all_items(stream)
    msg = str(info.value)
    assert "GET /items" in msg and "4 attempts" in msg and "q=x" not in msg
    assert "\n" not in msg and SECRET not in msg
    assert len(scripted.hits) == 4


def test_connection_refused_is_transient() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    config = ConnectorConfig("a", api_base=f"http://127.0.0.1:{port}", token=SECRET, max_retries=2)
    with Toy(config, sleep=SleepRecorder(), rng=random.Random(1)) as c:
        stream = ItemsStream(f"http://127.0.0.1:{port}/x", CursorPaging(("n",), "n"))
        with pytest.raises(TransientError, match="connection failed"):
            c.all_items(stream)
        assert c.stats.requests == 3


def test_429_retry_after_http_date_honoured(scripted: Scripted) -> None:
    scripted.on(
        "/items",
        (429, {"Retry-After": "Sat, 01 Jun 2024 12:00:42 GMT"}, b""),
        ok({"items": ["a"]}),
    )
    with toy(scripted) as c:
        stream = ItemsStream(f"{scripted.base}/items", CursorPaging(("n",), "n"))
        assert c.all_items(stream) == ["a"]
        assert c.sleep.calls == [42.0]  # type: ignore[attr-defined]
        assert c.stats.rate_limited == 1 and c.stats.waited_seconds == 42.0


def test_rate_limit_budget_exhausted(scripted: Scripted) -> None:
    scripted.on("/items", (429, {"Retry-After": "30"}, b""))
    with toy(scripted, rate_limit_budget_s=100.0) as c:
        with pytest.raises(RateLimitExhausted, match="100s budget"):
            c.all_items(ItemsStream(f"{scripted.base}/items", CursorPaging(("n",), "n")))
        assert c.sleep.calls == [30.0, 30.0, 30.0]  # type: ignore[attr-defined]
        assert c.stats.rate_limited == 3


def test_auth_not_found_and_fatal(scripted: Scripted) -> None:
    scripted.on("/a", (401, {}, b"{}"))
    scripted.on("/n", (404, {}, b'{"detail":"missing"}'))
    scripted.on("/f", (418, {}, b"teapot"))
    with toy(scripted) as c:
        with pytest.raises(AuthError, match="HTTP 401"):
            c.fetch(PageRequest(f"{scripted.base}/a"))
        with pytest.raises(ObjectNotFound) as nf:
            c.fetch(PageRequest(f"{scripted.base}/n"))
        assert nf.value.status == 404 and nf.value.body == {"detail": "missing"}
        assert nf.value.path == "/n"
        with pytest.raises(ConnectorError, match="HTTP 418"):
            c.fetch(PageRequest(f"{scripted.base}/f"))
        assert c.stats.retries == 0


def test_malformed_json_and_wrong_shape(scripted: Scripted) -> None:
    scripted.on("/bad", (200, {}, b'{"items": [1, 2'))
    scripted.on("/shape", ok({"something": "else"}))
    with toy(scripted) as c:
        with pytest.raises(MalformedResponse, match="/bad is not valid JSON"):
            c.all_items(ItemsStream(f"{scripted.base}/bad?k=v", CursorPaging(("n",), "n")))
        with pytest.raises(MalformedResponse, match="/shape: no items"):
            c.all_items(ItemsStream(f"{scripted.base}/shape", CursorPaging(("n",), "n")))


def test_paging_loop_detected(scripted: Scripted) -> None:
    scripted.on(
        "/items",
        ok({"items": [1], "n": "a"}),
        ok({"items": [2], "n": "b"}),
        ok({"items": [3], "n": "a"}),  # back to a page already read
    )
    with toy(scripted) as c, pytest.raises(PagingLoop, match="/items"):
        c.all_items(ItemsStream(f"{scripted.base}/items", CursorPaging(("n",), "n")))


def test_token_never_in_messages_even_if_server_echoes_it(scripted: Scripted) -> None:
    scripted.on("/echo", (418, {}, f'{{"error": "bad token {SECRET}"}}'.encode()))

    class Echo(ItemsStream):
        def classify(self, response: httpx.Response, payload: Any) -> Classification:
            return Classification(Verdict.FATAL, detail=str(payload))

    with toy(scripted) as c, pytest.raises(ConnectorError) as info:
        c.all_items(Echo(f"{scripted.base}/echo", CursorPaging(("n",), "n")))
    assert SECRET not in str(info.value) and "***" in str(info.value)
