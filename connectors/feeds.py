"""RSS 2.0 / Atom connector (parsed with feedparser).

Followed:

* RSS 2.0: https://www.rssboard.org/rss-specification (``guid``, ``enclosure``)
* Atom: RFC 4287 (``atom:id``, ``atom:updated``)
* RFC 5005 section 2 (``<fh:complete/>``: the feed document is the complete set of entries)
* RFC 6721 (``<at:deleted-entry ref="…" when="…">`` tombstones)
* feedparser: https://feedparser.readthedocs.io/en/latest/ (``bozo`` for ill-formed feeds) and
  its ETag / Last-Modified page; conditional GET per RFC 9110 section 13.
* Redirects: RFC 9110 section 15.4 (https://www.rfc-editor.org/rfc/rfc9110#section-15.4); up to
  :data:`MAX_REDIRECTS` are followed, as feed readers do, and the address the feed finally came
  from is a note of the run (:attr:`RequestStats.notes`) so it can be registered instead.

Items: every entry is a ``post``; identity is ``guid``/``atom:id``, else the link, else a hash of
title and content (an edit to such an entry can only look like a new entry). A changed title,
content or enclosure is a new version.

A feed is a window, not an inventory: an entry that leaves it has usually just rolled off. So
``ListingComplete(ROOT)`` is emitted only for a feed that declares RFC 5005 ``fh:complete`` (any
other feed read gives ``ListingWindow(ROOT)``: what left it is counted, not looked up), and
"a direct look-up confirms it is gone" means only this: the feed, fetched again, carries an RFC
6721 tombstone whose ``ref`` is the entry's id (the tombstone is the evidence). Anything else is
Unknown.

Incremental capture: conditional GET. The connector sends ``If-None-Match``/``If-Modified-Since``
from :attr:`FeedConnector.validators` (a mapping the caller may keep between runs) and a 304 reads
nothing, changes nothing and completes no listing. An ill-formed or truncated feed (feedparser's
``bozo``) is a :class:`MalformedResponse`: a half-parsed entry must never become a version.

Credentials: feeds are normally public and read anonymously when the account's token variable is
not set; a token, if set, goes as ``Authorization: Bearer``, and only to the feed's own origin
(never to the host a redirect leads to).
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET  # noqa: S405 - our own agency's feed; expat limits entities
from collections.abc import Iterator, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx

from archiver.connectors.base import (
    Classification,
    Connector,
    PageRequest,
    Verdict,
    classify_http,
    strip_secrets,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.profiles import Profile, ProfileField, plain_text
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    ListingComplete,
    ListingWindow,
    LookupResult,
    MediaRef,
    Platform,
    ReadEvent,
    Record,
    Unknown,
)

FH_NS = "http://purl.org/syndication/history/1.0"
AT_NS = "http://purl.org/atompub/tombstones/1.0"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


def classify_feed(response: httpx.Response, payload: Any) -> Classification:
    """A feed is XML, not JSON: a 200, 304 or redirect comes back as a raw answer (``END``)."""
    if response.status_code in (200, 304, *REDIRECTS):
        # END hands the response back untouched; the connector parses the XML itself.
        return Classification(Verdict.END)
    return classify_http(response)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _where(url: str, start: str) -> str:
    """``url`` for a message: its path when on ``start``'s origin, else origin and path; never
    its query (it may hold a credential)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return path if _origin(url) == _origin(start) else f"{parts.scheme}://{parts.netloc}{path}"


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def entry_identity(entry: Any) -> str:
    """guid / atom:id, else the link, else ``sha256:`` of title and content."""
    for key in ("id", "link"):
        value = _s(dict.get(entry, key))
        if value and value.strip():
            return value.strip()
    content = "".join(_s(c.get("value")) or "" for c in dict.get(entry, "content", []) or [])
    summary = _s(dict.get(entry, "summary")) or ""
    basis = f"{_s(dict.get(entry, 'title')) or ''}\n{content or summary}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def entry_record(entry: Any) -> Record:
    """One feedparser entry → a ``post`` record (``raw`` holds only JSON-safe strings)."""
    contents = [c for c in dict.get(entry, "content", []) or [] if isinstance(c, dict)]
    body = "\n".join(_s(c.get("value")) or "" for c in contents)
    body = body or _s(dict.get(entry, "summary")) or ""
    title = _s(dict.get(entry, "title")) or ""
    media: list[MediaRef] = []
    for link in dict.get(entry, "links", []) or []:
        if isinstance(link, dict) and link.get("rel") == "enclosure" and _s(link.get("href")):
            media.append(MediaRef(link["href"], _s(link.get("type"))))
    raw: dict[str, Any] = {
        key: _s(dict.get(entry, key))
        for key in ("id", "title", "link", "published", "updated", "author", "summary")
        if _s(dict.get(entry, key)) is not None
    }
    raw["content"] = [_s(c.get("value")) or "" for c in contents]
    raw["enclosures"] = [m.url for m in media]
    return Record(
        external_id=entry_identity(entry),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=f"{title}\n\n{body}".strip(),
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=_s(dict.get(entry, "author")),
        author_id=None,
        created_at=_time(dict.get(entry, "published_parsed")),
        updated_at=_time(dict.get(entry, "updated_parsed")),
        url=_s(dict.get(entry, "link")),
        raw=raw,
        media=tuple(media),
    )


