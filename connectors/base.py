"""The one request loop every connector shares.

A connector is a set of *streams* (after meltano/sdk's streams, our own code): a stream says where
its listing starts, how it pages (:class:`NextUrlPaging`, :class:`CursorPaging`,
:class:`PageNumberPaging`; a stream may bring its own :class:`Paging`), how to read items from a
page, and how to classify an error answer (:meth:`Stream.classify`); how streams hang under one
another (a post's comments) is declared in :mod:`archiver.connectors.streams`.
:class:`Connector` does the loop once for all of them: a timeout on every request, retries with
exponential back-off and jitter on 5xx/timeouts/connection errors, waiting out rate limits
through the injected ``sleep`` within a budget, paging-loop detection, and one-line errors that
never carry the token. Its :meth:`Connector.scrub_record` and :meth:`Connector.scrub_json` take
every secret (:mod:`archiver.connectors.secrets`) out of what capture stores.

Side effects (the HTTP client, sleeping, the clock, randomness for jitter, ``on_retry``, told
of every wait so a person watching is not left in silence, and ``recorder``, told of every
exchange without its credentials: :mod:`archiver.connectors.exchanges`) are passed in.
"""

from __future__ import annotations

import json
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from functools import cached_property
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from archiver.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PagingLoop,
    RateLimitExhausted,
    TransientError,
)
from archiver.connectors.exchanges import ExchangeRecorder, Sources, exchange_of
from archiver.connectors.profiles import Profile, TokenStatus
from archiver.connectors.records import (
    ItemRef,
    LookupResult,
    MediaRef,
    Platform,
    ReadEvent,
    Record,
    RequestStats,
)
from archiver.connectors.secrets import SECRET_PARAMS, SecretScrubber

log = logging.getLogger(__name__)


