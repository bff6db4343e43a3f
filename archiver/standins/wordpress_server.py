"""A loopback server speaking enough of the WordPress REST API to archive a department site.

Shapes follow developer.wordpress.org/rest-api/reference/posts/, .../pages/, .../comments/ and
.../using-the-rest-api/pagination/ (and wordpress-develop's class-wp-rest-comments-controller.php):

* ``GET /wp-json/wp/v2/posts`` and ``/pages`` (``status`` a comma list, ``context=edit`` with
  auth), ``GET /wp-json/wp/v2/comments`` (``post``, one ``status`` per request as before WP 6.9,
  ``context=edit``); ``per_page``/``page`` with ``X-WP-Total``, ``X-WP-TotalPages`` and
  ``Link: <…>; rel="next"``; a post page past the end → 400 ``rest_post_invalid_page_number``,
  a comment page past the end → ``[]``;
* the REST index ``GET /wp-json/`` (the site's name and tagline, the sample department's text;
  .../rest-api/reference/);
* single reads ``/posts/{id}``, ``/pages/{id}``, ``/comments/{id}`` (404 ``rest_*_invalid_id``
  once hard-deleted; 401 for drafts, trash, held or spam comments without auth);
* errors as ``{"code", "message", "data": {"status"}}``.

Credentials: ``Authorization: Basic`` (an application password, ``user:password``) or ``Bearer``
(a JWT/OAuth plugin). :func:`sample_site` and :func:`second_state` give the data.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-wp-jwt-token"  # noqa: S105 - made up, loopback only
DEFAULT_APP_PASSWORD = "archiver:abcd EFGH 1234 ijkl MNOP 5678"  # noqa: S105
POST_STATUSES = ("publish", "future", "draft", "pending", "private", "trash")


@dataclass
class WpFault(Fault):
    """A :class:`Fault` that also names the platform's error ``reason`` (its error code)."""

    reason: str | None = None


COMMENT_STATUSES = {"approve": "approved", "hold": "hold", "spam": "spam", "trash": "trash"}


@dataclass(frozen=True)
class WpPost:
    """A post or a page (``type``)."""

    id: int
    type: str
    title: str
    content: str
    date: str
    modified: str
    status: str = "publish"
    author: int = 1


@dataclass(frozen=True)
class WpComment:
    """A comment; ``status`` is approved|hold|spam|trash."""

    id: int
    post: int
    content: str
    author_name: str
    date: str
    parent: int = 0
    status: str = "approved"


@dataclass(frozen=True)
class Site:
    """A WordPress site's posts, pages and comments."""

    posts: tuple[WpPost, ...]
    comments: tuple[WpComment, ...]


def _d(day: int, minute: int = 0) -> str:
    # Days and minutes roll over, so a benchmark-sized site still has real dates.
    at = datetime(2024, 4, 1, 9, tzinfo=UTC) + timedelta(days=day - 1, minutes=minute)
    return at.strftime("%Y-%m-%dT%H:%M:00")


def sample_site(posts: int = 8, comments_per_post: int = 3) -> Site:
    """Posts 1..n (each with comments and one reply), two pages, a held and a spam comment."""
    items = [
        WpPost(
            n,
            "post",
            f"News {n}",
            f'<p>Department news item {n}.</p><img src="https://pd.example.invalid/wp-content/'
            f'uploads/news{n}.jpg" />'
            if n == 1
            else f"<p>Department news item {n}.</p>",
            _d(n),
            _d(n),
        )
        for n in range(1, posts + 1)
    ]
    items += [
        WpPost(101, "page", "Contact us", "<p>Call 555-0100.</p>", _d(1), _d(1)),
        WpPost(102, "page", "File a report", "<p>Use the form.</p>", _d(2), _d(2)),
    ]
    comments: list[WpComment] = []
    cid = 1000
    for n in range(1, posts + 1):
        first = cid + 1
        for c in range(1, comments_per_post + 1):
            cid += 1
            status = "approved"
            text = f"<p>Comment {c} on news {n}</p>"
            if (n, c) == (2, 2):
                status, text = "hold", "<p>Awaiting moderation: <script>x()</script></p>"
            if (n, c) == (3, 3):
                status, text = "spam", "<p>cheap pills http://spam.invalid</p>"
            comments.append(WpComment(cid, n, text, f"Resident {c}", _d(n, c), 0, status))
        cid += 1
        comments.append(WpComment(cid, n, f"<p>Reply on news {n}</p>", "Officer", _d(n, 9), first))
    return Site(tuple(items), tuple(comments))


