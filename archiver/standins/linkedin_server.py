"""A loopback server speaking enough of LinkedIn's versioned ``/rest`` API to archive an
organization page's posts and comments.

Shapes followed (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/
posts-api and .../comments-api; .../shared/api-guide/concepts/rate-limits):

* ``GET /rest/posts?q=author&author=urn:li:organization:{id}&start=&count=`` (a finder: it
  wants ``X-RestLi-Method: FINDER``), most recently modified first, with
  ``paging {start, count, total}``; ``GET /rest/posts/{urn}``;
* ``GET /rest/socialActions/{post or comment urn}/comments?start=&count=`` (a comment's
  ``commentsSummary.totalFirstLevelComments`` counts its replies);
  ``GET /rest/socialActions/{post urn}/comments/{comment id}``;
* ``GET /rest/organizations/{id}``: the page's name, description and website;
* every call wants ``LinkedIn-Version`` and a Bearer token; errors are
  ``{"status", "serviceErrorCode", "code", "message"}``; 429 is the daily limit
  (:meth:`LinkedInServer.daily_limit`), or a short throttle with ``Retry-After``.

:func:`sample_organization` is generated, with hostile comment text; :func:`second_state`
edits a post and a comment, deletes a comment and adds one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-linkedin-oauth-token"  # noqa: S105 - made up, loopback only
ORG_ID = "2414183"
ORG_URN = f"urn:li:organization:{ORG_ID}"
START_MS = 1714557600000  # 2024-05-01T10:00:00Z
DAY_MS = 86_400_000
HOSTILE = ('<img src=x onerror=alert("li")> =cmd|" /C calc"!A0 ../../../secrets '
           "\u202eevil\u202c")


@dataclass(frozen=True)
class LiPost:
    """One post of the organization."""

    urn: str
    commentary: str
    created: int
    modified: int


@dataclass(frozen=True)
class LiComment:
    """A comment on a post (``parent`` None) or a reply to a comment."""

    id: str
    post: str
    text: str
    actor: str
    created: int
    modified: int
    parent: str | None = None

    @property
    def urn(self) -> str:
        """The comment's URN."""
        return f"urn:li:comment:({self.post},{self.id})"


@dataclass(frozen=True)
class LiOrganization:
    """An organization page: posts and comments."""

    posts: tuple[LiPost, ...]
    comments: tuple[LiComment, ...]


def sample_organization(posts: int = 6, comments_per_post: int = 4) -> LiOrganization:
    """Springfield PD's recruiting page: comments on each post, two replies on each first
    comment, one hostile comment."""
    made = tuple(LiPost(f"urn:li:share:7{n:018d}", f"Springfield PD is hiring: opening #{n}",
                        START_MS + n * DAY_MS, START_MS + n * DAY_MS) for n in range(1, posts + 1))
    comments: list[LiComment] = []
    for p_no, post in enumerate(made, start=1):
        for c in range(1, comments_per_post + 1):
            cid = f"7{p_no:09d}{c:09d}"
            body = HOSTILE if (p_no, c) == (2, 2) else f"Comment {c} on opening {p_no}"
            at = post.created + c * 60_000
            comments.append(LiComment(cid, post.urn, body, f"urn:li:person:member{c}", at, at))
            if c == 1:
                parent = f"urn:li:comment:({post.urn},{cid})"
                comments += [LiComment(f"{cid}{r}", post.urn, f"Reply {r} to comment {cid}",
                                       f"urn:li:person:neighbour{r}", at + r, at + r, parent)
                             for r in (1, 2)]
    return LiOrganization(made, tuple(comments))


EDITED_POST = "urn:li:share:7000000000000000001"
EDITED_COMMENT = f"urn:li:comment:({EDITED_POST},7000000001000000002)"
DELETED = f"urn:li:comment:({EDITED_POST},7000000001000000004)"
ADDED = "urn:li:comment:(urn:li:share:7000000000000000003,7000000003000000009)"


def second_state(org: LiOrganization) -> LiOrganization:
    """A post edited, a comment edited, a comment deleted, a comment added."""
    later = START_MS + 30 * DAY_MS
    posts = tuple(replace(p, commentary=p.commentary + " (deadline extended)", modified=later)
                  if p.urn == EDITED_POST else p for p in org.posts)
    comments = [replace(c, text=c.text + " (edited)", modified=later)
                if c.urn == EDITED_COMMENT else c for c in org.comments if c.urn != DELETED]
    comments.append(LiComment("7000000003000000009", "urn:li:share:7000000000000000003",
                              "Is the written test in person?", "urn:li:person:member9",
                              later, later))
    return LiOrganization(posts, tuple(comments))


