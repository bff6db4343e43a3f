"""A loopback server speaking enough of the TikTok API for Business (v1.3) to archive a business
account's videos and comments.

Shapes followed (ads.tiktok.com/marketing_api/docs?id=1733327057319937 for videos,
?id=1733329505077250 for comments):

* ``GET /open_api/v1.3/business/video/list/?business_id=&fields=&cursor=&max_count`` (at most 20)
  newest first, or the videos named by ``filters={"video_ids": [...]}``;
* ``GET /open_api/v1.3/business/comment/list/?business_id=&video_id=&status=ALL|PUBLIC`` (at
  most 30) top-level comments with their ``replies`` count and ``status`` PUBLIC or HIDDEN
  (hidden ones only with ``status=ALL``);
* ``GET /open_api/v1.3/business/comment/reply/list/?comment_id=`` a comment's replies;
* ``GET /open_api/v1.3/business/get/?fields=`` the account's display name and bio;
* every answer is HTTP 200 with ``{"code", "message", "request_id", "data"}``; paging is
  ``data.cursor`` + ``data.has_more``. A wrong token answers code 40105, too many requests
  code 40100 (:meth:`TikTokServer.api_code` injects any code).

The token comes in the ``Access-Token`` header. :func:`sample_account` is generated, with
hostile comment text; :func:`second_state` edits a caption, hides a comment, deletes one and adds
one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-tiktok-access-token"  # noqa: S105 - made up, loopback only
BUSINESS_ID = "-000SpringfieldPD0001"
START = 1714557600  # 2024-05-01T10:00:00Z
HOSTILE = ('<script>alert("tt")</script> =HYPERLINK("http://evil.invalid","x") '
           "../../etc/passwd \u202eevil\u202c")


@dataclass(frozen=True)
class TtVideo:
    """One video of the business account."""

    id: str
    caption: str
    create_time: int


@dataclass(frozen=True)
class TtComment:
    """A top-level comment (``parent_id`` None) or a reply."""

    id: str
    video_id: str
    text: str
    user: str
    create_time: int
    parent_id: str | None = None
    status: str = "PUBLIC"


@dataclass(frozen=True)
class TtAccount:
    """A business account: videos and comments."""

    videos: tuple[TtVideo, ...]
    comments: tuple[TtComment, ...]


def sample_account(videos: int = 6, comments_per_video: int = 4) -> TtAccount:
    """The Springfield PD account: each video's comments, two replies on the first, one hidden
    comment and one hostile one."""
    vids = tuple(TtVideo(f"7{n:018d}", f"Springfield PD safety tip #{n} #community",
                         START + n * 86400) for n in range(1, videos + 1))
    comments: list[TtComment] = []
    for v_no, video in enumerate(vids, start=1):
        for c in range(1, comments_per_video + 1):
            cid = f"7{v_no:09d}{c:09d}"
            status, body = "PUBLIC", f"Comment {c} on tip {v_no}"
            if (v_no, c) == (1, 3):
                status, body = "HIDDEN", "Hidden by the department: " + HOSTILE
            if (v_no, c) == (2, 2):
                body = HOSTILE
            comments.append(TtComment(cid, video.id, body, f"viewer{c}",
                                      video.create_time + c * 60, None, status))
            if c == 1:
                comments += [TtComment(f"{cid}{r}", video.id, f"Reply {r} to {cid}",
                                       f"neighbour{r}", video.create_time + 600 + r, cid)
                             for r in (1, 2)]
    return TtAccount(vids, tuple(comments))


EDITED_VIDEO = "7000000000000000001"
HIDDEN_LATER = "7000000001000000002"
DELETED = "7000000001000000004"
ADDED = "7000000003000000009"


def second_state(account: TtAccount) -> TtAccount:
    """A caption edit, a comment hidden, a comment deleted, a comment added."""
    videos = tuple(replace(v, caption=v.caption + " (updated)") if v.id == EDITED_VIDEO else v
                   for v in account.videos)
    comments = [replace(c, status="HIDDEN") if c.id == HIDDEN_LATER else c
                for c in account.comments if c.id != DELETED]
    comments.append(TtComment(ADDED, account.videos[2].id, "New question about the tip",
                              "viewer9", START + 30 * 86400))
    return TtAccount(videos, tuple(comments))


@dataclass
class CodeFault(Fault):
    """A :class:`Fault` answering HTTP 200 with a TikTok error ``code``."""


class TikTokServer(LoopbackServer):
    """A TikTok API for Business look-alike on 127.0.0.1."""

    base_path = "/open_api/v1.3"

    def __init__(self, account: TtAccount | None = None, *, page_size: int = 5,
                 token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.account = account or sample_account()
        self.page_size = page_size
        self.token = token
        # The account's display name and bio (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("tiktok")

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current account from now on."""
        self.account = second_state(self.account)

    # --- faults ------------------------------------------------------------------------------

    def api_code(self, code: int, message: str = "error", **match: Any) -> Fault:
        """Answer HTTP 200 with ``{"code": code, "message": message}``."""
        return self.add_fault(CodeFault("tiktok_code", code=code, message=message, **match))

    def credential(self, request: Request) -> tuple[str | None, str]:
        token = request.headers.get("access-token", "").strip()
        return (token, "header") if token else (None, "none")

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "tiktok_code":
            return self.envelope(None, code=fault.code or 40000, message=fault.message or "")
        if fault.kind == "status":
            return self.envelope(None, code=50000, message="Internal error", status=fault.status)
        if fault.kind == "retry_after":
            status, hdrs, body = self.envelope(None, code=40100, message="Too many requests",
                                               status=429)
            hdrs["Retry-After"] = fault.retry_after or "1"
            return status, hdrs, body
        return None

    # --- answering -----------------------------------------------------------------------------

    @staticmethod
    def envelope(data: Any, *, code: int = 0, message: str = "OK", status: int = 200) -> Answer:
        """TikTok's answer shape."""
        body = {"code": code, "message": message, "request_id": "20240501100000LOOPBACK",
                "data": data if data is not None else {}}
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def route(self, request: Request) -> Answer:
        token, _ = self.credential(request)
        if token != self.token:
            return self.envelope(None, code=40105,
                                 message="Access token is incorrect or has been revoked.")
        q = request.query
        if q.get("business_id") != BUSINESS_ID:
            return self.envelope(None, code=40001, message="Invalid business_id")
        resource = request.path.removeprefix(self.base_path).strip("/")
        if resource == "business/get":
            try:
                fields = json.loads(q.get("fields", "[]"))
            except ValueError:
                return self.envelope(None, code=40002, message="fields: invalid JSON")
            return self.envelope({k: v for k, v in self.profile.items() if k in fields})
        if resource == "business/video/list":
            return self.videos(request)
        if resource in ("business/comment/list", "business/comment/reply/list"):
            return self.comments(request, reply=resource.endswith("reply/list"))
        return self.envelope(None, code=40002, message="Unknown endpoint")

    def videos(self, request: Request) -> Answer:
        try:
            fields = json.loads(request.query.get("fields", '["item_id"]'))
            wanted = json.loads(request.query["filters"])["video_ids"] \
                if "filters" in request.query else None
        except (ValueError, KeyError, TypeError):
            return self.envelope(None, code=40002, message="fields or filters: invalid JSON")
        videos = sorted(self.account.videos, key=lambda v: v.create_time, reverse=True)
        if wanted is not None:
            videos = [v for v in videos if v.id in wanted]
        full = [{"item_id": v.id, "create_time": v.create_time, "caption": v.caption,
                 "share_url": f"https://www.tiktok.com/@springfieldpd/video/{v.id}",
                 "embed_url": f"https://www.tiktok.com/embed/v2/{v.id}",
                 "thumbnail_url": f"https://p16.tiktokcdn.example.invalid/{v.id}.jpeg",
                 "comments": sum(1 for c in self.account.comments if c.video_id == v.id)}
                for v in videos]
        items = [{k: x[k] for k in fields if k in x} for x in full]
        return self.page(request, "videos", items, 20)

    def comments(self, request: Request, *, reply: bool) -> Answer:
        q = request.query
        everything = q.get("status", "PUBLIC") == "ALL"
        video = q.get("video_id", "")
        if not any(v.id == video for v in self.account.videos):
            return self.envelope(None, code=40002, message="video_id: video not found")
        parent = q.get("comment_id") if reply else None
        listed = [c for c in self.account.comments
                  if c.video_id == video and c.parent_id == parent
                  and (everything or c.status == "PUBLIC")]
        listed.sort(key=lambda c: c.create_time)
        replies = Counter(c.parent_id for c in self.account.comments if c.parent_id)
        items = [{"comment_id": c.id, "video_id": c.video_id, "user_id": f"u-{c.user}",
                  "username": c.user, "display_name": c.user.title(), "text": c.text,
                  "create_time": c.create_time, "likes": 0, "status": c.status,
                  "replies": replies[c.id],
                  "owner": False, "pinned": False,
                  **({"parent_comment_id": c.parent_id} if c.parent_id else {})}
                 for c in listed]
        return self.page(request, "comments", items, 30)

    def page(self, request: Request, key: str, items: list[dict[str, Any]], cap: int) -> Answer:
        """One page: ``data[key]``, ``data.cursor`` (an offset) and ``data.has_more``."""
        try:
            offset = int(request.query.get("cursor", "0"))
            size = max(1, min(int(request.query.get("max_count", "20")), cap, self.page_size))
        except ValueError:
            return self.envelope(None, code=40002, message="cursor or max_count: not a number")
        end = min(len(items), offset + size)
        more = end < len(items)
        cursor = offset if request.loop else end
        return self.envelope({key: items[offset:end], "cursor": cursor,
                              "has_more": more or request.loop})
