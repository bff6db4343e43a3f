"""HTML renderings of threads and the package's table of contents (Jinja2, autoescaped).

Visitor text is hostile: autoescape is always on, templates never mark visitor text safe, and
links are only emitted for http(s) URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup, escape

from archiver.dates import show_moment
from archiver.exports.reading import (
    FILE_HASH,
    PROOF_HASH,
    VERSION_HASH,
    PackageHeader,
    removal_proof,
    thread_title,
)
from archiver.exports.selection import StoredMedia, ThreadView

TEMPLATES = "templates"
# (item id, media file) -> the file's link from the thread page; built from the hash only.
MediaHref = Callable[[int, StoredMedia], str]


def _load(name: str) -> str:
    return resources.files("archiver.exports").joinpath(TEMPLATES, name).read_text("utf-8")


def _safe_url(url: str | None) -> Markup | str:
    """Only http(s) URLs become links; anything else (javascript:, data:) becomes '#'."""
    if url and url.lower().startswith(("http://", "https://")):
        return escape(url)
    return "#"


@dataclass
class HtmlRenderer:
    """Renders threads and the index with one Jinja2 environment (templates compiled once);
    times are shown in ``tz``, the agency's zone."""

    env: Environment

    @classmethod
    def create(cls, tz: ZoneInfo) -> HtmlRenderer:
        env = Environment(loader=FunctionLoader(_load), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

        def when(moment: datetime | None) -> str:
            return show_moment(moment, tz)

        env.filters["when"] = when
        env.filters["safe_url"] = _safe_url
        env.globals["proof"] = lambda version: removal_proof(version, tz)
        env.globals.update(VERSION_HASH=VERSION_HASH, FILE_HASH=FILE_HASH,
                           PROOF_HASH=PROOF_HASH)
        return cls(env=env)

    def thread(self, thread: ThreadView, *, header: PackageHeader,
               media_href: MediaHref) -> str:
        """The whole thread under the package's header: every item, every version, flags,
        capture facts and proofs of removal, and the media files each version showed
        (``media_href`` gives a file's link relative to the page)."""
        return self.env.get_template("thread.html").render(
            thread=thread, title=thread_title(thread), header=header, media_href=media_href,
        )

    def write_index(self, out: TextIO, *, header: PackageHeader,
                    threads: Iterable[dict[str, Any]], rows: Iterable[dict[str, Any]],
                    item_count: int, thread_count: int) -> None:
        """Write the table of contents to ``out``: the header, each thread by its title, then
        every item; ``rows`` may be a generator (streamed)."""
        for chunk in self.env.get_template("index.html").generate(
                header=header, threads=threads, rows=rows, item_count=item_count,
                thread_count=thread_count):
            out.write(chunk)
