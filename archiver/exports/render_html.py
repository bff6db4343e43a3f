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

from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup, escape

from archiver.exports.selection import StoredMedia, ThreadView

TEMPLATES = "templates"
# (item id, media file) -> the file's link from the thread page; built from the hash only.
MediaHref = Callable[[int, StoredMedia], str]


def _load(name: str) -> str:
    return resources.files("archiver.exports").joinpath(TEMPLATES, name).read_text("utf-8")


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "(unknown)"


def _safe_url(url: str | None) -> Markup | str:
    """Only http(s) URLs become links; anything else (javascript:, data:) becomes '#'."""
    if url and url.lower().startswith(("http://", "https://")):
        return escape(url)
    return "#"


@dataclass
class HtmlRenderer:
    """Renders threads and the index with one Jinja2 environment (templates compiled once)."""

    env: Environment

    @classmethod
    def create(cls) -> HtmlRenderer:
        env = Environment(loader=FunctionLoader(_load), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["when"] = _when
        env.filters["safe_url"] = _safe_url
        return cls(env=env)

    def thread(self, thread: ThreadView, *, heading: str, exported_at: datetime,
               redacted: bool, media_href: MediaHref) -> str:
        """The whole thread: every item, every version, flags and capture facts, and the media
        files each version showed (``media_href`` gives a file's link relative to the page)."""
        return self.env.get_template("thread.html").render(
            thread=thread, heading=heading, exported_at=_when(exported_at), redacted=redacted,
            media_href=media_href,
        )

    def write_index(self, out: TextIO, *, title: str, rows: Iterable[dict[str, Any]],
                    exported_at: datetime, actor: str, item_count: int,
                    thread_count: int) -> None:
        """Write the table of contents to ``out``; ``rows`` may be a generator (streamed)."""
        for chunk in self.env.get_template("index.html").generate(
                title=title, rows=rows, exported_at=_when(exported_at), actor=actor,
                item_count=item_count, thread_count=thread_count):
            out.write(chunk)