class ObjectNotFound(ConnectorError):
    """The platform answered "no such object" (404, Graph 100/33, ...).

    Raised by the loop so a listing of a vanished parent or a look-up can decide what it means;
    ``status`` and ``body`` keep the platform's answer for evidence (as sent: capture scrubs
    evidence as it stores it), ``path`` has no query string.
    """

    def __init__(self, message: str, *, status: int, body: Any, path: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.path = path


@dataclass(frozen=True)
class ConnectorConfig:
    """How to reach one account. ``token`` is kept out of ``repr`` so it never reaches a log."""

    account_external_id: str
    api_base: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    page_size: int | None = None
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    rate_limit_budget_s: float = 900.0


class Verdict(Enum):
    """What an answer means to the loop."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # wait, then ask again
    TRANSIENT = "transient"  # retry with back-off
    AUTH = "auth"  # the token is refused: stop
    NOT_FOUND = "not_found"  # the object does not exist (or is not visible)
    END = "end"  # the listing is over (e.g. a page number past the end)
    FATAL = "fatal"  # anything else: stop with a one-line error


@dataclass(frozen=True)
class Classification:
    """A :class:`Verdict` with the platform's suggested wait (seconds) and a one-line detail."""

    verdict: Verdict
    wait: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class PageRequest:
    """One GET: an absolute URL plus query parameters (credentials are never put here).

    With ``body`` it is a POST of that JSON object instead (signing in to a session); the body
    may hold a credential, so it is kept out of ``repr`` and of :meth:`key`."""

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        """``GET``, or ``POST`` when the request carries a body."""
        return "GET" if self.body is None else "POST"

    def key(self) -> str:
        """A canonical form (sorted query, credentials dropped) used to detect paging loops."""
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query += list(self.params.items())
        query = sorted((k, v) for k, v in query if k not in SECRET_PARAMS)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    @property
    def path(self) -> str:
        """The URL path only: safe to show in an error message."""
        return urlsplit(self.url).path or "/"


def strip_secrets(url: str) -> str:
    """Drop credential parameters (e.g. Graph's ``access_token`` in ``paging.next``) from a URL."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in SECRET_PARAMS
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut ``text`` so it fits an error message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def decode_json(body: bytes, path: str) -> Any:
    """Parse a response body; anything that is not JSON is a :class:`MalformedResponse`."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedResponse(f"response from {path} is not valid JSON") from None


# --- paging styles ---------------------------------------------------------------------------


class Paging(ABC):
    """How a listing finds its next page from the page just read."""

    @abstractmethod
    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        """The request for the next page, or None at the end."""


def dig(payload: Any, path: Sequence[str]) -> Any:
    """``payload[a][b]...`` or None when any step is missing or not an object."""
    node = payload
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


@dataclass(frozen=True)
class NextUrlPaging(Paging):
    """The page names the full URL of the next page (Graph ``paging.next``, ``Link: rel=next``)."""

    path: tuple[str, ...]

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        nxt = dig(payload, self.path)
        if nxt is None or nxt == "":
            return None
        if not isinstance(nxt, str):
            raise MalformedResponse(f"response from {request.path}: next-page link is not a string")
        here, there = urlsplit(request.url), urlsplit(nxt)
        # Following a link to another origin would hand our credentials to it.
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            raise MalformedResponse(
                f"response from {request.path}: next-page link leaves the API host"
            )
        return PageRequest(strip_secrets(nxt))


@dataclass(frozen=True)
class CursorPaging(Paging):
    """An opaque page token sent back as a parameter (X next_token, YouTube nextPageToken)."""

    token_path: tuple[str, ...]
    param: str

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        token = dig(payload, self.token_path)
        if token is None or token == "":
            return None
        if not isinstance(token, str | int):
            raise MalformedResponse(f"response from {request.path}: page token is not a string")
        return PageRequest(request.url, {**request.params, self.param: str(token)})


@dataclass(frozen=True)
class PageNumberPaging(Paging):
    """``page=1,2,...`` until a short or empty page (WordPress)."""

    param: str = "page"
    page_size: int | None = None
    start: int = 1

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        if item_count == 0 or (self.page_size is not None and item_count < self.page_size):
            return None
        current = int(request.params.get(self.param, self.start))
        return PageRequest(request.url, {**request.params, self.param: str(current + 1)})


# --- streams ---------------------------------------------------------------------------------


class Stream(ABC):
    """One paged listing: where it starts, how it pages, how to read a page, how errors read."""

    paging: Paging

    @abstractmethod
    def first_request(self) -> PageRequest:
        """The first page's request."""

    @abstractmethod
    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        """The items of one decoded page; a wrong shape raises :class:`MalformedResponse`."""

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        """What an answer means. The default knows plain HTTP; platforms override."""
        return classify_http(response)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def classify_http(response: httpx.Response) -> Classification:
    """Plain HTTP meaning of a status code (``Retry-After`` is read by the loop)."""
    status = response.status_code
    if status < 400:
        return Classification(Verdict.OK)
    if status == 429:
        return Classification(Verdict.RATE_LIMITED, detail="HTTP 429")
    if status in (401, 403):
        return Classification(Verdict.AUTH, detail=f"HTTP {status}")
    if status in (404, 410):
        return Classification(Verdict.NOT_FOUND, detail=f"HTTP {status}")
    if status >= 500 or status == 408:
        return Classification(Verdict.TRANSIENT, detail=f"HTTP {status}")
    return Classification(Verdict.FATAL, detail=f"HTTP {status}")


@dataclass(frozen=True)
class RetryNotice:
    """One wait before asking again. ``path`` never holds a query string (nor so a token)."""

    platform: str
    path: str
    problem: str  # "HTTP 500", "timed out", "HTTP 429", ...
    attempt: int  # the attempt that just failed, from 1
    attempts: int | None  # all attempts allowed; None for a rate-limit wait (bounded by time)
    wait: float

    def line(self) -> str:
        """One line for a terminal."""
        where = f"{self.platform}: GET {self.path}: {self.problem}"
        if self.attempts is None:
            return f"{where}; waiting {self.wait:.1f}s before asking again"
        return f"{where}; attempt {self.attempt} of {self.attempts}, retrying in {self.wait:.1f}s"


RetryCallback = Callable[[RetryNotice], None]


@dataclass(frozen=True)
class Fetched:
    """A successful answer: the decoded JSON and the HTTP response (headers, status)."""

    payload: Any
    response: httpx.Response
    end: bool = False


# --- the connector ---------------------------------------------------------------------------


class Connector(ABC):
    """Base of every platform connector: holds the client, the counters and the shared loop."""

    platform: ClassVar[Platform]
    default_api_base: ClassVar[str]
    # True where the platform serves public data to anyone: no token means no Authorization.
    anonymous_read: ClassVar[bool] = False
    # Listing scopes the frequent sweep re-reads on every pass (stories, gone within a day).
    sweep_scopes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        on_retry: RetryCallback | None = None,
        recorder: ExchangeRecorder | None = None,
    ) -> None:
        self.config = config
        self.on_retry = on_retry
        self.recorder = recorder
        self.sources = Sources()
        self.api_base = (config.api_base or self.default_api_base).rstrip("/")
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(follow_redirects=False)
        self.sleep = sleep
        self.now = now or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.stats = RequestStats()
        self._rate_waited = 0.0

    # the platform's part -----------------------------------------------------------------

    @abstractmethod
    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """Everything (``scopes=None``) or only the comment listings of the given posts."""

    @abstractmethod
    def lookup(self, ref: ItemRef) -> LookupResult:
        """Ask the platform whether one item still exists."""

    def events(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """:meth:`read`, each record naming the recorded exchange its page came from."""
        for event in self.read(scopes):
            yield self.sourced(event) if isinstance(event, Record) else event

    def sourced(self, record: Record) -> Record:
        """``record`` naming the recorded exchange that carried it (when anything is recorded)."""
        if record.source is not None or self.recorder is None:
            return record
        return replace(record, source=self.sources.of(record.external_id))

    def profile(self) -> Profile:
        """The account's public profile (:mod:`archiver.connectors.profiles`): what the page
        says about itself. Each platform's connector reads its own."""
        raise self._fail(ConnectorError, "reading the account's profile is not supported")

    def read_object(
        self,
        request: PageRequest,
        classify: Callable[[httpx.Response, Any], Classification] | None = None,
    ) -> dict[str, Any]:
        """:meth:`fetch` a JSON object (not a listing) and return it without secrets; any
        other answer is a :class:`MalformedResponse`."""
        payload = self.fetch(request, classify).payload
        if not isinstance(payload, dict):
            raise self._fail(MalformedResponse, f"response from {request.path} is not an object")
        clean, _ = self.scrub_json(payload)
        return clean if isinstance(clean, dict) else {}

    def token_status(self) -> TokenStatus | None:
        """What the platform says about the token (validity, expiry); None where it says
        nothing (the next read is the test)."""
        return None

    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the token. Headers, not the URL, so the token is never logged."""
        return {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}

    def usage_wait(self, response: httpx.Response) -> float:
        """Seconds to pause before the next call because the platform says we are near a limit."""
        return 0.0

    # lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this connector made it."""
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # the loop ----------------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """The credentials this connector holds, as they could appear in an answer or message.
        A connector that derives others from the token (an API key, a password) adds them."""
        return (self.config.token,) if self.config.token else ()

    @cached_property
    def scrubber(self) -> SecretScrubber:
        """Takes :meth:`secrets` (in every encoding) and credential parameters out of text."""
        return SecretScrubber(self.secrets())

    def scrub(self, text: str) -> str:
        """Defence in depth: whatever a message says, no secret survives in it."""
        return self.scrubber(text)

    def scrub_json(self, value: Any) -> tuple[Any, int]:
        """A decoded payload or evidence body without secrets, and how many were replaced."""
        return self.scrubber.json(value)

    def scrub_record(self, record: Record) -> Record:
        """``record`` with no secret in its payload or in the fields taken from it;
        ``secrets_scrubbed`` adds up what was replaced. Ids are left alone: they name the item."""
        scrub = self.scrubber.text
        total = 0

        def clean(value: str | None) -> str | None:
            nonlocal total
            if value is None:
                return None
            value, n = scrub(value)
            total += n
            return value

        raw, total = self.scrubber.json(record.raw)
        fields = {"text": clean(record.text), "author_name": clean(record.author_name),
                  "author_id": clean(record.author_id), "url": clean(record.url)}
        media = tuple(MediaRef(url=clean(m.url) or "", media_type=m.media_type)
                      for m in record.media)
        if not total:
            return record
        return replace(record, raw=raw, media=media,
                       secrets_scrubbed=record.secrets_scrubbed + total,
                       text=fields["text"], author_name=fields["author_name"],
                       author_id=fields["author_id"], url=fields["url"])

    def _fail(self, cls: type[ConnectorError], message: str) -> ConnectorError:
        # Scrubbed before it is cut to one line, so a cut cannot leave part of a secret.
        return cls(self.scrub(f"{self.platform}: {one_line(self.scrub(message))}"))

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with equal jitter: half fixed, half random."""
        base = min(self.config.backoff_cap, self.config.backoff_base * (2**attempt))
        return base / 2 + self.rng.uniform(0, base / 2)

    def _rate_wait(self, seconds: float, path: str, why: str) -> None:
        """Sleep out a rate limit, or give up when it would overrun the budget."""
        budget = self.config.rate_limit_budget_s
        if self._rate_waited + seconds > budget:
            raise self._fail(
                RateLimitExhausted,
                f"GET {path}: still rate-limited ({why}) after waiting "
                f"{self._rate_waited:.0f}s of a {budget:.0f}s budget",
            )
        self.stats.rate_limited += 1
        self._tell(path, why, 0, None, seconds)
        self._pause(seconds)
        self._rate_waited += seconds

    def _tell(
        self, path: str, problem: str, attempt: int, attempts: int | None, wait: float
    ) -> None:
        if self.on_retry is not None:
            self.on_retry(
                RetryNotice(self.platform, path, self.scrub(problem), attempt, attempts, wait)
            )

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_seconds += seconds
            self.sleep(seconds)

    def fetch(
        self,
        request: PageRequest,
        classify: Callable[[httpx.Response, Any], Classification] | None = None,
    ) -> Fetched:
        """GET ``request`` with timeouts, retries and rate-limit waits; return decoded JSON.

        Raises :class:`AuthError`, :class:`ObjectNotFound`, :class:`RateLimitExhausted`,
        :class:`TransientError`, :class:`MalformedResponse` or :class:`ConnectorError`.
        A :data:`Verdict.END` answer comes back with ``end=True``.
        """
        classify = classify or (lambda resp, payload: classify_http(resp))
        path = request.path
        attempt = 0
        while True:
            self.stats.requests += 1
            problem: str | None
            try:
                response = self.client.request(
                    request.method,
                    request.url,
                    params=dict(request.params) or None,
                    json=dict(request.body) if request.body is not None else None,
                    headers=self.auth_headers(),
                    timeout=self.config.timeout,
                )
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                # The exception text may hold the URL; the class name is enough.
                problem = f"connection failed ({type(exc).__name__})"
            else:
                problem = None
            if problem is None:
                payload: Any = None
                decoded = True
                try:
                    payload = json.loads(response.content) if response.content else None
                except (ValueError, RecursionError):
                    decoded = False
                self._record(response, payload)
                verdict = classify(response, payload)
                if verdict.verdict is not Verdict.OK:
                    # An error answer becomes a message, cut to length: it is read without
                    # secrets, so a cut cannot leave a piece of one. (Evidence made of the
                    # answer is scrubbed, and counted, where capture stores it.)
                    verdict = classify(response, self.scrub_json(payload)[0])
                if verdict.verdict is Verdict.OK:
                    if not decoded:
                        raise self._fail(
                            MalformedResponse, f"response from {path} is not valid JSON"
                        )
                    self._pause(min(self.usage_wait(response), self._budget_left()))
                    return Fetched(payload, response)
                if verdict.verdict is Verdict.END:
                    return Fetched(None, response, end=True)
                if verdict.verdict is Verdict.RATE_LIMITED:
                    wait = verdict.wait
                    if wait is None:
                        wait = retry_after_seconds(response.headers.get("Retry-After"), self.now())
                    if wait is None or wait <= 0:
                        # "Retry now" forever would spin without ever spending the budget.
                        wait = self._backoff(attempt)
                    log.info("%s: rate-limited on %s; waiting %.1fs", self.platform, path, wait)
                    self._rate_wait(wait, path, verdict.detail or f"HTTP {response.status_code}")
                    attempt += 1
                    continue
                detail = verdict.detail or f"HTTP {response.status_code}"
                if verdict.verdict is Verdict.AUTH:
                    raise self._fail(
                        AuthError, f"{request.method} {path}: access refused: {detail}"
                    )
                if verdict.verdict is Verdict.NOT_FOUND:
                    raise ObjectNotFound(
                        self.scrub(f"{self.platform}: {request.method} {path}: not found: "
                                   f"{one_line(detail)}"),
                        status=response.status_code,
                        body=payload,
                        path=path,
                    )
                if verdict.verdict is Verdict.FATAL:
                    raise self._fail(ConnectorError, f"{request.method} {path}: {detail}")
                problem = detail
            if attempt >= self.config.max_retries:
                raise self._fail(
                    TransientError,
                    f"{request.method} {path}: {problem} after {attempt + 1} attempts",
                )
            self.stats.retries += 1
            delay = self._backoff(attempt)
            log.info("%s: GET %s %s; retry in %.1fs", self.platform, path, problem, delay)
            self._tell(path, problem, attempt + 1, self.config.max_retries + 1, delay)
            self._pause(delay)
            attempt += 1

    def _record(self, response: httpx.Response, payload: Any) -> None:
        """Tell the recorder of an answer (credentials out) and note which objects it carried."""
        if self.recorder is not None:
            self.sources.note(payload, self.recorder(exchange_of(response, self.scrubber)))

    def _budget_left(self) -> float:
        return max(0.0, self.config.rate_limit_budget_s - self._rate_waited)

    def pages(self, stream: Stream) -> Iterator[list[Any]]:
        """Every page of ``stream``'s listing, in order, to the end (never a partial silence)."""
        request: PageRequest | None = stream.first_request()
        seen: set[str] = set()
        while request is not None:
            key = request.key()
            if key in seen:
                raise self._fail(
                    PagingLoop, f"GET {request.path}: next-page pointer leads back to a page read"
                )
            seen.add(key)
            fetched = self.fetch(request, stream.classify)
            if fetched.end:
                return
            items = stream.parse_page(fetched.payload, request)
            yield items
            request = stream.paging.next_request(request, fetched.payload, len(items))