def _xml_root(body: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(body)  # noqa: S314 - see the import
    except (ET.ParseError, ValueError):
        return None


def is_complete(body: bytes) -> bool:
    """Does the feed carry RFC 5005 ``<fh:complete/>`` (on the feed or its channel)?"""
    root = _xml_root(body)
    if root is None:
        return False
    holders = [root, *root.findall("channel")]
    return any(h.find(f"{{{FH_NS}}}complete") is not None for h in holders)


def tombstones(body: bytes) -> dict[str, dict[str, str]]:
    """RFC 6721 ``at:deleted-entry`` elements: ``{ref: {"ref", "when", "comment"?}}``."""
    root = _xml_root(body)
    out: dict[str, dict[str, str]] = {}
    for el in root.iter(f"{{{AT_NS}}}deleted-entry") if root is not None else ():
        ref = el.get("ref")
        if ref:
            info = {"ref": ref, "when": el.get("when", "")}
            comment = el.find(f"{{{AT_NS}}}comment")
            if comment is not None and comment.text:
                info["comment"] = comment.text
            out[ref] = info
    return out


def parse_feed_body(body: bytes, path: str = "/feed") -> list[Record]:
    """Feed bytes → records; ill-formed or truncated XML is a :class:`MalformedResponse`."""
    try:
        parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    except Exception:  # noqa: BLE001 - a third-party parser on hostile bytes: one clean error
        raise MalformedResponse(f"response from {path}: the feed could not be parsed") from None
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride
    ):
        raise MalformedResponse(f"response from {path}: the feed is not well-formed XML")
    if not parsed.get("version"):
        raise MalformedResponse(f"response from {path}: not an RSS or Atom feed")
    records = [entry_record(e) for e in parsed.entries]
    return list({r.external_id: r for r in records}.values())


