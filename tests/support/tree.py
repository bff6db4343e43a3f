"""A loopback server for a generated posts -> comments -> replies tree, and a connector for it
written the way the platform connectors are: declared streams walked by the shared loop.

The server pages every listing (``?page=N``, ``next`` in the body) and can make any listing
answer 404 (its object vanished) or 500 from a given page on, so a property test can check what
the walker concludes from partial reads. Comments carry their first replies inline and say when
there are more (Instagram's and YouTube's shape). Comments are listed per post, or, for the
fan-in variant, once for a set of posts (WordPress's shape).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from archiver.connectors.base import Classification, CursorPaging, PageRequest, classify_http
from archiver.connectors.records import ROOT_SCOPE, ItemRef, LookupResult, Record, Unknown
from archiver.connectors.streams import (
    Context,
    Entry,
    EntryRestStream,
    RecordChildStream,
    TreeConnector,
    TreeStream,
)
from archiver.standins.loopback import Answer, LoopbackServer, Request

COMMENTS_OF_ALL = "comments"  # the fault key of the one fan-in comments listing


@dataclass(frozen=True)
class Comment:
    """A comment, its replies, and how many of them it carries inline."""

    id: str
    replies: tuple[str, ...]
    inline: int

    @property
    def truncated(self) -> bool:
        """Are there replies beyond the inline ones?"""
        return len(self.replies) > self.inline


@dataclass(frozen=True)
class Post:
    """A post and its comments."""

    id: str
    comments: tuple[Comment, ...]


@dataclass(frozen=True)
class Fault:
    """Listing ``key`` (``ROOT_SCOPE``, a post id, a comment id or :data:`COMMENTS_OF_ALL`)
    answers ``status`` from page ``page`` on."""

    key: str
    page: int
    status: int  # 404: the object vanished; 500: the platform fails


class TreeServer(LoopbackServer):
    """Serves ``posts`` in pages of ``page_size``; ``fired`` names the listings whose fault
    was answered. :meth:`load` serves another tree from the same server."""

    def __init__(self) -> None:
        super().__init__()
        self.load((), 1, ())

    def load(self, posts: Sequence[Post], page_size: int, faults: Sequence[Fault]) -> None:
        """Serve this tree from now on, with these faults (none fired yet)."""
        self.posts = tuple(posts)
        self.page_size = page_size
        self.faults = {f.key: f for f in faults}
        self.fired: set[str] = set()

    def route(self, request: Request) -> Answer:
        parts = request.path.strip("/").split("/")
        page = int(request.query.get("page", "0"))
        if parts == ["posts"]:
            key, rows = ROOT_SCOPE, [{"id": p.id} for p in self.posts]
        elif parts == ["comments"]:
            wanted = set(request.query.get("posts", "").split(","))
            key = COMMENTS_OF_ALL
            rows = [self._comment(c, p.id) for p in self.posts if p.id in wanted
                    for c in p.comments]
        elif len(parts) == 3 and parts[0] == "posts" and parts[2] == "comments":
            key = parts[1]
            post = next((p for p in self.posts if p.id == key), None)
            if post is None:
                return 404, {}, b'{"error": "no such post"}'
            rows = [self._comment(c, post.id) for c in post.comments]
        elif len(parts) == 3 and parts[0] == "comments" and parts[2] == "replies":
            key = parts[1]
            comment = next((c for p in self.posts for c in p.comments if c.id == key), None)
            if comment is None:
                return 404, {}, b'{"error": "no such comment"}'
            rows = [{"id": r} for r in comment.replies]
        else:
            return 404, {}, b'{"error": "no route"}'
        fault = self.faults.get(key)
        if fault is not None and page >= fault.page:
            self.fired.add(key)
            return fault.status, {}, b'{"error": "injected"}'
        chunk = rows[page * self.page_size:(page + 1) * self.page_size]
        body: dict[str, Any] = {"data": chunk}
        if (page + 1) * self.page_size < len(rows):
            body["next"] = str(page + 1)
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _comment(self, comment: Comment, post_id: str) -> dict[str, Any]:
        return {"id": comment.id, "post": post_id, "more": comment.truncated,
                "replies": list(comment.replies[:comment.inline])}


def _record(item_id: str, kind: str, scope: str, parent: str | None) -> Record:
    return Record(external_id=item_id, kind=kind, scope=scope, text=None, status="active",
                  platform_status="published", author_name=None, author_id=None,
                  created_at=None, updated_at=None, url=None, raw={"id": item_id},
                  parent_external_id=parent)


class _TreeStream(TreeStream["TreeConnector"]):
    paging = CursorPaging(("next",), "page")
    path: ClassVar[str]

    def first_request(self) -> PageRequest:
        return PageRequest(self.connector.api_base + self.path.format(**self.context),
                           self.params())

    def params(self) -> dict[str, str]:
        return {}

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_http(response)


class PostsStream(_TreeStream):
    path = "/posts"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [_record(row["id"], "post", ROOT_SCOPE, None) for row in payload["data"]]


def _comment_entries(payload: Any) -> list[Any]:
    return [Entry(_record(row["id"], "comment", row["post"], row["post"]),
                  tuple(_record(r, "reply", row["post"], row["id"]) for r in row["replies"]),
                  truncated=row["more"]) for row in payload["data"]]


class CommentsStream(_TreeStream, RecordChildStream["TreeConnector"]):
    """One post's comments: the post's scope."""

    path = "/posts/{parent_id}/comments"
    parent_stream_type = PostsStream
    gone_counter = "listings_gone"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return _comment_entries(payload)


class AllCommentsStream(_TreeStream):
    """The comments of many posts in one listing: every one of those posts' scopes."""

    path = "/comments"
    parent_stream_type = PostsStream
    fan_in = True
    gone_counter = "listings_gone"

    @classmethod
    def fan_in_context(cls, entries: Sequence[Any]) -> Context | None:
        return {"posts": tuple(e.external_id for e in entries)}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        return [{"posts": tuple(scopes)}]

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.context["posts"])

    def params(self) -> dict[str, str]:
        return {"posts": ",".join(self.context["posts"])}

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return _comment_entries(payload)


class _Replies(_TreeStream, EntryRestStream["TreeConnector"]):
    """The replies of a comment whose inline ones are not all: part of the post's listing."""

    path = "/comments/{entry_id}/replies"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [_record(row["id"], "reply", self.scope, self.entry_id) for row in payload["data"]]


class RepliesStream(_Replies):
    parent_stream_type = CommentsStream


class FanInRepliesStream(_Replies):
    parent_stream_type = AllCommentsStream


class TreeConnectorBase(TreeConnector):
    """Reads the tree server's posts, comments and replies."""

    platform: ClassVar[str] = "tree"
    default_api_base: ClassVar[str] = "http://127.0.0.1:9"

    def lookup(self, ref: ItemRef) -> LookupResult:
        return Unknown("the tree server answers no look-ups")


class PerPostConnector(TreeConnectorBase):
    """Comments read once per post."""

    streams = (PostsStream, CommentsStream, RepliesStream)


class FanInConnector(TreeConnectorBase):
    """Comments read once for all posts."""

    streams = (PostsStream, AllCommentsStream, FanInRepliesStream)
