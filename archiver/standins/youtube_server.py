"""A loopback server speaking enough of the YouTube Data API v3 to archive a channel.

Shapes follow developers.google.com/youtube/v3/docs (channels.list, playlistItems.list,
commentThreads.list, comments.list, videos.list, and the errors page):

* ``GET /youtube/v3/channels?part=contentDetails&id=UC…`` → the uploads playlist id
  (``part=snippet,brandingSettings``: the channel's description, the sample department's text);
* ``GET /youtube/v3/playlistItems?playlistId=UU…`` newest first;
* ``GET /youtube/v3/commentThreads?videoId=…&moderationStatus=published|heldForReview|likelySpam``
  (held and spam threads only for the owner's OAuth token), ``replies.comments`` holding at most
  :attr:`YouTubeServer.inline_replies` replies, as the API may;
* ``GET /youtube/v3/comments?parentId=…`` (replies) or ``?id=a,b`` (look-ups: a deleted comment
  is simply absent from ``items``);
* ``GET /youtube/v3/videos?id=…``;
* ``nextPageToken`` paging, absent on the last page; errors as
  ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``.

Credentials: ``Authorization: Bearer`` (the owner's OAuth token) or a ``key`` parameter (an API
key: public data only). The sample channel is generated: :func:`sample_channel` and
:func:`second_state` (an edit, a moderation change, a deletion, a new comment).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.graph_render import decode_cursor, encode_cursor
from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-youtube-oauth-token"  # noqa: S105 - made up, loopback only
DEFAULT_API_KEY = "sample-youtube-api-key"
CHANNEL_ID = "UCspringfieldPD00000000a"
UPLOADS = "UU" + CHANNEL_ID[2:]
MODERATION = ("published", "heldForReview", "likelySpam")


@dataclass
class ApiFault(Fault):
    """A :class:`Fault` that also names the platform's error ``reason`` (its error code)."""

    reason: str | None = None


@dataclass(frozen=True)
class YtVideo:
    """One upload."""

    id: str
    title: str
    description: str
    published_at: str


@dataclass(frozen=True)
class YtComment:
    """A top-level comment (``parent_id`` None) or a reply."""

    id: str
    video_id: str
    text: str
    author: str
    published_at: str
    updated_at: str
    parent_id: str | None = None
    moderation: str = "published"
    like_count: int = 0


@dataclass(frozen=True)
class Channel:
    """A channel: its uploads and their comments."""

    id: str
    title: str
    videos: tuple[YtVideo, ...]
    comments: tuple[YtComment, ...]


def _t(day: int, minute: int = 0) -> str:
    # Days and minutes roll over, so a benchmark-sized channel still has real dates.
    at = datetime(2024, 5, 1, 10, tzinfo=UTC) + timedelta(days=day - 1, minutes=minute)
    return at.strftime("%Y-%m-%dT%H:%M:00Z")


def sample_channel(videos: int = 7, comments_per_video: int = 4) -> Channel:
    """The Springfield PD channel: uploads, threads, replies, one held and one spam comment."""
    vids = tuple(
        YtVideo(
            id=f"vid{n:08d}",
            title=f"Springfield PD update #{n}",
            description=f"Weekly community update number {n}.",
            published_at=_t(n),
        )
        for n in range(1, videos + 1)
    )
    comments: list[YtComment] = []
    for v_no, video in enumerate(vids, start=1):
        for c in range(1, comments_per_video + 1):
            cid = f"Ugz{v_no:03d}{c:03d}"
            moderation = "published"
            text = f"Comment {c} on video {v_no}"
            if (v_no, c) == (2, 2):
                moderation, text = "heldForReview", "Held: <script>alert(1)</script> call me"
            if (v_no, c) == (3, 3):
                moderation, text = "likelySpam", "BUY CHEAP FOLLOWERS http://spam.invalid"
            comments.append(
                YtComment(
                    cid, video.id, text, f"Viewer {c}", _t(v_no, c), _t(v_no, c), None, moderation
                )
            )
            if c == 1:
                for r in range(1, 4):  # three replies: more than the thread shows inline
                    comments.append(
                        YtComment(
                            f"{cid}.r{r}",
                            video.id,
                            f"Reply {r} to {cid}",
                            f"Neighbour {r}",
                            _t(v_no, 30 + r),
                            _t(v_no, 30 + r),
                            parent_id=cid,
                        )
                    )
    return Channel(CHANNEL_ID, "Springfield Police Department", vids, tuple(comments))