class FeedConnector(Connector):
    """Reads one RSS or Atom feed (the account's ``--api-base``, else its external id)."""

    platform: ClassVar[Platform] = Platform.FEED
    default_api_base: ClassVar[str] = ""
    anonymous_read: ClassVar[bool] = True

    def __init__(
        self,
        config: Any,
        *,
        validators: MutableMapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.feed_url = self.api_base or config.account_external_id
        # Where the feed was last read from, after redirects.
        self.final_url = self.feed_url
        self.validators: MutableMapping[str, str] = validators if validators is not None else {}
        self._conditional = True
        self._token_here = True

    def auth_headers(self) -> dict[str, str]:
        """The token (if any, on the feed's own origin) plus the validators of the last 200."""
        headers = super().auth_headers() if self._token_here else {}
        if self._conditional:
            if "etag" in self.validators:
                headers["If-None-Match"] = self.validators["etag"]
            if "last_modified" in self.validators:
                headers["If-Modified-Since"] = self.validators["last_modified"]
        return headers

    def _get(self, *, conditional: bool) -> tuple[int, bytes, httpx.Response]:
        """GET the feed, following up to :data:`MAX_REDIRECTS` redirects."""
        url = self.feed_url
        trail: list[str] = [url]
        statuses: list[str] = []
        while True:
            self._conditional = conditional
            self._token_here = _origin(url) == _origin(self.feed_url)
            try:
                response = self.fetch(PageRequest(url), classify_feed).response
            finally:
                self._conditional = self._token_here = True
            if response.status_code not in REDIRECTS:
                break
            url = self._next_hop(url, response, trail)
            trail.append(url)
            statuses.append(str(response.status_code))
        self.final_url = url
        if statuses:
            note = (f"feed {strip_secrets(self.feed_url)} redirects to {strip_secrets(url)} "
                    f"(HTTP {', '.join(statuses)}): consider registering the final address")
            if note not in self.stats.notes:
                self.stats.notes.append(note)
        return response.status_code, response.content, response

    def _next_hop(self, url: str, response: httpx.Response, trail: list[str]) -> str:
        """Where a redirect leads; a loop, a sixth redirect or a non-HTTP target is an error."""
        start = PageRequest(self.feed_url).path
        location = response.headers.get("Location")
        if not location:
            raise self._fail(ConnectorError, f"GET {start}: HTTP {response.status_code} "
                                             "redirect without a Location")
        target = urljoin(url, location.strip()).split("#", 1)[0]
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise self._fail(ConnectorError, f"GET {start}: redirect to a non-HTTP address")
        if target in trail:
            hops = " -> ".join(_where(u, self.feed_url) for u in [*trail, target])
            raise self._fail(ConnectorError, f"GET {start}: redirect loop ({hops})")
        if len(trail) > MAX_REDIRECTS:
            raise self._fail(ConnectorError,
                             f"GET {start}: too many redirects (more than {MAX_REDIRECTS})")
        return target

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """The feed's entries, then ``ListingComplete("")`` for an RFC 5005 complete feed or
        ``ListingWindow("")`` for any other (nothing after a 304: nothing was read)."""
        if scopes is not None and ROOT_SCOPE not in scopes:
            return
        status, body, response = self._get(conditional=True)
        path = PageRequest(self.final_url).path
        if status == 304:
            self.stats.extra["not_modified"] = self.stats.extra.get("not_modified", 0) + 1
            return
        records = parse_feed_body(body, path)
        yield from records
        # Validators are kept only after the body parsed, so a bad answer is fetched again.
        for header, key in (("ETag", "etag"), ("Last-Modified", "last_modified")):
            value = response.headers.get(header)
            if value:
                self.validators[key] = value
        yield ListingComplete(ROOT_SCOPE) if is_complete(body) else ListingWindow(ROOT_SCOPE)

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Gone only for an RFC 6721 tombstone naming the entry; otherwise Unknown."""
        try:
            status, body, _ = self._get(conditional=False)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot tell"
            return Unknown(self.scrub(str(exc)))
        stone = tombstones(body).get(ref.external_id) if status == 200 else None
        if stone is None:
            return Unknown("an entry missing from a feed is not proof of removal (no tombstone)")
        return Gone(
            evidence={
                "platform": Platform.FEED,
                "feed": PageRequest(self.final_url).path,
                "tombstone": stone,
                "http_status": status,
                "checked_at": self.now().isoformat(),
            }
        )

    # -- the feed's own statements (additive: read by archiver.monitoring) --------------------

    def profile(self) -> Profile:
        """The channel's title and description (RSS 2.0 ``<channel><description>``,
        https://www.rssboard.org/rss-specification#requiredChannelElements; Atom's
        ``<subtitle>`` and ``<rights>``, RFC 4287 4.2.12 and 4.2.10), read by feedparser."""
        status, body, _ = self._get(conditional=False)
        path = PageRequest(self.final_url).path
        if status != 200:
            raise self._fail(ConnectorError, f"GET {path}: HTTP {status}")
        channel = feedparser.parse(body).feed
        found = []
        for key in ("title", "subtitle", "rights"):
            value = channel.get(key)
            if isinstance(value, str) and value.strip():
                found.append(ProfileField(key, plain_text(value)))
        link = channel.get("link")
        return Profile(self.platform, self.config.account_external_id, tuple(found),
                       url=link if isinstance(link, str) else None, requests=(f"GET {path}",),
                       raw={k: channel.get(k) for k in ("title", "subtitle", "rights", "link")})