EDITED_POST, EDITED_COMMENT, SPAMMED, DELETED_COMMENT, TRASHED_POST = 1, 1002, 1003, 1005, 4


def second_state(site: Site) -> Site:
    """A post and a comment edited, a comment marked spam, one hard-deleted, a post trashed."""
    posts = []
    for p in site.posts:
        if p.id == EDITED_POST:
            p = replace(p, content=p.content + "<p>Update: road reopened.</p>", modified=_d(20))
        if p.id == TRASHED_POST:
            p = replace(p, status="trash", modified=_d(20))
        posts.append(p)
    comments = []
    for c in site.comments:
        if c.id == DELETED_COMMENT:
            continue
        if c.id == EDITED_COMMENT:
            c = replace(c, content="<p>Comment 2 on news 1 (edited)</p>")
        if c.id == SPAMMED:
            c = replace(c, status="spam")
        comments.append(c)
    return Site(tuple(posts), tuple(comments))


class WordPressServer(LoopbackServer):
    """A WordPress REST API look-alike on 127.0.0.1 (api base: ``…/wp-json``)."""

    base_path = "/wp-json"

    def __init__(
        self,
        site: Site | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        app_password: str = DEFAULT_APP_PASSWORD,
    ) -> None:
        super().__init__()
        self.site = site or sample_site()
        self.token = token
        self.app_password = app_password
        # The site's name and tagline (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("wordpress")

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current site from now on."""
        self.site = second_state(self.site)

    def credential(self, request: Request) -> tuple[str | None, str]:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode(), "header"
            except ValueError:
                return "", "header"
        return super().credential(request)

    def wp_error(self, status: int, code: str, **match: Any) -> Fault:
        """Answer ``{"code": code, ...}`` with HTTP ``status``."""
        return self.add_fault(WpFault("wp_error", status=status, reason=code, **match))

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "wp_error" and isinstance(fault, WpFault):
            return self.error(fault.status, fault.reason or "rest_error", "Injected error.")
        if fault.kind == "status":
            return fault.status, {"Content-Type": "text/html"}, b"<h1>Service Unavailable</h1>"
        if fault.kind == "retry_after":
            return 429, {"Retry-After": fault.retry_after or "1"}, b"Too Many Requests"
        return None

    @staticmethod
    def error(status: int, code: str, message: str, **data: Any) -> Answer:
        body = {"code": code, "message": message, "data": {"status": status, **data}}
        return (
            status,
            {"Content-Type": "application/json; charset=UTF-8"},
            json.dumps(body).encode(),
        )

    def index_json(self) -> dict[str, Any]:
        """The REST index, ``GET /wp-json/``: the site's name and tagline (the sample
        department's text), its addresses and namespaces."""
        home = self.base_url.removesuffix(self.base_path)
        return {**self.profile, "url": home, "home": home, "gmt_offset": 0,
                "timezone_string": "UTC", "namespaces": ["wp/v2"], "authentication": {},
                "routes": {}}

    def route(self, request: Request) -> Answer:
        token, how = self.credential(request)
        authed = token in (self.token, self.app_password)
        if how == "header" and not authed:
            return self.error(401, "incorrect_password", "The provided password is incorrect.")
        parts = request.path.removeprefix(self.base_path).strip("/").split("/")
        if parts == [""]:
            return self.ok(self.index_json(), {})
        if parts[:2] != ["wp", "v2"] or len(parts) not in (3, 4):
            return self.error(404, "rest_no_route", "No route was found matching the URL.")
        kind, q = parts[2], request.query
        if q.get("context") == "edit" and not authed:
            return self.error(
                401,
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
            )
        if kind in ("posts", "pages"):
            ptype = kind[:-1]
            if len(parts) == 4:
                return self.single_post(parts[3], ptype, authed)
            wanted = q.get("status", "publish").split(",")
            if any(s not in POST_STATUSES for s in wanted):
                return self.error(400, "rest_invalid_param", "Invalid parameter(s): status")
            if wanted != ["publish"] and not authed:
                return self.error(
                    400,
                    "rest_invalid_param",
                    "Invalid parameter(s): status",
                    params={"status": "Status is forbidden."},
                )
            rows = [
                self.post_json(p, authed)
                for p in sorted(self.site.posts, key=lambda p: p.id)
                if p.type == ptype and p.status in wanted
            ]
            return self.listing(request, rows, "rest_post_invalid_page_number")
        if kind == "comments":
            if len(parts) == 4:
                return self.single_comment(parts[3], authed)
            status = q.get("status", "approve")
            if status not in COMMENT_STATUSES:
                return self.ok([], {"X-WP-Total": "0", "X-WP-TotalPages": "0"})
            if status != "approve" and not authed:
                return self.error(
                    401, "rest_forbidden_param", "Query parameter not permitted: status"
                )
            rows = [
                self.comment_json(c, authed)
                for c in sorted(self.site.comments, key=lambda c: c.id)
                if c.status == COMMENT_STATUSES[status]
                and ("post" not in q or str(c.post) in q["post"].split(","))
            ]
            return self.listing(request, rows, None)
        return self.error(404, "rest_no_route", "No route was found matching the URL.")

    def single_post(self, raw_id: str, ptype: str, authed: bool) -> Answer:
        post = next((p for p in self.site.posts if str(p.id) == raw_id and p.type == ptype), None)
        if post is None:
            return self.error(404, "rest_post_invalid_id", "Invalid post ID.")
        if post.status != "publish" and not authed:
            return self.error(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
        return self.ok(self.post_json(post, authed), {})

    def single_comment(self, raw_id: str, authed: bool) -> Answer:
        comment = next((c for c in self.site.comments if str(c.id) == raw_id), None)
        if comment is None:
            return self.error(404, "rest_comment_invalid_id", "Invalid comment ID.")
        if comment.status != "approved" and not authed:
            return self.error(
                401, "rest_cannot_read", "Sorry, you are not allowed to read this comment."
            )
        return self.ok(self.comment_json(comment, authed), {})

    def listing(self, request: Request, rows: list[dict[str, Any]], past_end: str | None) -> Answer:
        q = request.query
        try:
            per_page = max(1, min(100, int(q.get("per_page", "10"))))
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            return self.error(400, "rest_invalid_param", "Invalid parameter(s): page")
        pages = math.ceil(len(rows) / per_page)
        if page > max(pages, 1) and past_end:
            return self.error(
                400,
                past_end,
                "The page number requested is larger than the number of pages available.",
            )
        headers = {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(pages)}
        if request.loop:
            page = 1  # a page cache that ignores the query string serves page 1 again
        if page < pages:
            nxt = {**q, "page": str(page + 1)}
            headers["Link"] = f'<{self.origin}{request.path}?{urlencode(nxt)}>; rel="next"'
        return self.ok(rows[(page - 1) * per_page : page * per_page], headers)

    @staticmethod
    def ok(payload: Any, headers: dict[str, str]) -> Answer:
        body = json.dumps(payload).encode()
        return 200, {"Content-Type": "application/json; charset=UTF-8", **headers}, body

    def post_json(self, p: WpPost, edit: bool) -> dict[str, Any]:
        link = f"https://pd.example.invalid/?{'page_id' if p.type == 'page' else 'p'}={p.id}"
        out: dict[str, Any] = {
            "id": p.id,
            "date": p.date,
            "date_gmt": p.date,
            "modified": p.modified,
            "modified_gmt": p.modified,
            "slug": p.title.lower().replace(" ", "-"),
            "status": p.status,
            "type": p.type,
            "link": link,
            "title": {"rendered": p.title},
            "content": {"rendered": p.content, "protected": False},
            "author": p.author,
            "featured_media": 0,
        }
        if edit:
            out["title"]["raw"] = p.title
            out["content"]["raw"] = p.content
        return out

    def comment_json(self, c: WpComment, edit: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": c.id,
            "post": c.post,
            "parent": c.parent,
            "author": 0,
            "author_name": c.author_name,
            "author_url": "",
            "date": c.date,
            "date_gmt": c.date,
            "content": {"rendered": c.content},
            "link": f"https://pd.example.invalid/?p={c.post}#comment-{c.id}",
            "status": c.status,
            "type": "comment",
        }
        if edit:
            out["content"]["raw"] = c.content
            out["author_email"] = f"{c.author_name.replace(' ', '').lower()}@example.invalid"
            out["author_ip"] = "192.0.2.1"
        return out
