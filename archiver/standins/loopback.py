"""The part every loopback platform server shares: a threaded HTTP server on 127.0.0.1 (random
port), injected faults, and request counters.

A platform server (Graph, Instagram, X, ...) subclasses :class:`LoopbackServer`, sets
``base_path`` and implements :meth:`LoopbackServer.route`; it may say how the token comes
(:meth:`LoopbackServer.credential`), what an injected fault looks like in the platform's own
error shape (:meth:`LoopbackServer.fault_answer`) and which headers go on every answer
(:meth:`LoopbackServer.extra_headers`). The request line often holds a token, so nothing here
ever prints it.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Fault:
    """One injected misbehaviour. ``path`` is a regex searched in the request path; ``nth`` picks
    the Nth request the server receives (1-based); ``times`` is how often it fires (None: always).

    Kinds every server knows: "status" (HTTP ``status`` with the platform's error body),
    "retry_after" (429 + ``Retry-After: retry_after``), "malformed" (200, not JSON), "truncated"
    (200, the real body cut in half), "slow" (answer after ``delay`` seconds), "loop" (the
    next-page pointer leads back to the page just served), "headers" (normal answer plus
    ``headers``). Servers add their own kinds through :meth:`LoopbackServer.fault_answer`
    (Graph "graph_error", X "x_error", ...).
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


@dataclass
class Request:
    """One GET as a server sees it: path, last value of each query parameter, lower-cased
    headers, whether a "loop" fault asks the next-page pointer to point back, and its number."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    loop: bool = False
    number: int = 0
    method: str = "GET"
    body: bytes = b""


class LoopbackServer(ABC):
    """A platform look-alike on 127.0.0.1 (random port) in a daemon thread."""

    base_path = ""  # what the base URL ends with, e.g. "/v19.0"

    def __init__(self) -> None:
        self.request_count = 0
        self.path_counts: Counter[str] = Counter()
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)  # (path, how the token came)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.origin = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; return the base URL, e.g. ``http://127.0.0.1:PORT/v19.0``."""
        handler = type("_BoundHandler", (_Handler,), {"server_obj": self})
        httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = httpd.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address, never a Unix path
        self.origin = f"http://{host}:{port}"
        self.base_url = f"{self.origin}{self.base_path}"
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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
        """Answer HTTP ``status`` with the platform's error body."""
        return self.add_fault(Fault("status", status=status, **match))

    def rate_limit_429(self, retry_after: str = "5", **match: Any) -> Fault:
        """Answer 429 with ``Retry-After`` (seconds or an HTTP-date)."""
        return self.add_fault(Fault("retry_after", status=429, retry_after=retry_after, **match))

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
        """Make the next-page pointer lead back to the page just served."""
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

    # --- the platform's part ---------------------------------------------------------------

    def credential(self, request: Request) -> tuple[str | None, str]:
        """(token, how it came: "header", "param" or "none"). Default: ``Authorization: Bearer``."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), "header"
        return None, "none"

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        """The platform's answer for an injected fault, or None to let the base handle it."""
        return None

    def extra_headers(self) -> dict[str, str]:
        """Headers sent on every normal answer (usage counters, rate-limit state, ...)."""
        return {}

    @abstractmethod
    def route(self, request: Request) -> Answer:
        """The normal answer for one GET."""

    # --- answering ---------------------------------------------------------------------------

    def _count(self, path: str, how: str) -> int:
        with self._lock:
            self.request_count += 1
            self.path_counts[path] += 1
            self.requests.append((path, how))
            return self.request_count

    def answer(
        self, raw_path: str, headers: dict[str, str], method: str = "GET", body: bytes = b""
    ) -> Answer:
        """Compute the answer (status, headers, body) for one request; ``headers`` lower-cased.
        A server that takes POSTs (a session sign-in) reads ``method`` and ``body``."""
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(path=parts.path, query=query, headers=headers, method=method, body=body)
        _, how = self.credential(request)
        request.number = self._count(parts.path, how)
        faults = self._take_faults(parts.path, request.number)
        extra: dict[str, str] = {}
        for f in faults:
            if f.kind == "slow":
                time.sleep(f.delay)
            elif f.kind == "headers":
                extra.update(f.headers)
            elif f.kind == "loop":
                request.loop = True
        for f in faults:
            special = self.fault_answer(f, request)
            if special is not None:
                return special
            if f.kind == "malformed":
                return (
                    200,
                    {"Content-Type": "text/html"},
                    b"<html><body>Sorry, something went wrong.",
                )
        status, hdrs, body = self.route(request)
        hdrs.update(self.extra_headers())
        hdrs.update(extra)
        if any(f.kind == "truncated" for f in faults):
            body = body[: len(body) // 2]
        return status, hdrs, body


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
    server_obj: LoopbackServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self._serve("POST")

    def _serve(self, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length", "0") or 0) if method == "POST" else 0
        posted = self.rfile.read(min(length, 1 << 20)) if length > 0 else b""
        status, hdrs, body = self.server_obj.answer(self.path, headers, method, posted)
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # The request line may hold a token; never print it.
        pass