class LinkedInServer(LoopbackServer):
    """A LinkedIn ``/rest`` look-alike on 127.0.0.1."""

    base_path = "/rest"

    def __init__(self, org: LiOrganization | None = None, *, page_size: int = 5,
                 token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.org = org or sample_organization()
        self.page_size = page_size
        self.token = token
        self.versions: set[str] = set()
        # The page's name, description and website (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("linkedin")

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current organization from now on."""
        self.org = second_state(self.org)

    # --- faults ------------------------------------------------------------------------------

    def daily_limit(self, **match: Any) -> Fault:
        """429 without ``Retry-After``: the application's daily limit is spent."""
        return self.add_fault(Fault("daily_limit", status=429, **match))

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "daily_limit":
            return self.error(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION "
                              "DAY limit for calls to this resource is reached.")
        if fault.kind == "status":
            return self.error(fault.status, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        if fault.kind == "retry_after":
            status, hdrs, body = self.error(429, "TOO_MANY_REQUESTS", "Too many requests")
            hdrs["Retry-After"] = fault.retry_after or "1"
            return status, hdrs, body
        return None

    # --- answering -----------------------------------------------------------------------------

    @staticmethod
    def error(status: int, code: str, message: str) -> Answer:
        """LinkedIn's error shape."""
        body = {"status": status, "serviceErrorCode": 100 if status == 403 else 0,
                "code": code, "message": message}
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    @staticmethod
    def ok(payload: Any) -> Answer:
        return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    def route(self, request: Request) -> Answer:
        token, _ = self.credential(request)
        if token != self.token:
            return self.error(401, "INVALID_ACCESS_TOKEN", "Invalid access token")
        version = request.headers.get("linkedin-version", "")
        if not version:
            return self.error(400, "VERSION_MISSING", "A version must be present. Please "
                              "specify a version by adding the LinkedIn-Version header.")
        self.versions.add(version)
        parts = [unquote(p) for p in request.path.removeprefix(self.base_path).split("/") if p]
        if parts == ["organizations", ORG_ID]:
            return self.ok({"id": int(ORG_ID), **self.profile})
        if parts == ["posts"]:
            return self.posts(request)
        if len(parts) == 2 and parts[0] == "posts":
            found = [p for p in self.org.posts if p.urn == parts[1]]
            return self.ok(self.post_json(found[0])) if found else self.error(
                404, "NOT_FOUND", f"Not Found: {parts[1]}")
        if len(parts) in (3, 4) and parts[0] == "socialActions" and parts[2] == "comments":
            return self.comments(request, parts[1], parts[3] if len(parts) == 4 else None)
        return self.error(404, "NOT_FOUND", "No such resource")

    def posts(self, request: Request) -> Answer:
        q = request.query
        if q.get("q") != "author" or request.headers.get("x-restli-method") != "FINDER":
            return self.error(400, "ILLEGAL_ARGUMENT", "Finder 'author' needs q=author and "
                              "X-RestLi-Method: FINDER")
        if q.get("author") != ORG_URN:
            return self.error(403, "ACCESS_DENIED", "Not enough permissions to access: "
                              "partnerApiPostsExternal.FINDER-author")
        posts = sorted(self.org.posts, key=lambda p: p.modified, reverse=True)
        return self.page(request, [self.post_json(p) for p in posts])

    def comments(self, request: Request, target: str, comment_id: str | None) -> Answer:
        if comment_id is not None:
            found = [c for c in self.org.comments if c.post == target and c.id == comment_id]
            if not found:
                return self.error(404, "NOT_FOUND", "Comment not found")
            count = sum(1 for r in self.org.comments if r.parent == found[0].urn)
            return self.ok(self.comment_json(found[0], count))
        on_post = any(p.urn == target for p in self.org.posts)
        on_comment = any(c.urn == target for c in self.org.comments)
        if not (on_post or on_comment):
            return self.error(404, "NOT_FOUND", "Not Found")
        listed = [c for c in self.org.comments
                  if (c.parent == target if on_comment else c.post == target and not c.parent)]
        listed.sort(key=lambda c: c.created)
        replies = Counter(c.parent for c in self.org.comments if c.parent)
        return self.page(request, [self.comment_json(c, replies[c.urn]) for c in listed])

    def post_json(self, p: LiPost) -> dict[str, Any]:
        """A Posts API post."""
        return {"id": p.urn, "author": ORG_URN, "commentary": p.commentary,
                "visibility": "PUBLIC", "lifecycleState": "PUBLISHED",
                "createdAt": p.created, "publishedAt": p.created, "lastModifiedAt": p.modified,
                "distribution": {"feedDistribution": "MAIN_FEED"},
                "content": {"media": {"id": f"urn:li:image:C4D{p.urn[-6:]}", "title": "poster"}},
                "isReshareDisabledByAuthor": False}

    @staticmethod
    def comment_json(c: LiComment, replies: int) -> dict[str, Any]:
        """A comments API comment with ``replies`` replies."""
        out: dict[str, Any] = {
            "id": c.id, "commentUrn": c.urn, "object": c.post, "actor": c.actor,
            "message": {"text": c.text, "attributes": []},
            "created": {"actor": c.actor, "time": c.created},
            "lastModified": {"actor": c.actor, "time": c.modified},
            "commentsSummary": {"totalFirstLevelComments": replies,
                                "aggregatedTotalComments": replies}}
        if c.parent:
            out["parentComment"] = c.parent
        return out

    def page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        """``elements`` from ``start``, at most ``count`` (and the server's page size)."""
        try:
            start = int(request.query.get("start", "0"))
            size = max(1, min(int(request.query.get("count", "10")), 100, self.page_size))
        except ValueError:
            return self.error(400, "ILLEGAL_ARGUMENT", "start and count must be numbers")
        if request.loop:
            start = 0
        return self.ok({"elements": items[start:start + size],
                        "paging": {"start": start, "count": size, "total": len(items),
                                   "links": []}})
