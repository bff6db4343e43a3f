"""A loopback server publishing a department news feed as RSS 2.0 and Atom.

* ``/feeds/news.rss``: RSS 2.0 (rssboard.org/rss-specification), ``guid`` per item (one item
  has none, to exercise the link fallback), ``enclosure`` for a photo;
* ``/feeds/news.atom``: Atom (RFC 4287) with, when :attr:`FeedServer.complete` is set, RFC 5005
  ``<fh:complete/>``, and RFC 6721 ``<at:deleted-entry ref=… when=…>`` tombstones for entries in
  :attr:`FeedServer.tombstones`;
* the channel's ``<description>`` (RSS) and ``<subtitle>`` (Atom): the sample department's text;
* conditional GET: ``ETag`` and ``Last-Modified`` on every answer; ``If-None-Match`` /
  ``If-Modified-Since`` that still match answer ``304 Not Modified`` (RFC 9110 13.1);
* redirects (RFC 9110 15.4): :meth:`FeedServer.redirect` makes a path answer 301/302/307/308
  with a ``Location`` (relative or absolute), so chains and loops can be built.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile


@dataclass(frozen=True)
class FeedEntry:
    """One news item. Times are aware datetimes."""

    id: str | None
    title: str
    link: str
    content: str
    published: datetime
    updated: datetime
    author: str = "Public Information Office"
    enclosure: str | None = None


def _when(day: int) -> datetime:
    # Day 30 rolls over into March, so a benchmark-sized feed still has real dates.
    return datetime.fromisoformat("2024-02-01T12:00:00+00:00") + timedelta(days=day - 1)


def sample_entries(n: int = 6) -> tuple[FeedEntry, ...]:
    """``n`` news items, newest first; the third has no guid/id."""
    out = []
    for k in range(n, 0, -1):
        out.append(
            FeedEntry(
                id=None if k == 3 else f"tag:pd.example.invalid,2024:news-{k}",
                title=f"News release {k}",
                link=f"https://pd.example.invalid/news/{k}",
                content=f"<p>Release {k}: details &amp; <b>updates</b>.</p>",
                published=_when(k),
                updated=_when(k),
                enclosure="https://pd.example.invalid/img/release1.jpg" if k == 1 else None,
            )
        )
    return tuple(out)


EDITED_ID = "tag:pd.example.invalid,2024:news-5"
DELETED_ID = "tag:pd.example.invalid,2024:news-2"


def second_state(entries: tuple[FeedEntry, ...]) -> tuple[tuple[FeedEntry, ...], dict[str, str]]:
    """(entries with news-5 edited and news-2 deleted, tombstones {ref: when})."""
    out = []
    for e in entries:
        if e.id == DELETED_ID:
            continue
        if e.id == EDITED_ID:
            e = replace(
                e, content=e.content + "<p>Correction: time was 3 pm.</p>", updated=_when(20)
            )
        out.append(e)
    return tuple(out), {DELETED_ID: "2024-02-21T08:00:00Z"}


class FeedServer(LoopbackServer):
    """RSS and Atom on 127.0.0.1 (``rss_url``, ``atom_url``), with conditional GET."""

    def __init__(
        self,
        entries: tuple[FeedEntry, ...] | None = None,
        *,
        complete: bool = False,
    ) -> None:
        super().__init__()
        self.entries = entries if entries is not None else sample_entries()
        self.complete = complete
        self.tombstones: dict[str, str] = {}
        self.not_modified = 0
        self.redirects: dict[str, tuple[int, str]] = {}
        # The channel's description (RSS) and subtitle (Atom): the sample department's text.
        self.profile: dict[str, Any] = sample_profile("feed")

    @property
    def rss_url(self) -> str:
        return f"{self.origin}/feeds/news.rss"

    @property
    def atom_url(self) -> str:
        return f"{self.origin}/feeds/news.atom"

    def redirect(self, path: str, location: str, status: int = 301) -> str:
        """Make ``path`` answer ``status`` with ``Location: location``; returns ``path``'s URL."""
        self.redirects[path] = (status, location)
        return f"{self.origin}{path}"

    def apply_second_state(self) -> None:
        """An entry edited, one deleted with an RFC 6721 tombstone."""
        self.entries, self.tombstones = second_state(self.entries)

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "status":
            return fault.status, {"Content-Type": "text/html"}, b"<h1>Server Error</h1>"
        if fault.kind == "retry_after":
            return 429, {"Retry-After": fault.retry_after or "1"}, b"Too Many Requests"
        return None

    def route(self, request: Request) -> Answer:
        if request.path in self.redirects:
            status, location = self.redirects[request.path]
            return status, {"Location": location, "Content-Type": "text/html"}, b"<p>Moved</p>"
        if request.path == "/feeds/news.rss":
            body, media = self.rss().encode(), "application/rss+xml; charset=utf-8"
        elif request.path == "/feeds/news.atom":
            body, media = self.atom().encode(), "application/atom+xml; charset=utf-8"
        else:
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        stamps = [e.updated for e in self.entries] or [_when(1)]
        modified = format_datetime(max(stamps), usegmt=True)
        headers = {"Content-Type": media, "ETag": etag, "Last-Modified": modified}
        if self._fresh(request.headers, etag, max(stamps)):
            self.not_modified += 1
            return 304, {"ETag": etag, "Last-Modified": modified}, b""
        return 200, headers, body

    @staticmethod
    def _fresh(headers: dict[str, str], etag: str, modified: datetime) -> bool:
        if "if-none-match" in headers:  # RFC 9110 13.2.2: If-None-Match wins
            return etag in [t.strip() for t in headers["if-none-match"].split(",")]
        since = headers.get("if-modified-since")
        if since:
            try:
                return modified <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def rss(self) -> str:
        items = []
        for e in self.entries:
            guid = f'<guid isPermaLink="false">{escape(e.id)}</guid>' if e.id else ""
            enc = (
                f'<enclosure url={quoteattr(e.enclosure)} length="1000" type="image/jpeg"/>'
                if e.enclosure
                else ""
            )
            items.append(
                f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>{guid}"
                f"<description>{escape(e.content)}</description>"
                f"<author>pio@pd.example.invalid ({escape(e.author)})</author>"
                f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>{enc}</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>Springfield PD news</title><link>https://pd.example.invalid/</link>"
            f"<description>{escape(self.profile['description'])}</description>"
            + "".join(items) + "</channel></rss>"
        )

    def atom(self) -> str:
        parts: list[Any] = []
        for e in self.entries:
            ident = e.id or e.link
            enc = (
                f'<link rel="enclosure" type="image/jpeg" href={quoteattr(e.enclosure)}/>'
                if e.enclosure
                else ""
            )
            parts.append(
                f"<entry><id>{escape(ident)}</id><title>{escape(e.title)}</title>"
                f'<link rel="alternate" href={quoteattr(e.link)}/>{enc}'
                f"<published>{e.published.isoformat()}</published>"
                f"<updated>{e.updated.isoformat()}</updated>"
                f"<author><name>{escape(e.author)}</name></author>"
                f'<content type="html">{escape(e.content)}</content></entry>'
            )
        for ref, when in self.tombstones.items():
            parts.append(
                f"<at:deleted-entry ref={quoteattr(ref)} when={quoteattr(when)}>"
                "<at:comment>Release withdrawn.</at:comment></at:deleted-entry>"
            )
        complete = "<fh:complete/>" if self.complete else ""
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:fh="http://purl.org/syndication/history/1.0" '
            'xmlns:at="http://purl.org/atompub/tombstones/1.0">'
            "<id>tag:pd.example.invalid,2024:news</id><title>Springfield PD news</title>"
            f"<subtitle>{escape(self.profile['description'])}</subtitle>"
            "<updated>2024-02-21T08:00:00Z</updated>" + complete + "".join(parts) + "</feed>"
        )