EDITED = "Ugz001002"
MODERATED = "Ugz001003"
DELETED = "Ugz001004"
ADDED = "Ugz001009"


def second_state(ch: Channel) -> Channel:
    """An edit (``updatedAt`` moves), a comment held for review, a deletion, a new comment."""
    out: list[YtComment] = []
    for c in ch.comments:
        if c.id == DELETED:
            continue
        if c.id == EDITED:
            c = replace(c, text=c.text + " (edited: typo fixed)", updated_at=_t(20))
        if c.id == MODERATED:
            c = replace(c, moderation="heldForReview")
        out.append(c)
    out.append(YtComment(ADDED, "vid00000001", "New question", "Viewer 9", _t(21), _t(21)))
    return replace(ch, comments=tuple(out))


def comment_json(c: YtComment, *, owner: bool) -> dict[str, Any]:
    """A ``youtube#comment`` resource."""
    snippet: dict[str, Any] = {
        "channelId": CHANNEL_ID,
        "videoId": c.video_id,
        "textDisplay": c.text.replace("<", "&lt;").replace(">", "&gt;"),
        "textOriginal": c.text,
        "authorDisplayName": c.author,
        "authorProfileImageUrl": f"https://yt3.ggpht.example.invalid/{c.author.replace(' ', '')}",
        "authorChannelUrl": f"http://www.youtube.com/@{c.author.replace(' ', '')}",
        "authorChannelId": {"value": "UC" + c.author.replace(" ", "").ljust(22, "x")},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": c.like_count,
        "publishedAt": c.published_at,
        "updatedAt": c.updated_at,
    }
    if c.parent_id:
        snippet["parentId"] = c.parent_id
    if owner and c.moderation != "published":
        snippet["moderationStatus"] = c.moderation
    return {
        "kind": "youtube#comment",
        "etag": hashlib.sha256(repr(c).encode()).hexdigest()[:16],
        "id": c.id,
        "snippet": snippet,
    }


