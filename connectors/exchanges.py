"""HTTP exchanges as a recorder is told of them: what was asked and what came back, byte for byte,
with the account's credentials taken out.

The shared request loop (:meth:`archiver.connectors.base.Connector.fetch`) tells an injected
:class:`ExchangeRecorder` of every answer it receives, error answers included, so every connector
on the loop is recorded without knowing it; the archive side keeps the exchanges (as WARC
records). The recorder answers with the name it keeps the exchange under; :class:`Sources`
remembers which exchange's page carried which object, so each record read can name the exchange
it came from.

Credentials never leave the connector: the request's credential headers (``Authorization``,
cookies, API-key headers) are dropped, its URL loses credential parameters, and the scrubber
(:mod:`archiver.connectors.secrets`) takes the account's secrets out of the remaining headers and,
where asked, out of the body. ``redacted`` counts what was taken out, so the record can say so.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from archiver.connectors.secrets import SecretScrubber

# Request headers that carry a credential: dropped whole, whatever their value.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "x-goog-api-key",
    "x-auth-token",
})
# Response headers that hand out a credential.
CREDENTIAL_RESPONSE_HEADERS = frozenset({"set-cookie", "www-authenticate"})
# How many object ids :class:`Sources` remembers: a page's records are read long before this many
# more objects arrive.
SOURCES_KEPT = 100_000


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, credentials taken out (``redacted`` of them)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    http_version: str
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    redacted: int = 0


class ExchangeRecorder(Protocol):
    """Told of each exchange; answers with the name the exchange is kept under (or None)."""

    def __call__(self, exchange: Exchange) -> str | None: ...


def _headers(pairs: Iterable[tuple[str, str]], dropped: frozenset[str],
             scrubber: SecretScrubber) -> tuple[tuple[tuple[str, str], ...], int]:
    kept: list[tuple[str, str]] = []
    count = 0
    for name, value in pairs:
        if name.lower() in dropped:
            count += 1
            continue
        value, n = scrubber.text(value)
        count += n
        kept.append((name, value))
    return tuple(kept), count


def exchange_of(response: httpx.Response, scrubber: SecretScrubber, *,
                scrub_body: bool = True, body: bytes | None = None) -> Exchange:
    """``response`` and the request that asked for it, without credentials. Media bodies are
    kept as sent (``scrub_body=False``): no credential is sent for them, and a text scrub of
    binary bytes could change a file. ``body`` is the body of a streamed response, read by
    the caller."""
    request = response.request
    url, in_url = scrubber.text(str(request.url))
    sent, in_request = _headers(request.headers.multi_items(), CREDENTIAL_HEADERS, scrubber)
    received, in_response = _headers(response.headers.multi_items(),
                                     CREDENTIAL_RESPONSE_HEADERS, scrubber)
    content = response.content if body is None else body
    content, in_body = scrubber.data(content) if scrub_body else (content, 0)
    return Exchange(
        method=request.method, url=url, request_headers=sent,
        http_version=response.http_version or "HTTP/1.1", status=response.status_code,
        reason=response.reason_phrase or "", response_headers=received, body=content,
        redacted=in_url + in_request + in_response + in_body)


def object_ids(payload: Any) -> Iterator[str]:
    """Every ``id`` of an object anywhere in a decoded payload (the generic way to tell which
    items a page carries: platforms name their objects by ``id``)."""
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = node.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool):
                yield str(found)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class Sources:
    """Which recorded exchange carried each object (by its ``id``), for the newest
    :data:`SOURCES_KEPT` objects; an object not found is credited to the latest exchange."""

    def __init__(self, kept: int = SOURCES_KEPT) -> None:
        self._kept = kept
        self._by_id: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()  # the reader thread notes, the capture thread asks
        self.last: str | None = None

    def note(self, payload: Any, name: str | None) -> None:
        """The exchange ``name`` answered with ``payload`` (decoded JSON, or None)."""
        if name is None:
            return
        with self._lock:
            self.last = name
            for found in object_ids(payload):
                self._by_id[found] = name
                self._by_id.move_to_end(found)
            while len(self._by_id) > self._kept:
                self._by_id.popitem(last=False)

    def of(self, external_id: str) -> str | None:
        """The exchange whose page carried ``external_id`` (else the latest one)."""
        with self._lock:
            return self._by_id.get(external_id, self.last)
