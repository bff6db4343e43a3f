"""A loopback server that speaks enough of the Instagram Graph API to archive a business account.

Shapes followed (the Instagram Graph API is the Graph API: same errors, paging and limits, so the
Graph look-alike's error bodies, faults, usage headers and cursor paging are reused):

* ``GET /{ig-user-id}/media`` newest first, fields ``id,caption,media_type,media_url,permalink,
  timestamp,username,children{...}`` (developers.facebook.com/docs/instagram-platform/
  instagram-graph-api/reference/ig-user/media, .../reference/ig-media);
* ``GET /{ig-media-id}/comments`` top-level comments, newest first, with a nested
  ``replies{...}`` edge that carries only the first few replies and a ``paging.next`` to
  ``GET /{ig-comment-id}/replies`` when there are more (.../reference/ig-media/comments,
  .../reference/ig-comment/replies); ``hidden`` for moderated comments (.../comment-moderation);
* ``GET /{ig-user-id}/stories`` (.../reference/ig-user/stories): the stories of the last 24 hours
  as IG Media (``media_product_type`` ``STORY``), newest first, their files served here under
  ``/media/``; :attr:`InstagramServer.stories_refused` answers Graph error 10 (no permission);
* ``GET /me/conversations?platform=instagram`` and ``/{conversation-id}/messages`` (the 20
  latest; :mod:`archiver.standins.conversations`);
* ``GET /{id}`` object reads (the account's ``biography``, ``website`` and ``name`` too,
  .../reference/ig-user); unknown or deleted ids answer Graph error 100/33.

:func:`sample_instagram` is a small generated account; :func:`second_state_changes` edits a
caption, hides a comment, deletes a comment (its replies go with it) and adds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.dataset import PageDataset
from archiver.standins.graph_render import parse_fields, select
from archiver.standins.graph_server import DEFAULT_TOKEN, GraphServer
from archiver.standins.loopback import Answer, Request
from archiver.standins.media_files import media_file
from archiver.standins.profiles import sample_profile

IG_USER_ID = "17841400000000001"
IG_USERNAME = "springfieldpd"
CDN = "https://scontent.cdninstagram.example.invalid/v"


@dataclass(frozen=True)
class IgMedia:
    """One IG Media object (a post). ``children`` are a carousel's items: (id, type, url)."""

    id: str
    caption: str | None
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    media_url: str | None
    permalink: str
    timestamp: str
    children: tuple[tuple[str, str, str], ...] = ()
    thumbnail_url: str | None = None


@dataclass(frozen=True)
class IgComment:
    """A comment (``parent_id`` None) or a reply to one on media ``media_id``."""

    id: str
    media_id: str
    text: str
    timestamp: str
    username: str
    user_id: str
    parent_id: str | None = None
    hidden: bool = False
    like_count: int = 0


@dataclass(frozen=True)
class IgChanges:
    """What happened on the account between two captures."""

    edits: tuple[tuple[str, str], ...] = ()  # (media id, new caption)
    hide: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    add_comments: tuple[IgComment, ...] = ()


@dataclass(frozen=True)
class IgDataset:
    """A whole account."""

    user_id: str
    username: str
    media: tuple[IgMedia, ...]
    comments: tuple[IgComment, ...]

    def with_changes(self, changes: IgChanges) -> IgDataset:
        """A new dataset with ``changes`` applied; deleting a comment deletes its replies."""
        deleted = set(changes.delete)
        deleted |= {c.id for c in self.comments if c.parent_id in deleted}
        edits = dict(changes.edits)
        media = tuple(
            replace(m, caption=edits[m.id]) if m.id in edits else m
            for m in self.media
            if m.id not in deleted
        )
        live = {m.id for m in media}
        comments = tuple(
            replace(c, hidden=True) if c.id in changes.hide else c
            for c in self.comments
            if c.id not in deleted and c.media_id in live
        )
        known = {c.id for c in comments}
        added = tuple(c for c in changes.add_comments if c.id not in known)
        return replace(self, media=media, comments=comments + added)


