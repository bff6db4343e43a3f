"""A loopback HTTP server that speaks enough of the Facebook Graph API to archive a Page.

It serves a :class:`~archiver.sample.dataset.PageDataset` the way the Graph API documents it
(developers.facebook.com/docs/graph-api/results, .../reference/page/feed,
.../reference/object/comments, .../guides/error-handling, .../overview/rate-limiting):

* ``GET /vNN.0/{page-id}/feed`` (also ``/posts``, ``/published_posts``), newest first;
* ``GET /vNN.0/{object-id}/comments`` with ``filter=stream|toplevel`` and
  ``order=chronological|reverse_chronological``;
* ``GET /vNN.0/{id}`` object reads; ``fields`` (with nested ``a{b,c}``) and ``limit`` honoured;
* cursor paging with ``paging.cursors`` and a full ``paging.next`` URL that, like the real API,
  carries ``access_token``;
* errors in Graph shape: 100/33 for unknown or deleted ids, 190 for a wrong or expired token,
  104 for a missing one; an ``X-App-Usage`` header on every answer.

The token is accepted as ``access_token`` or as ``Authorization: Bearer|OAuth``. Tests inject
faults (:meth:`GraphServer.add_fault` and helpers) and read ``request_count``/``path_counts``.
Built for large generated pages too: indexes are built once per dataset, pages are O(page size).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from archiver.sample.dataset import PageDataset
from archiver.sample.graph_render import (
    PageIndex,
    Reversed,
    decode_cursor,
    encode_cursor,
    parse_fields,
    post_json,
    select,
)

DEFAULT_TOKEN = "sample-page-token"  # noqa: S105 - a made-up token for the loopback server
VERSION = "v19.0"
_VERSION_RE = re.compile(r"^/v\d+\.\d+(/.*)?$")
MAX_LIMIT = 100
UNSUPPORTED_GET = (
    "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)


@dataclass
class Fault:
    """One injected misbehaviour. ``path`` is a regex searched in the request path; ``nth`` picks
    the Nth request the server receives (1-based); ``times`` is how often it fires (None: always).

    ``kind``: "status" (HTTP ``status``), "retry_after" (429 + ``Retry-After: retry_after``),
    "graph_error" (Graph error body ``code``/``subcode`` with HTTP ``status``), "malformed"
    (200, not JSON), "truncated" (200, the real body cut in half), "slow" (answer after
    ``delay`` seconds), "loop" (``paging.next`` points at the page just served), "headers"
    (normal answer plus ``headers``).
    """

    kind: str
    path: str | None = None
    nth: int | None = None
    times: int | None = 1
    status: int = 500
    retry_after: str | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    fired: int = 0


class GraphServer:
    """A Graph API look-alike on 127.0.0.1 (random port) in a daemon thread."""

    def __init__(
        self,
        dataset: PageDataset,
        *,
        page_size: int = 25,
        token: str = DEFAULT_TOKEN,
        page_pattern: Sequence[int] | None = None,
        trailing_empty_page: bool = False,
        app_call_quota: int = 1_000_000,
    ) -> None:
        self.page_size = page_size
        self.token = token
        self.page_pattern = tuple(page_pattern) if page_pattern else None
        self.trailing_empty_page = trailing_empty_page
        self.app_call_quota = app_call_quota
        self.request_count = 0
        self.path_counts: Counter[str] = Counter()
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)  # (path, how the token came)
        self.app_usage: dict[str, int] | None = None
        self.business_usage: dict[str, Any] | None = None
        self.token_expired = False
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._index = PageIndex(dataset)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; return the base URL, e.g. ``http://127.0.0.1:PORT/v19.0``."""
        handler = type("_BoundHandler", (_Handler,), {"graph": self})
        httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/{VERSION}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GraphServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- state -------------------------------------------------------------------------------

    @property
    def dataset(self) -> PageDataset:
        """The dataset being served."""
        return self._index.dataset

    def set_dataset(self, dataset: PageDataset) -> None:
        """Serve another dataset from the next request on."""
        self._index = PageIndex(dataset)

    def apply_second_state(self) -> None:
        """Switch to the bundled sample's second state (an edit, a hide, a deletion, a new one)."""
        from archiver.sample.dataset import load_second_state_changes

        self.set_dataset(self.dataset.with_changes(load_second_state_changes()))

    def expire_token(self) -> None:
        """Answer every request with Graph error 190/463 (session expired)."""
        self.token_expired = True

    def set_usage(
        self, app: dict[str, int] | None = None, business: dict[str, Any] | None = None
    ) -> None:
        """Report these ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` values from now on."""
        self.app_usage = app
        self.business_usage = business

    # --- faults ------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Inject ``fault``; it fires on matching requests until its ``times`` run out."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def fail_status(self, status: int = 500, **match: Any) -> Fault:
        """Answer HTTP ``status`` (an error body in Graph shape, code 2, transient)."""
        return self.add_fault(Fault("status", status=status, **match))

    def rate_limit_429(self, retry_after: str = "5", **match: Any) -> Fault:
        """Answer 429 with ``Retry-After`` (seconds or an HTTP-date)."""
        return self.add_fault(Fault("retry_after", status=429, retry_after=retry_after, **match))

    def graph_error(
        self, code: int, subcode: int | None = None, status: int = 400, **match: Any
    ) -> Fault:
        """Answer a Graph error body, e.g. code 4/17/32/613 (rate limits) or 100/33."""
        return self.add_fault(
            Fault("graph_error", status=status, code=code, subcode=subcode, **match)
        )

    def malformed(self, **match: Any) -> Fault:
        """Answer 200 with a body that is not JSON."""
        return self.add_fault(Fault("malformed", **match))

    def truncated(self, **match: Any) -> Fault:
        """Answer 200 with the real body cut in half (Content-Length matching the cut)."""
        return self.add_fault(Fault("truncated", **match))

    def slow(self, delay: float, **match: Any) -> Fault:
        """Wait ``delay`` real seconds before answering (keep it short: it is for timeouts)."""
        return self.add_fault(Fault("slow", delay=delay, **match))

    def paging_loop(self, **match: Any) -> Fault:
        """Make ``paging.next`` point back at the page just served."""
        return self.add_fault(Fault("loop", **match))

    def _take_faults(self, path: str, number: int) -> list[Fault]:
        with self._lock:
            hits = [
                f
                for f in self._faults
                if (f.path is None or re.search(f.path, path))
                and (f.nth is None or f.nth == number)
            ]
            for f in hits:
                f.fired += 1
                if f.times is not None and f.fired >= f.times:
                    self._faults.remove(f)
            return hits

    # --- answering ---------------------------------------------------------------------------

    def _count(self, path: str, how: str) -> int:
        with self._lock:
            self.request_count += 1
            self.path_counts[path] += 1
            self.requests.append((path, how))
            return self.request_count

    def usage_headers(self) -> dict[str, str]:
        """The Graph usage headers for the current request count."""
        app = self.app_usage
        if app is None:
            pct = min(100, self.request_count * 100 // max(1, self.app_call_quota))
            app = {"call_count": pct, "total_cputime": pct, "total_time": pct}
        headers = {"X-App-Usage": json.dumps(app)}
        if self.business_usage is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps(self.business_usage)
        return headers

    def answer(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Compute the answer (status, headers, body) for one GET."""
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        token, how = self._token_of(query, headers)
        number = self._count(parts.path, how)
        faults = self._take_faults(parts.path, number)
        extra: dict[str, str] = {}
        loop = False
        for f in faults:
            if f.kind == "slow":
                time.sleep(f.delay)
            elif f.kind == "headers":
                extra.update(f.headers)
            elif f.kind == "loop":
                loop = True
        for f in faults:
            if f.kind == "status":
                return self._error(
                    f.status, 2, None, "An unexpected error has occurred.", "OAuthException"
                )
            if f.kind == "retry_after":
                status, hdrs, body = self._error(429, 4, None, "Too many calls", "OAuthException")
                hdrs["Retry-After"] = f.retry_after or "1"
                return status, hdrs, body
            if f.kind == "graph_error":
                return self._graph_fault(f)
            if f.kind == "malformed":
                return (
                    200,
                    {"Content-Type": "text/html"},
                    b"<html><body>Sorry, something went wrong.",
                )
        status, hdrs, body = self._route(parts.path, query, token, loop)
        hdrs.update(self.usage_headers())
        hdrs.update(extra)
        if any(f.kind == "truncated" for f in faults):
            body = body[: len(body) // 2]
        return status, hdrs, body

    def _token_of(self, query: dict[str, str], headers: dict[str, str]) -> tuple[str | None, str]:
        if "access_token" in query:
            return query["access_token"], "param"
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value:
            return value.strip(), "header"
        return None, "none"

    def _error(
        self, status: int, code: int, subcode: int | None, message: str, kind: str
    ) -> tuple[int, dict[str, str], bytes]:
        err: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            err["error_subcode"] = subcode
        if code in (1, 2):
            err["is_transient"] = True
        err["fbtrace_id"] = f"AbCdEf{self.request_count:06d}"
        hdrs = {"Content-Type": "application/json; charset=UTF-8"}
        if kind == "OAuthException" and code in (190, 104):
            hdrs["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
        return status, hdrs, json.dumps({"error": err}).encode()

    def _graph_fault(self, f: Fault) -> tuple[int, dict[str, str], bytes]:
        code = f.code if f.code is not None else 1
        messages = {
            4: "(#4) Application request limit reached",
            17: "(#17) User request limit reached",
            32: "(#32) Page request limit reached",
            613: "(#613) Calls to this api have exceeded the rate limit.",
            80001: "(#80001) There have been too many calls to this Page account.",
            190: "Error validating access token: Session has expired.",
        }
        if code == 100 and f.subcode == 33:
            message = UNSUPPORTED_GET.format(id="?")
            kind = "GraphMethodException"
        else:
            message = f.message or messages.get(code, "An unknown error occurred")
            kind = "OAuthException"
        status, hdrs, body = self._error(f.status, code, f.subcode, message, kind)
        hdrs.update(self.usage_headers())
        hdrs.update(f.headers)
        return status, hdrs, body

    def _route(
        self, path: str, query: dict[str, str], token: str | None, loop: bool
    ) -> tuple[int, dict[str, str], bytes]:
        m = _VERSION_RE.match(path)
        if not m or not m.group(1) or m.group(1) == "/":
            return self._error(400, 2500, None, "Unknown path components", "OAuthException")
        if token is None:
            return self._error(
                400,
                104,
                None,
                "An access token is required to request this resource.",
                "OAuthException",
            )
        if token != self.token:
            return self._error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
                "OAuthException",
            )
        if self.token_expired:
            return self._error(
                400,
                190,
                463,
                "Error validating access token: Session has expired.",
                "OAuthException",
            )
        segments = [s for s in m.group(1).split("/") if s]
        fields = parse_fields(query["fields"]) if query.get("fields") else None
        idx = self._index
        object_id = segments[0]
        if len(segments) == 1:
            obj = self._object(idx, object_id)
            if obj is None:
                return self._unsupported(object_id)
            default = {"id": None, "name": None} if object_id == idx.dataset.page_id else None
            return self._ok(select(obj, fields or default))
        if len(segments) != 2:
            return self._unsupported(object_id)
        edge = segments[1]
        items: Sequence[Any]
        render: Any
        if object_id == idx.dataset.page_id and edge in ("feed", "posts", "published_posts"):
            items = idx.published if edge == "published_posts" else idx.feed
            render = post_json
            default_fields = {"id": None, "message": None, "created_time": None}
        elif edge == "comments" and (object_id in idx.posts or object_id in idx.comments):
            if object_id in idx.comments:
                items = idx.replies.get(object_id, [])
            elif query.get("filter") == "stream":
                items = idx.stream.get(object_id, [])
            else:
                items = idx.toplevel.get(object_id, [])
            if query.get("order") == "reverse_chronological":
                items = Reversed(items)
            render = idx.render_comment
            default_fields = {"created_time": None, "from": None, "message": None, "id": None}
        elif (
            object_id in idx.posts or object_id in idx.comments or object_id == idx.dataset.page_id
        ):
            return self._error(
                400,
                100,
                None,
                f"(#100) Tried accessing nonexisting field ({edge})",
                "OAuthException",
            )
        else:
            return self._unsupported(object_id)
        return self._edge(path, query, items, render, fields or default_fields, loop)

    def _object(self, idx: PageIndex, object_id: str) -> dict[str, Any] | None:
        if object_id == idx.dataset.page_id:
            return {"id": object_id, "name": idx.dataset.page_name}
        if object_id in idx.posts:
            return post_json(idx.posts[object_id])
        if object_id in idx.comments:
            return idx.render_comment(idx.comments[object_id])
        return None

    def _unsupported(self, object_id: str) -> tuple[int, dict[str, str], bytes]:
        return self._error(
            400, 100, 33, UNSUPPORTED_GET.format(id=object_id), "GraphMethodException"
        )

    def _edge(
        self,
        path: str,
        query: dict[str, str],
        items: Sequence[Any],
        render: Any,
        fields: dict[str, Any],
        loop: bool,
    ) -> tuple[int, dict[str, str], bytes]:
        after = query.get("after")
        try:
            offset, page_no = decode_cursor(after) if after else (0, 0)
        except ValueError:
            return self._error(400, 100, None, "(#100) Invalid cursor", "OAuthException")
        try:
            limit = int(query.get("limit") or self.page_size)
        except ValueError:
            limit = self.page_size
        size = max(0, min(limit, self.page_size, MAX_LIMIT))
        if self.page_pattern:
            size = self.page_pattern[page_no % len(self.page_pattern)]
        end = min(len(items), offset + size)
        data = [select(render(items[i]), fields) for i in range(offset, end)]
        body: dict[str, Any] = {"data": data}
        more = end < len(items) or (self.trailing_empty_page and size > 0 and bool(data))
        if data or more:
            before = encode_cursor(offset, page_no)
            next_cursor = (after or "") if loop else encode_cursor(end, page_no + 1)
            body["paging"] = {
                "cursors": {"before": before, "after": encode_cursor(end, page_no + 1)}
            }
            if more or loop:
                params = {k: v for k, v in query.items() if k not in ("after", "before")}
                if next_cursor:
                    params["after"] = next_cursor
                if self.token:
                    params["access_token"] = self.token
                origin = self.base_url.rsplit("/", 1)[0]
                body["paging"]["next"] = f"{origin}{path}?{urlencode(params)}"
        return self._ok(body)

    def _ok(self, payload: Any) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=True).encode()
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, body


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up mid-answer; that is expected here, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer, no Nagle: keep-alive round trips stay sub-millisecond.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    graph: GraphServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, hdrs, body = self.graph.answer(self.path, headers)
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # The request line holds the access token; never print it.
        pass
