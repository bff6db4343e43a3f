"""A loopback server speaking enough of Nextdoor's partner API to archive an agency's posts.

Shapes followed (developer.nextdoor.com/reference/get-your-posts and
.../reference/displaying-data-types):

* ``GET /external/api/partner/v1/post/?enable_pagination=true&after=<cursor>``: the token's
  user's latest posts (only the :attr:`NextdoorServer.window` newest), newest first, each with
  ``id, subject, body, author, creation_date, url, media_attachments`` and its comments embedded
  (``id, body, author_name, author_id, creation_date, like_count, parent_comment_id`` and
  nested ``comments``); ``cursor`` and ``has_next_page`` page through them;
* a Bearer token; errors ``{"error": {"code", "message"}}`` with 400, 401, 403 or 5xx. There is
  no read by id.

:func:`sample_agency` is generated, with hostile comment text; :func:`second_state` edits a
comment, deletes one, adds a reply and a new post that pushes the oldest out of the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from archiver.standins.graph_render import decode_cursor, encode_cursor
from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request

DEFAULT_TOKEN = "sample-nextdoor-oauth-token"  # noqa: S105 - made up, loopback only
AGENCY_ID = "100045"
START = 1714557600  # 2024-05-01T10:00:00Z
HOSTILE = ("<a href=javascript:alert('nd')>tip line</a> @SUM(1+1)*cmd|' /C calc'!A0 "
           "C:\\Windows\\system32 \u202eevil\u202c")


@dataclass(frozen=True)
class NdComment:
    """A comment on post ``post_id`` (``parent_id`` None) or on another comment."""

    id: str
    post_id: str
    body: str
    author: str
    created: int
    parent_id: str | None = None


@dataclass(frozen=True)
class NdPost:
    """An agency post."""

    id: str
    subject: str
    body: str
    created: int


@dataclass(frozen=True)
class NdAgency:
    """An agency's posts and their comments."""

    posts: tuple[NdPost, ...]
    comments: tuple[NdComment, ...]


def sample_agency(posts: int = 6, comments_per_post: int = 4) -> NdAgency:
    """Springfield PD's alerts: comments on each, two replies on each first comment, one
    hostile comment."""
    made = tuple(NdPost(f"3{n:011d}", f"Springfield PD alert #{n}",
                        f"Neighbourhood safety alert number {n}.", START + n * 86400)
                 for n in range(1, posts + 1))
    comments: list[NdComment] = []
    for p_no, post in enumerate(made, start=1):
        for c in range(1, comments_per_post + 1):
            cid = f"5{p_no:06d}{c:05d}"
            body = HOSTILE if (p_no, c) == (2, 2) else f"Comment {c} on alert {p_no}"
            comments.append(NdComment(cid, post.id, body, f"Resident {c}", post.created + c * 60))
            if c == 1:
                comments += [NdComment(f"{cid}{r}", post.id, f"Reply {r} to {cid}",
                                       f"Neighbour {r}", post.created + 600 + r, cid)
                             for r in (1, 2)]
    return NdAgency(made, tuple(comments))


EDITED = "500000200001"
DELETED = "500000200004"
ADDED = "5000006000019"
NEW_POST = "300000000099"
OLDEST = "300000000001"


def second_state(agency: NdAgency) -> NdAgency:
    """A comment edited, one deleted, a reply added, and a new post."""
    comments = [replace(c, body=c.body + " (edited)") if c.id == EDITED else c
                for c in agency.comments if c.id != DELETED]
    comments.append(NdComment(ADDED, "300000000006", "Which streets?", "Resident 9",
                              START + 30 * 86400, "500000600001"))
    posts = (*agency.posts, NdPost(NEW_POST, "Springfield PD alert: road closure",
                                   "Main St closed tonight.", START + 31 * 86400))
    return NdAgency(posts, tuple(comments))


# (post id, parent comment id or None) -> the comments there, oldest first.
Children = dict[tuple[str, str | None], list[NdComment]]


class NextdoorServer(LoopbackServer):
    """A Nextdoor partner API look-alike on 127.0.0.1."""

    base_path = "/external/api/partner/v1"

    def __init__(self, agency: NdAgency | None = None, *, page_size: int = 5, window: int = 6,
                 token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.agency = agency or sample_agency()
        self.page_size = page_size
        self.window = window
        self.token = token

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current agency from now on."""
        self.agency = second_state(self.agency)

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "status":
            return self.error(fault.status, "server_error", "please retry")
        if fault.kind == "retry_after":
            status, hdrs, body = self.error(429, "too_many_requests", "slow down")
            hdrs["Retry-After"] = fault.retry_after or "1"
            return status, hdrs, body
        return None

    @staticmethod
    def error(status: int, code: str, message: str) -> Answer:
        """An error answer."""
        body = {"error": {"code": code, "message": message}}
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def route(self, request: Request) -> Answer:
        token, _ = self.credential(request)
        if token != self.token:
            return self.error(401, "unauthorized", "invalid or expired access token")
        if request.path.removeprefix(self.base_path).strip("/") != "post":
            return self.error(404, "not_found", "no such endpoint")
        posts = sorted(self.agency.posts, key=lambda p: p.created, reverse=True)[: self.window]
        try:
            offset = decode_cursor(request.query["after"])[0] if "after" in request.query else 0
        except (ValueError, KeyError):
            return self.error(400, "bad_request", "after: invalid cursor")
        end = min(len(posts), offset + self.page_size)
        children: Children = {}
        for c in sorted(self.agency.comments, key=lambda c: c.created):
            children.setdefault((c.post_id, c.parent_id), []).append(c)
        body: dict[str, Any] = {"data": [self.post_json(p, children)
                                         for p in posts[offset:end]]}
        if request.query.get("enable_pagination") == "true":
            more = end < len(posts) or request.loop
            body["has_next_page"] = more
            body["cursor"] = encode_cursor(offset if request.loop else end, 0) if more else None
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    @classmethod
    def post_json(cls, p: NdPost, children: Children) -> dict[str, Any]:
        """A post with its comments embedded."""
        return {"id": p.id, "subject": p.subject, "body": p.body, "creation_date": p.created,
                "url": f"https://nextdoor.com/p/{p.id}/",
                "author": {"name": "Springfield Police Department", "type": "agency",
                           "agency_info": {"id": AGENCY_ID}},
                "media_attachments": [f"https://us1-photo.nextdoor.example.invalid/{p.id}.jpg"],
                "comments": cls.comments_json(children, p.id, None)}

    @classmethod
    def comments_json(cls, children: Children, post_id: str,
                      parent: str | None) -> list[dict[str, Any]]:
        """The comments under ``parent`` (None: the post), each with its own nested."""
        listed = children.get((post_id, parent), [])
        return [{"id": c.id, "body": c.body, "author_name": c.author,
                 "author_id": f"user-{c.author.split()[-1]}", "creation_date": c.created,
                 "like_count": 0, "parent_comment_id": c.parent_id,
                 "comments": cls.comments_json(children, post_id, c.id)} for c in listed]
