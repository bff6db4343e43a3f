"""A loopback HTTP server that speaks enough of the Facebook Graph API to archive a Page.

It serves a :class:`~archiver.standins.dataset.PageDataset` the way the Graph API documents it
(developers.facebook.com/docs/graph-api/results, .../reference/page/feed,
.../reference/object/comments, .../guides/error-handling, .../overview/rate-limiting):

* ``GET /vNN.0/{page-id}/feed`` (also ``/posts``, ``/published_posts``), newest first;
* ``GET /vNN.0/{object-id}/comments`` with ``filter=stream|toplevel`` and
  ``order=chronological|reverse_chronological``;
* ``GET /vNN.0/{id}`` object reads; ``fields`` (with nested ``a{b,c}``) and ``limit`` honoured;
  the Page's own public fields (about, description, website, phone, emails, link: the sample
  department's text, :mod:`archiver.standins.profiles`);
* ``GET /vNN.0/{page-id}/stories`` (developers.facebook.com/docs/page-stories-api): ``post_id,
  status`` (``PUBLISHED``, ``ARCHIVED``), ``creation_time``, ``media_type``, ``media_id``, ``url``,
  newest first; a story leaves it after 24 hours unless the story archive is on; each story's
  photo (``images``) or video (``source``) reads as an object; :attr:`GraphServer.stories_refused`
  answers Graph error 10 (no permission) instead;
* ``GET /vNN.0/{page-id}/conversations?platform=messenger`` and ``/{conversation-id}/messages``
  (the 20 latest; :mod:`archiver.standins.conversations`), Graph error 10 when
  :attr:`GraphServer.inbox` is ``refused``;
* ``GET /vNN.0/debug_token?input_token=...`` (developers.facebook.com/docs/graph-api/reference/
  debug_token): validity, ``expires_at`` (:attr:`GraphServer.token_expires_at`) and scopes;
* cursor paging with ``paging.cursors`` and a full ``paging.next`` URL that, like the real API,
  carries ``access_token``; with ``nested_paging`` a post's ``attachments`` edge has one too, as
  Graph gives a nested edge that holds more than it shows;
* errors in Graph shape: 100/33 for unknown or deleted ids, 190 for a wrong or expired token,
  104 for a missing one; an ``X-App-Usage`` header on every answer.

The token is accepted as ``access_token`` or as ``Authorization: Bearer|OAuth``. Tests inject
faults (:meth:`GraphServer.add_fault` and helpers) and read ``request_count``/``path_counts``.
Built for large generated pages too: indexes are built once per dataset, pages are O(page size).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from archiver.standins.conversations import Inbox
from archiver.standins.dataset import Attachment, PageDataset
from archiver.standins.graph_render import (
    PageIndex,
    Reversed,
    decode_cursor,
    encode_cursor,
    parse_fields,
    post_json,
    select,
)
from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.media_files import media_file
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-page-token"  # noqa: S105 - a made-up token for the loopback server
VERSION = "v19.0"
_VERSION_RE = re.compile(r"^/v\d+\.\d+(/.*)?$")
MAX_LIMIT = 100
UNSUPPORTED_GET = (
    "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)


class GraphServer(LoopbackServer):
    """A Graph API look-alike on 127.0.0.1 (random port) in a daemon thread."""

    base_path = f"/{VERSION}"

    def __init__(
        self,
        dataset: PageDataset,
        *,
        page_size: int = 25,
        token: str = DEFAULT_TOKEN,
        page_pattern: Sequence[int] | None = None,
        trailing_empty_page: bool = False,
        app_call_quota: int = 1_000_000,
        nested_paging: bool = False,
    ) -> None:
        super().__init__()
        self.nested_paging = nested_paging
        self.page_size = page_size
        self.token = token
        self.page_pattern = tuple(page_pattern) if page_pattern else None
        self.trailing_empty_page = trailing_empty_page
        self.app_call_quota = app_call_quota
        self.app_usage: dict[str, int] | None = None
        self.business_usage: dict[str, Any] | None = None
        self.token_expired = False
        # When debug_token says the token expires (Unix seconds; 0: never).
        self.token_expires_at = 0
        self.page_profile: dict[str, Any] = sample_profile("facebook")
        self._index = PageIndex(dataset)
        # The Page's stories as Graph gives them, newest first, and their photos and videos.
        self.stories: list[dict[str, Any]] = []
        self.story_media: dict[str, dict[str, Any]] = {}
        self.stories_refused = False
        self.inbox = Inbox()

    # --- state -------------------------------------------------------------------------------

    @property
    def dataset(self) -> PageDataset:
        """The dataset being served."""
        return self._index.dataset

    def set_dataset(self, dataset: PageDataset) -> None:
        """Serve another dataset from the next request on."""
        self._index = PageIndex(_absolute_media(dataset, self.origin))

    def start(self) -> str:
        """Start serving; media named by path (``/media/x.png``) now point at this server."""
        base = super().start()
        self.set_dataset(self.dataset)
        return base

    def apply_second_state(self) -> None:
        """Switch to the bundled sample's second state (an edit, a hide, a deletion, a new one)."""
        from archiver.standins.dataset import load_second_state_changes

        self.set_dataset(self.dataset.with_changes(load_second_state_changes()))

    def add_story(self, created: int, media_type: str = "photo") -> str:
        """A story posted at ``created`` (Unix seconds) with a sample file; its ``post_id``."""
        n = len(self.stories) + 1
        post_id, media_id = f"{self.dataset.page_id}_9{n:05d}", f"8{n:05d}"
        name = f"story{n}.{'mp4' if media_type == 'video' else 'png'}"
        url = f"{self.origin}/media/{name}"
        self.story_media[media_id] = (
            {"id": media_id, "source": url} if media_type == "video" else
            {"id": media_id, "images": [{"height": 16, "width": 16, "source": url}]})
        self.stories.insert(0, {
            "post_id": post_id, "status": "PUBLISHED", "creation_time": str(created),
            "media_type": media_type, "media_id": media_id,
            "url": f"https://www.facebook.com/stories/{self.dataset.page_id}/{n}"})
        return post_id

    def end_story(self, post_id: str, *, archive: bool) -> None:
        """A story's 24 hours are over: ``ARCHIVED`` (the story archive on) or no longer listed."""
        self.stories = [dict(s, status="ARCHIVED") if s["post_id"] == post_id else s
                        for s in self.stories if archive or s["post_id"] != post_id]

    def expire_token(self) -> None:
        """Answer every request with Graph error 190/463 (session expired)."""
        self.token_expired = True

    def set_usage(
        self, app: dict[str, int] | None = None, business: dict[str, Any] | None = None
    ) -> None:
        """Report these ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` values from now on."""
        self.app_usage = app
        self.business_usage = business

    # --- faults ------------------------------------------------------------------------------

    def graph_error(
        self, code: int, subcode: int | None = None, status: int = 400, **match: Any
    ) -> Fault:
        """Answer a Graph error body, e.g. code 4/17/32/613 (rate limits) or 100/33."""
        return self.add_fault(
            Fault("graph_error", status=status, code=code, subcode=subcode, **match)
        )

    # --- answering ---------------------------------------------------------------------------

    def usage_headers(self) -> dict[str, str]:
        """The Graph usage headers for the current request count."""
        app = self.app_usage
        if app is None:
            pct = min(100, self.request_count * 100 // max(1, self.app_call_quota))
            app = {"call_count": pct, "total_cputime": pct, "total_time": pct}
        headers = {"X-App-Usage": json.dumps(app)}
        if self.business_usage is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps(self.business_usage)
        return headers

    def extra_headers(self) -> dict[str, str]:
        """Graph sends its usage headers on every answer."""
        return self.usage_headers()

    def credential(self, request: Request) -> tuple[str | None, str]:
        """``access_token`` as a parameter, or ``Authorization: Bearer|OAuth``."""
        return self._token_of(request.query, request.headers)

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        """Injected errors in Graph's words."""
        if fault.kind == "status":
            return self._error(
                fault.status, 2, None, "An unexpected error has occurred.", "OAuthException"
            )
        if fault.kind == "retry_after":
            status, hdrs, body = self._error(429, 4, None, "Too many calls", "OAuthException")
            hdrs["Retry-After"] = fault.retry_after or "1"
            return status, hdrs, body
        if fault.kind == "graph_error":
            return self._graph_fault(fault)
        return None

    def route(self, request: Request) -> Answer:
        """The Graph answer for one GET (or a sample media file, as Facebook's CDN would)."""
        if request.path.startswith("/media/"):
            found = media_file(request.path.removeprefix("/media/"))
            if found is None:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            return 200, {"Content-Type": found[0]}, found[1]
        token, _ = self.credential(request)
        return self._route(request.path, request.query, token, request.loop)

    def _token_of(self, query: dict[str, str], headers: dict[str, str]) -> tuple[str | None, str]:
        if "access_token" in query:
            return query["access_token"], "param"
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value:
            return value.strip(), "header"
        return None, "none"

    def token_problem(self, token: str | None) -> Answer | None:
        """Graph's answer to a missing (104), wrong (190) or expired (190/463) token, or None."""
        if token is None:
            return self._error(400, 104, None,
                               "An access token is required to request this resource.",
                               "OAuthException")
        if token != self.token:
            return self._error(400, 190, None,
                               "Invalid OAuth access token - Cannot parse access token",
                               "OAuthException")
        if self.token_expired:
            return self._error(400, 190, 463,
                               "Error validating access token: Session has expired.",
                               "OAuthException")
        return None

    def _error(
        self, status: int, code: int, subcode: int | None, message: str, kind: str
    ) -> tuple[int, dict[str, str], bytes]:
        err: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            err["error_subcode"] = subcode
        if code in (1, 2):
            err["is_transient"] = True
        err["fbtrace_id"] = f"AbCdEf{self.request_count:06d}"
        hdrs = {"Content-Type": "application/json; charset=UTF-8"}
        if kind == "OAuthException" and code in (190, 104):
            hdrs["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
        return status, hdrs, json.dumps({"error": err}).encode()

    def _graph_fault(self, f: Fault) -> tuple[int, dict[str, str], bytes]:
        code = f.code if f.code is not None else 1
        messages = {
            4: "(#4) Application request limit reached",
            17: "(#17) User request limit reached",
            32: "(#32) Page request limit reached",
            613: "(#613) Calls to this api have exceeded the rate limit.",
            80001: "(#80001) There have been too many calls to this Page account.",
            190: "Error validating access token: Session has expired.",
        }
        if code == 100 and f.subcode == 33:
            message = f.message or UNSUPPORTED_GET.format(id="?")
            kind = "GraphMethodException"
        else:
            message = f.message or messages.get(code, "An unknown error occurred")
            kind = "OAuthException"
        status, hdrs, body = self._error(f.status, code, f.subcode, message, kind)
        hdrs.update(self.usage_headers())
        hdrs.update(f.headers)
        return status, hdrs, body

    def _route(
        self, path: str, query: dict[str, str], token: str | None, loop: bool
    ) -> tuple[int, dict[str, str], bytes]:
        m = _VERSION_RE.match(path)
        if not m or not m.group(1) or m.group(1) == "/":
            return self._error(400, 2500, None, "Unknown path components", "OAuthException")
        problem = self.token_problem(token)
        if problem is not None:
            return problem
        segments = [s for s in m.group(1).split("/") if s]
        if segments == ["debug_token"]:
            return self._debug_token(query.get("input_token"))
        fields = parse_fields(query["fields"]) if query.get("fields") else None
        idx = self._index
        object_id = segments[0]
        if len(segments) == 1:
            obj = self._object(idx, object_id)
            if obj is None:
                return self._unsupported(object_id)
            default: dict[str, dict[str, Any] | None] | None = (
                {"id": None, "name": None} if object_id == idx.dataset.page_id else None)
            return self._ok(select(obj, fields or default))
        if len(segments) != 2:
            return self._unsupported(object_id)
        edge = segments[1]
        items: Sequence[Any]
        render: Any
        if object_id == idx.dataset.page_id and edge in ("feed", "posts", "published_posts"):
            items = idx.published if edge == "published_posts" else idx.feed
            render = post_json
            default_fields = {"id": None, "message": None, "created_time": None}
        elif edge == "comments" and (object_id in idx.posts or object_id in idx.comments):
            if object_id in idx.comments:
                items = idx.replies.get(object_id, [])
            elif query.get("filter") == "stream":
                items = idx.stream.get(object_id, [])
            else:
                items = idx.toplevel.get(object_id, [])
            if query.get("order") == "reverse_chronological":
                items = Reversed(items)
            render = idx.render_comment
            default_fields = {"created_time": None, "from": None, "message": None, "id": None}
        elif object_id == idx.dataset.page_id and edge == "stories":
            if self.stories_refused:
                return self.no_permission()
            items, render = self.stories, dict
            default_fields = {"post_id": None, "status": None, "creation_time": None}
        elif object_id == idx.dataset.page_id and edge == "conversations":
            if self.inbox.refused:
                return self.no_permission()
            items = self.inbox.listing() if query.get("platform", "messenger") == "messenger" \
                else []
            render, default_fields = dict, {"id": None}
        elif edge == "messages" and object_id in self.inbox.conversations:
            if self.inbox.refused:
                return self.no_permission()
            items, render = self.inbox.latest(object_id), dict
            default_fields = {"id": None, "created_time": None}
        elif (
            object_id in idx.posts or object_id in idx.comments or object_id == idx.dataset.page_id
        ):
            return self._error(
                400,
                100,
                None,
                f"(#100) Tried accessing nonexisting field ({edge})",
                "OAuthException",
            )
        else:
            return self._unsupported(object_id)
        return self._edge(path, query, items, render, fields or default_fields, loop)

    def no_permission(self) -> tuple[int, dict[str, str], bytes]:
        """Graph error 10: the token lacks the permission this edge needs."""
        return self._error(400, 10, None,
                           "(#10) Application does not have permission for this action",
                           "OAuthException")

    def _debug_token(self, input_token: str | None) -> tuple[int, dict[str, str], bytes]:
        """What Graph says about ``input_token``: an unknown token is not valid."""
        if input_token != self.token:
            return self._ok({"data": {"is_valid": False, "error": {
                "code": 190, "message": "Invalid OAuth access token."}}})
        return self._ok({"data": {
            "app_id": "1000000000000001", "type": "PAGE", "application": "Archiver",
            "profile_id": self.dataset.page_id, "is_valid": True,
            "expires_at": self.token_expires_at, "data_access_expires_at": 0,
            "scopes": ["pages_read_engagement", "pages_read_user_content"]}})

    def _object(self, idx: PageIndex, object_id: str) -> dict[str, Any] | None:
        if object_id == idx.dataset.page_id:
            return {"id": object_id, "name": idx.dataset.page_name, **self.page_profile}
        if object_id in idx.posts:
            return post_json(idx.posts[object_id])
        if object_id in idx.comments:
            return idx.render_comment(idx.comments[object_id])
        return self.story_media.get(object_id)

    def _unsupported(self, object_id: str) -> tuple[int, dict[str, str], bytes]:
        return self._error(
            400, 100, 33, UNSUPPORTED_GET.format(id=object_id), "GraphMethodException"
        )

    def _edge(
        self,
        path: str,
        query: dict[str, str],
        items: Sequence[Any],
        render: Any,
        fields: dict[str, Any],
        loop: bool,
    ) -> tuple[int, dict[str, str], bytes]:
        after = query.get("after")
        try:
            offset, page_no = decode_cursor(after) if after else (0, 0)
        except ValueError:
            return self._error(400, 100, None, "(#100) Invalid cursor", "OAuthException")
        try:
            limit = int(query.get("limit") or self.page_size)
        except ValueError:
            limit = self.page_size
        size = max(0, min(limit, self.page_size, MAX_LIMIT))
        if self.page_pattern:
            size = self.page_pattern[page_no % len(self.page_pattern)]
        end = min(len(items), offset + size)
        data = [select(render(items[i]), fields) for i in range(offset, end)]
        if self.nested_paging:
            data = [self._with_nested_paging(obj) for obj in data]
        body: dict[str, Any] = {"data": data}
        more = end < len(items) or (self.trailing_empty_page and size > 0 and bool(data))
        if data or more:
            before = encode_cursor(offset, page_no)
            next_cursor = (after or "") if loop else encode_cursor(end, page_no + 1)
            body["paging"] = {
                "cursors": {"before": before, "after": encode_cursor(end, page_no + 1)}
            }
            if more or loop:
                params = {k: v for k, v in query.items() if k not in ("after", "before")}
                if next_cursor:
                    params["after"] = next_cursor
                if self.token:
                    params["access_token"] = self.token
                origin = self.base_url.rsplit("/", 1)[0]
                body["paging"]["next"] = f"{origin}{path}?{urlencode(params)}"
        return self._ok(body)

    def _with_nested_paging(self, obj: Any) -> Any:
        """``obj`` with a ``paging`` (``next`` carrying the token) on its ``attachments`` edge."""
        edge = obj.get("attachments") if isinstance(obj, dict) else None
        if not isinstance(edge, dict) or not self.token:
            return obj
        after = encode_cursor(1, 1)
        query = urlencode({"access_token": self.token, "limit": "1", "after": after})
        paging = {"cursors": {"before": encode_cursor(0, 0), "after": after},
                  "next": f"{self.base_url}/{obj.get('id')}/attachments?{query}"}
        return {**obj, "attachments": {**edge, "paging": paging}}

    def _ok(self, payload: Any) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=True).encode()
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, body


def _absolute_media(dataset: PageDataset, origin: str) -> PageDataset:
    """Attachments named by path get this server's origin (before start: left as they are)."""
    if not origin:
        return dataset

    def fix(a: Attachment | None) -> Attachment | None:
        if a is not None and a.src and a.src.startswith("/"):
            return replace(a, src=origin + a.src)
        return a

    posts = tuple(
        replace(p, attachments=tuple(fix(a) for a in p.attachments))  # type: ignore[misc]  # fix keeps None as None
        if any(a.src and a.src.startswith("/") for a in p.attachments) else p
        for p in dataset.posts
    )
    comments = tuple(
        replace(c, attachment=fix(c.attachment))
        if c.attachment and c.attachment.src and c.attachment.src.startswith("/") else c
        for c in dataset.comments
    )
    return replace(dataset, posts=posts, comments=comments)