def _ts(day: int, hour: int, minute: int = 0) -> str:
    # Day 32 rolls over into June, so a benchmark-sized sample still has real dates.
    at = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour, minutes=minute)
    return at.strftime("%Y-%m-%dT%H:%M:00+0000")


def sample_instagram(media_count: int = 7) -> IgDataset:
    """A small account: images, a video, a carousel; comments, replies, a hidden one."""
    media: list[IgMedia] = []
    comments: list[IgComment] = []
    for i in range(1, media_count + 1):
        mid = f"1790000000000{i:04d}"
        kind = "VIDEO" if i == 3 else "CAROUSEL_ALBUM" if i == 5 else "IMAGE"
        children: tuple[tuple[str, str, str], ...] = ()
        url: str | None = f"{CDN}/post{i}.jpg"
        thumb = None
        if kind == "VIDEO":
            url, thumb = f"{CDN}/post{i}.mp4", f"{CDN}/post{i}_thumb.jpg"
        if kind == "CAROUSEL_ALBUM":
            url = None  # albums carry their files on children
            children = tuple(
                (f"1791000000000{i:02d}{k}", "IMAGE", f"{CDN}/post{i}_{k}.jpg") for k in (1, 2)
            )
        media.append(
            IgMedia(
                id=mid,
                caption=f"Community update #{i} from Springfield PD.",
                media_type=kind,
                media_url=url,
                permalink=f"https://www.instagram.com/p/SPD{i:04d}/",
                timestamp=_ts(i, 14),
                children=children,
                thumbnail_url=thumb,
            )
        )
        for j in range(1, 4):
            cid = f"1800000000{i:03d}{j:02d}0"
            comments.append(
                IgComment(
                    id=cid, media_id=mid, text=f"Comment {j} on post {i}",
                    timestamp=_ts(i, 15, j), username=f"visitor{j}", user_id=f"5000{j}",
                )
            )
        # The first comment of post 2 has several replies (more than the nested edge shows).
        replies = 4 if i == 2 else 1 if i % 2 else 0
        parent = f"1800000000{i:03d}010"
        for k in range(1, replies + 1):
            comments.append(
                IgComment(
                    id=f"1800000000{i:03d}01{k}", media_id=mid, text=f"Reply {k} on post {i}",
                    timestamp=_ts(i, 16, k), username=f"replier{k}", user_id=f"6000{k}",
                    parent_id=parent,
                )
            )
    comments.append(
        IgComment(
            id="18000000000040990", media_id="17900000000000004",
            text="<script>alert(1)</script> you are all crooks", timestamp=_ts(4, 18),
            username="troll", user_id="66666", hidden=True,
        )
    )
    return IgDataset(IG_USER_ID, IG_USERNAME, tuple(media), tuple(comments))


# Ids the second state touches (used by tests).
EDITED_MEDIA = "17900000000000001"
HIDDEN_IN_SECOND_STATE = "1800000000002020"
DELETED_IN_SECOND_STATE = "1800000000001010"  # its reply 1800000000001011 goes with it
NEW_COMMENT = "18000000000060990"


def second_state_changes() -> IgChanges:
    """An edited caption, a hidden comment, a deleted comment (and its reply), a new comment."""
    return IgChanges(
        edits=((EDITED_MEDIA, "Community update #1 from Springfield PD. (Corrected time: 6 PM)"),),
        hide=(HIDDEN_IN_SECOND_STATE,),
        delete=(DELETED_IN_SECOND_STATE,),
        add_comments=(
            IgComment(
                id=NEW_COMMENT, media_id="17900000000000006", text="Thanks for the update!",
                timestamp=_ts(20, 9), username="newcomer", user_id="70001",
            ),
        ),
    )