class YouTubeServer(LoopbackServer):
    """A YouTube Data API v3 look-alike on 127.0.0.1."""

    base_path = "/youtube/v3"

    def __init__(
        self,
        channel: Channel | None = None,
        *,
        page_size: int = 5,
        token: str = DEFAULT_TOKEN,
        api_key: str = DEFAULT_API_KEY,
        inline_replies: int = 2,
    ) -> None:
        super().__init__()
        self.channel = channel or sample_channel()
        self.page_size = page_size
        self.token = token
        self.api_key = api_key
        self.inline_replies = inline_replies
        # The channel's title, description and custom URL (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("youtube")

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current channel from now on."""
        self.channel = second_state(self.channel)

    # --- faults --------------------------------------------------------------------------------

    def api_error(
        self, status: int, reason: str, domain: str = "youtube.api", **match: Any
    ) -> Fault:
        """Answer a Google API error body with ``reason`` (e.g. quotaExceeded, backendError)."""
        return self.add_fault(
            ApiFault("api_error", status=status, reason=reason, message=domain, **match)
        )

    def quota_exceeded(self, **match: Any) -> Fault:
        """403 quotaExceeded: the project's daily quota is spent."""
        return self.api_error(403, "quotaExceeded", "youtube.quota", **match)

    def rate_limit_exceeded(self, **match: Any) -> Fault:
        """403 rateLimitExceeded: too many requests in a short time."""
        return self.api_error(403, "rateLimitExceeded", "youtube.quota", **match)

    def credential(self, request: Request) -> tuple[str | None, str]:
        if "key" in request.query:
            return request.query["key"], "param"
        return super().credential(request)

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "api_error" and isinstance(fault, ApiFault):
            return self.error(
                fault.status,
                fault.reason or "backendError",
                fault.message or "global",
                fault.reason or "error",
            )
        if fault.kind == "status":
            return self.error(fault.status, "backendError", "global", "Backend Error")
        if fault.kind == "retry_after":
            status, hdrs, body = self.error(
                429, "rateLimitExceeded", "youtube.quota", "Too many requests"
            )
            hdrs["Retry-After"] = fault.retry_after or "1"
            return status, hdrs, body
        return None

    # --- answering -----------------------------------------------------------------------------

    @staticmethod
    def error(status: int, reason: str, domain: str, message: str) -> Answer:
        """An error in the Google API JSON shape."""
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
        return (
            status,
            {"Content-Type": "application/json; charset=UTF-8"},
            json.dumps(body).encode(),
        )

    @staticmethod
    def ok(payload: Any) -> Answer:
        return (
            200,
            {"Content-Type": "application/json; charset=UTF-8"},
            json.dumps(payload).encode(),
        )

    def channel_json(self, parts: list[str]) -> dict[str, Any]:
        """The channel as ``channels.list`` gives it, with the ``part`` values asked for
        (contentDetails, snippet, brandingSettings)."""
        p = self.profile
        full: dict[str, Any] = {
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}},
            "snippet": {"title": p["title"], "description": p["description"],
                        "customUrl": p["customUrl"], "publishedAt": "2015-01-05T10:00:00Z"},
            "brandingSettings": {"channel": {"title": p["title"],
                                             "description": p["description"]}},
        }
        return {"kind": "youtube#channel", "id": self.channel.id,
                **{k: v for k, v in full.items() if k in parts}}

    def route(self, request: Request) -> Answer:
        token, how = self.credential(request)
        if how == "none":
            return self.error(403, "forbidden", "global", "The request is missing a valid API key.")
        if how == "param" and token != self.api_key:
            return self.error(
                400, "keyInvalid", "usageLimits", "API key not valid. Please pass a valid API key."
            )
        if how == "header" and token != self.token:
            return self.error(401, "authError", "global", "Invalid Credentials")
        owner = how == "header"
        resource = request.path.removeprefix(self.base_path).strip("/")
        q = request.query
        ch = self.channel
        if resource == "channels":
            items = (
                [self.channel_json(q.get("part", "").split(","))]
                if ch.id in q.get("id", "").split(",")
                else []
            )
            return self.ok(
                {
                    "kind": "youtube#channelListResponse",
                    "items": items,
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                }
            )
        if resource == "playlistItems":
            if q.get("playlistId") != UPLOADS:
                return self.error(
                    404,
                    "playlistNotFound",
                    "youtube.playlistItem",
                    "The playlist identified with the request's playlistId "
                    "parameter cannot be found.",
                )
            videos = sorted(ch.videos, key=lambda v: v.published_at, reverse=True)
            return self.page(request, [self.playlist_item(v) for v in videos], 50)
        if resource == "videos":
            wanted = q.get("id", "").split(",")
            items = [self.video_json(v) for v in ch.videos if v.id in wanted]
            return self.ok(
                {
                    "kind": "youtube#videoListResponse",
                    "items": items,
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                }
            )
        if resource == "commentThreads":
            return self.threads(request, owner)
        if resource == "comments":
            if "id" in q:
                wanted = q["id"].split(",")
                found = [comment_json(c, owner=owner) for c in ch.comments if c.id in wanted]
                return self.ok({"kind": "youtube#commentListResponse", "items": found})
            parent = q.get("parentId", "")
            if not any(c.id == parent for c in ch.comments):
                return self.error(
                    404,
                    "commentNotFound",
                    "youtube.comment",
                    "The comment identified by the request's parentId parameter "
                    "could not be found.",
                )
            replies = [comment_json(c, owner=owner) for c in ch.comments if c.parent_id == parent]
            return self.page(request, replies, 100)
        return self.error(404, "notFound", "global", "Not Found")

    def threads(self, request: Request, owner: bool) -> Answer:
        q = request.query
        video = q.get("videoId", "")
        if not any(v.id == video for v in self.channel.videos):
            return self.error(
                404,
                "videoNotFound",
                "youtube.commentThread",
                "The video identified by the videoId parameter could not be found.",
            )
        moderation = q.get("moderationStatus", "published")
        if moderation not in MODERATION:
            return self.error(
                400, "invalidModerationStatus", "youtube.parameter", "Invalid moderationStatus"
            )
        if moderation != "published" and not owner:
            return self.error(
                403,
                "forbidden",
                "youtube.commentThread",
                "The request is not properly authorized to retrieve the specified comment threads.",
            )
        tops = [
            c
            for c in self.channel.comments
            if c.video_id == video and c.parent_id is None and c.moderation == moderation
        ]
        tops.sort(key=lambda c: c.published_at, reverse=True)
        items = []
        for top in tops:
            replies = [c for c in self.channel.comments if c.parent_id == top.id]
            thread: dict[str, Any] = {
                "kind": "youtube#commentThread",
                "id": top.id,
                "snippet": {
                    "channelId": CHANNEL_ID,
                    "videoId": video,
                    "topLevelComment": comment_json(top, owner=owner),
                    "canReply": True,
                    "totalReplyCount": len(replies),
                    "isPublic": True,
                },
            }
            if replies and "replies" in q.get("part", ""):
                shown = replies[: self.inline_replies]
                thread["replies"] = {"comments": [comment_json(c, owner=owner) for c in shown]}
            items.append(thread)
        return self.page(request, items, 100)

    def page(self, request: Request, items: list[dict[str, Any]], cap: int) -> Answer:
        """One page of ``items`` with ``nextPageToken`` (absent on the last page)."""
        token = request.query.get("pageToken")
        try:
            offset = decode_cursor(token)[0] if token else 0
            size = min(int(request.query.get("maxResults", "5")), cap, self.page_size)
        except ValueError:
            return self.error(
                400,
                "invalidPageToken",
                "youtube.parameter",
                "The request specifies an invalid page token.",
            )
        end = min(len(items), offset + max(size, 1))
        body: dict[str, Any] = {
            "kind": "youtube#listResponse",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": items[offset:end],
        }
        if request.loop:
            body["nextPageToken"] = token or encode_cursor(0, 0)
        elif end < len(items):
            body["nextPageToken"] = encode_cursor(end, 0)
        return self.ok(body)

    @staticmethod
    def playlist_item(v: YtVideo) -> dict[str, Any]:
        thumb = f"https://i.ytimg.example.invalid/vi/{v.id}/hqdefault.jpg"
        return {
            "kind": "youtube#playlistItem",
            "id": f"PLI{v.id}",
            "snippet": {
                "publishedAt": v.published_at,
                "channelId": CHANNEL_ID,
                "title": v.title,
                "description": v.description,
                "channelTitle": "Springfield Police Department",
                "thumbnails": {"high": {"url": thumb, "width": 480, "height": 360}},
                "playlistId": UPLOADS,
                "position": 0,
                "resourceId": {"kind": "youtube#video", "videoId": v.id},
            },
            "contentDetails": {"videoId": v.id, "videoPublishedAt": v.published_at},
        }

    @staticmethod
    def video_json(v: YtVideo) -> dict[str, Any]:
        return {
            "kind": "youtube#video",
            "id": v.id,
            "snippet": {
                "publishedAt": v.published_at,
                "title": v.title,
                "description": v.description,
                "channelId": CHANNEL_ID,
            },
        }