class InstagramServer(GraphServer):
    """An Instagram Graph API look-alike. Errors, faults and paging are the Graph server's."""

    def __init__(
        self,
        dataset: IgDataset | None = None,
        *,
        page_size: int = 25,
        token: str = DEFAULT_TOKEN,
        inline_replies: int = 2,
        page_pattern: Sequence[int] | None = None,
    ) -> None:
        ig = dataset or sample_instagram()
        super().__init__(
            PageDataset(ig.user_id, ig.username, (), ()),
            page_size=page_size, token=token, page_pattern=page_pattern,
        )
        self.inline_replies = inline_replies
        self.story_list: list[IgMedia] = []  # the stories still shown, newest first
        self.stories_refused = False
        # The account's biography, website and name (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("instagram")
        self.set_ig_dataset(ig)

    @property
    def ig(self) -> IgDataset:
        """The Instagram dataset being served."""
        return self._ig

    def set_ig_dataset(self, dataset: IgDataset) -> None:
        """Serve another dataset from the next request on (indexes built once, here)."""
        self._ig = dataset
        self._media = {m.id: m for m in dataset.media}
        self._feed = sorted(dataset.media, key=lambda m: (m.timestamp, m.id), reverse=True)
        self._comments = {c.id: c for c in dataset.comments}
        self._top: dict[str, list[IgComment]] = {}
        self._replies: dict[str, list[IgComment]] = {}
        for c in sorted(dataset.comments, key=lambda c: (c.timestamp, c.id)):
            if c.parent_id is None:
                self._top.setdefault(c.media_id, []).insert(0, c)  # newest first
            else:
                self._replies.setdefault(c.parent_id, []).append(c)

    def post_story(self, timestamp: str, caption: str | None = None,
                  media_type: str = "IMAGE") -> str:
        """A story posted at ``timestamp`` (Graph time) whose file this server serves; its id."""
        n = len(self.story_list) + 1
        sid = f"1795000000000{n:04d}"
        name = f"igstory{n}.{'mp4' if media_type == 'VIDEO' else 'png'}"
        self.story_list.insert(0, IgMedia(sid, caption, media_type, f"{self.origin}/media/{name}",
                                          f"https://www.instagram.com/stories/{IG_USERNAME}/{sid}/",
                                          timestamp))
        return sid

    def expire_story(self, story_id: str) -> None:
        """The story's 24 hours are over: the stories edge no longer lists it."""
        self.story_list = [m for m in self.story_list if m.id != story_id]

    def apply_second_state(self) -> None:
        """An edit, a hide, a deletion and a new comment (:func:`second_state_changes`)."""
        self.set_ig_dataset(self._ig.with_changes(second_state_changes()))

    # --- rendering ---------------------------------------------------------------------------

    def media_json(self, m: IgMedia) -> dict[str, Any]:
        """A media object as Graph returns it (absent fields left out)."""
        out: dict[str, Any] = {"id": m.id, "media_type": m.media_type}
        if m.caption is not None:
            out["caption"] = m.caption
        if m.media_url:
            out["media_url"] = m.media_url
        if m.thumbnail_url:
            out["thumbnail_url"] = m.thumbnail_url
        out.update(
            permalink=m.permalink, timestamp=m.timestamp, username=self._ig.username,
            owner={"id": self._ig.user_id}, media_product_type="FEED",
            comments_count=sum(1 for c in self._ig.comments if c.media_id == m.id),
            like_count=0, is_comment_enabled=True,
        )
        if m.children:
            out["children"] = {
                "data": [{"id": cid, "media_type": t, "media_url": u} for cid, t, u in m.children]
            }
        return out

    def comment_json(self, c: IgComment) -> dict[str, Any]:
        """A comment without its replies edge."""
        out: dict[str, Any] = {
            "id": c.id, "text": c.text, "timestamp": c.timestamp, "username": c.username,
            "from": {"id": c.user_id, "username": c.username}, "hidden": c.hidden,
            "like_count": c.like_count, "media": {"id": c.media_id},
        }
        if c.parent_id is not None:
            out["parent_id"] = c.parent_id
        return out

    def _with_replies(self, c: IgComment, sub: dict[str, Any] | None) -> dict[str, Any]:
        out = self.comment_json(c)
        replies = self._replies.get(c.id, [])
        if replies:
            shown = replies[: self.inline_replies]
            edge: dict[str, Any] = {"data": [select(self.comment_json(r), sub) for r in shown]}
            if len(replies) > len(shown):
                edge["paging"] = {
                    "next": f"{self.base_url}/{c.id}/replies?limit={self.page_size}"
                    f"&access_token={self.token}"
                }
            out["replies"] = edge
        return out

    # --- routing -----------------------------------------------------------------------------

    def route(self, request: Request) -> Answer:
        """The Instagram answer for one GET (token problems as the Graph server answers them)."""
        if request.path.startswith("/media/"):
            found = media_file(request.path.removeprefix("/media/"))
            if found is None:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            return 200, {"Content-Type": found[0]}, found[1]
        token, _ = self.credential(request)
        problem = self.token_problem(token)
        if problem is not None:
            return problem
        prefix = self.base_path + "/"
        if not request.path.startswith(prefix):
            return self._error(400, 2500, None, "Unknown path components", "OAuthException")
        segments = [s for s in request.path[len(prefix):].split("/") if s]
        if not segments or len(segments) > 2:
            return self._error(400, 2500, None, "Unknown path components", "OAuthException")
        query = request.query
        fields = parse_fields(query["fields"]) if query.get("fields") else None
        oid = segments[0]
        if len(segments) == 1:
            obj = self._object(oid)
            if obj is None:
                return self._unsupported(oid)
            return self._ok(select(obj, fields or {"id": None}))
        edge = segments[1]
        if oid == self._ig.user_id and edge == "media":
            return self._edge(request.path, query, self._feed, self.media_json,
                              fields or {"id": None}, request.loop)
        if oid == self._ig.user_id and edge == "stories":
            if self.stories_refused:
                return self.no_permission()
            return self._edge(request.path, query, self.story_list,
                              lambda m: {**self.media_json(m), "media_product_type": "STORY"},
                              fields or {"id": None}, request.loop)
        if oid == "me" and edge == "conversations":
            if self.inbox.refused:
                return self.no_permission()
            items = self.inbox.listing() if query.get("platform") == "instagram" else []
            return self._edge(request.path, query, items, dict, fields or {"id": None},
                              request.loop)
        if oid in self.inbox.conversations and edge == "messages":
            if self.inbox.refused:
                return self.no_permission()
            return self._edge(request.path, query, self.inbox.latest(oid), dict,
                              fields or {"id": None}, request.loop)
        if oid in self._media and edge == "comments":
            sub = (fields or {}).get("replies")
            top = dict(fields or {"id": None, "text": None, "timestamp": None})
            if "replies" in top:
                top["replies"] = None  # rendered (and field-selected) by _with_replies
            return self._edge(request.path, query, self._top.get(oid, []),
                              lambda c: self._with_replies(c, sub), top, request.loop)
        if oid in self._comments and edge == "replies":
            return self._edge(request.path, query, self._replies.get(oid, []),
                              self.comment_json, fields or {"id": None, "text": None},
                              request.loop)
        if oid in self._media or oid in self._comments or oid == self._ig.user_id:
            return self._error(400, 100, None, f"(#100) Tried accessing nonexisting field ({edge})",
                               "OAuthException")
        return self._unsupported(oid)

    def _object(self, oid: str) -> dict[str, Any] | None:  # type: ignore[override]  # one account, no page index
        if oid == self._ig.user_id:
            return {"id": oid, "username": self._ig.username, **self.profile}
        if oid in self._media:
            return self.media_json(self._media[oid])
        if oid in self._comments:
            return self._with_replies(self._comments[oid], None)
        return None
