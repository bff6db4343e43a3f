"""A loopback server that speaks enough of Meta's Threads API to archive an account.

Shapes followed (developers.facebook.com/docs/threads: retrieve-and-discover-posts/retrieve-posts,
reply-management, threads-media, threads-profiles; the Threads API is a Graph API, so the Graph
look-alike's error bodies, faults, usage headers and cursor paging are reused):

* ``GET /v1.0/{threads-user-id}/threads`` the account's posts newest first, a repost as a
  ``REPOST_FACADE`` with ``reposted_post``;
* ``GET /v1.0/{threads-user-id}/replies`` the account's own replies, newest first;
* ``GET /v1.0/{threads-media-id}/conversation`` every reply under a post or reply, flattened,
  newest first unless ``reverse=false``; each with ``root_post``, ``replied_to``, ``is_reply``
  and ``hide_status``; hiding a top-level reply hides the replies under it too;
* ``GET /v1.0/{id}`` object reads (the account's ``username``, ``name``, ``threads_biography``);
  unknown or deleted ids answer Graph error 100/33;
* paging with ``paging.cursors`` and, unless ``next_links`` is off (Meta's examples show only the
  cursors), a ``paging.next`` URL that carries ``access_token`` as Graph's does.

:func:`sample_threads` is a small account with hostile text; :func:`second_state_changes` edits a
post, hides a reply (and the one under it), deletes a reply and adds one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.dataset import PageDataset
from archiver.standins.graph_render import parse_fields, select
from archiver.standins.graph_server import DEFAULT_TOKEN, GraphServer
from archiver.standins.loopback import Answer, Request
from archiver.standins.profiles import sample_profile

TH_USER_ID = "17841460000000001"
TH_USERNAME = "springfieldpd"
CDN = "https://scontent.cdninstagram.example.invalid/t"
HOSTILE = "<img src=x onerror=alert(1)> \u202egnp.exe\u202c =HYPERLINK(\"http://x\") \x1b[2J"


@dataclass(frozen=True)
class ThPost:
    """One Threads media object of the account."""

    id: str
    text: str | None
    media_type: str  # TEXT_POST, IMAGE, VIDEO, CAROUSEL_ALBUM, REPOST_FACADE
    timestamp: str
    media_url: str | None = None
    reposted: str | None = None


@dataclass(frozen=True)
class ThReply:
    """A reply: ``replied_to`` is the post or reply it answers, ``root`` the thread's post."""

    id: str
    root: str
    replied_to: str
    text: str
    timestamp: str
    username: str
    hide_status: str = "NOT_HUSHED"


@dataclass(frozen=True)
class ThChanges:
    """What happened on the account between two captures."""

    edits: tuple[tuple[str, str], ...] = ()
    hide: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    add: tuple[ThReply, ...] = ()


@dataclass(frozen=True)
class ThDataset:
    """A whole account: its posts and every reply the sample knows (the account's own too)."""

    user_id: str
    username: str
    posts: tuple[ThPost, ...]
    replies: tuple[ThReply, ...]

    def with_changes(self, changes: ThChanges) -> ThDataset:
        """A new dataset with ``changes``; hiding a reply hides the replies under it."""
        edits = dict(changes.edits)
        posts = tuple(replace(p, text=edits[p.id]) if p.id in edits else p for p in self.posts)
        hide = set(changes.hide)
        grew = True
        while grew:
            more = {r.id for r in self.replies if r.replied_to in hide}
            grew = not more <= hide
            hide |= more
        replies = tuple(replace(r, hide_status="HIDDEN") if r.id in hide else r
                        for r in self.replies if r.id not in changes.delete)
        return replace(self, posts=posts, replies=replies + changes.add)


def _ts(day: int, hour: int, minute: int = 0) -> str:
    at = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour, minutes=minute)
    return at.strftime("%Y-%m-%dT%H:%M:00+0000")


OTHER_POST = "18099990000000001"  # someone else's post the department answered


def sample_threads(post_count: int = 6, replies_per_post: int = 3) -> ThDataset:
    """Text and image posts and a repost; replies, answers to them, the department answering in
    its own thread and under someone else's post; a hidden reply with hostile text, a reply
    from a restricted account."""
    posts: list[ThPost] = []
    replies: list[ThReply] = []
    for i in range(1, post_count + 1):
        pid = f"1808000000000{i:04d}"
        image = i % 3 == 2
        posts.append(ThPost(pid, f"Community update #{i} from Springfield PD.",
                            "IMAGE" if image else "TEXT_POST", _ts(i, 14),
                            media_url=f"{CDN}/post{i}.jpg" if image else None))
        for j in range(1, replies_per_post + 1):
            rid = f"1809000000{i:03d}{j:02d}0"
            replies.append(ThReply(rid, pid, pid, f"Reply {j} on post {i}", _ts(i, 15, j),
                                   f"visitor{j}"))
            if j == 1:
                replies.append(ThReply(f"1809000000{i:03d}{j:02d}1", pid, rid,
                                       f"Answer to reply {j} on post {i}", _ts(i, 16, j),
                                       "answerer"))
    posts.append(ThPost("18080000000009999", None, "REPOST_FACADE", _ts(8, 9),
                        reposted=OTHER_POST))
    first = posts[0].id
    replies.append(ThReply("18090000000019990", first, "1809000000001010",
                           "We are looking into it.", _ts(1, 17), TH_USERNAME))
    replies.append(ThReply("18090000000029990", OTHER_POST, OTHER_POST,
                           "Yes, the road is closed until Friday.", _ts(3, 10), TH_USERNAME))
    replies.append(ThReply("18090000000039990", OTHER_POST, "18090000000029990",
                           "Thanks!", _ts(3, 11), "neighbour"))
    fourth = posts[3].id
    replies.append(ThReply("18090000000049990", fourth, fourth, HOSTILE, _ts(4, 18), "troll",
                           hide_status="HIDDEN"))
    replies.append(ThReply("18090000000049991", fourth, fourth, "restricted account's reply",
                           _ts(4, 19), "restricted1", hide_status="RESTRICTED"))
    return ThDataset(TH_USER_ID, TH_USERNAME, tuple(posts), tuple(replies))


# Ids the second state touches (used by tests).
EDITED_POST = "18080000000000001"
HIDDEN_IN_SECOND_STATE = "1809000000002010"  # its answer 1809000000002011 is hidden with it
DELETED_IN_SECOND_STATE = "1809000000003020"
NEW_REPLY = "18090000000069990"


def second_state_changes() -> ThChanges:
    """An edited post, a hidden reply (and its answer), a deleted reply, a new reply."""
    post6 = "18080000000000006"
    return ThChanges(
        edits=((EDITED_POST, "Community update #1 from Springfield PD. (Corrected: 6 PM)"),),
        hide=(HIDDEN_IN_SECOND_STATE,),
        delete=(DELETED_IN_SECOND_STATE,),
        add=(ThReply(NEW_REPLY, post6, post6, "Thanks for the update!", _ts(20, 9), "newcomer"),),
    )


class ThreadsServer(GraphServer):
    """A Threads API look-alike. Errors, faults, usage headers and paging are the Graph
    server's; ``next_links=False`` leaves ``paging.next`` out as Meta's examples do."""

    base_path = "/v1.0"

    def __init__(
        self,
        dataset: ThDataset | None = None,
        *,
        page_size: int = 25,
        token: str = DEFAULT_TOKEN,
        next_links: bool = True,
        page_pattern: Sequence[int] | None = None,
    ) -> None:
        th = dataset or sample_threads()
        super().__init__(PageDataset(th.user_id, th.username, (), ()), page_size=page_size,
                         token=token, page_pattern=page_pattern)
        self.next_links = next_links
        self.profile: dict[str, Any] = sample_profile("threads")
        self.set_threads_dataset(th)

    @property
    def th(self) -> ThDataset:
        """The Threads dataset being served."""
        return self._th

    def set_threads_dataset(self, dataset: ThDataset) -> None:
        """Serve another dataset from the next request on (indexes built once, here)."""
        self._th = dataset
        self._posts = {p.id: p for p in dataset.posts}
        self._replies = {r.id: r for r in dataset.replies}
        self._feed = sorted(dataset.posts, key=lambda p: (p.timestamp, p.id), reverse=True)
        self._mine = sorted((r for r in dataset.replies if r.username == dataset.username),
                            key=lambda r: (r.timestamp, r.id), reverse=True)
        children: dict[str, list[ThReply]] = {}
        for r in dataset.replies:
            children.setdefault(r.replied_to, []).append(r)
        self._under: dict[str, list[ThReply]] = {}
        for top in (*self._posts, *self._replies, OTHER_POST):
            found, stack = [], list(children.get(top, []))
            while stack:
                r = stack.pop()
                found.append(r)
                stack.extend(children.get(r.id, []))
            self._under[top] = sorted(found, key=lambda r: (r.timestamp, r.id), reverse=True)

    def apply_second_state(self) -> None:
        """An edit, a hide, a deletion and a new reply (:func:`second_state_changes`)."""
        self.set_threads_dataset(self._th.with_changes(second_state_changes()))

    # --- rendering ---------------------------------------------------------------------------

    def post_json(self, p: ThPost) -> dict[str, Any]:
        """A Threads media object of the account."""
        out: dict[str, Any] = {"id": p.id, "media_type": p.media_type,
                               "media_product_type": "THREADS", "timestamp": p.timestamp,
                               "permalink": f"https://www.threads.net/@{self._th.username}/post/"
                                            f"T{p.id[-6:]}",
                               "shortcode": f"T{p.id[-6:]}", "username": self._th.username,
                               "owner": {"id": self._th.user_id}, "is_quote_post": False}
        if p.text is not None:
            out["text"] = p.text
        if p.media_url:
            out["media_url"] = p.media_url
        if p.reposted:
            out["reposted_post"] = {"id": p.reposted}
        return out

    def reply_json(self, r: ThReply) -> dict[str, Any]:
        """A reply as the owner of the conversation sees it."""
        return {"id": r.id, "text": r.text, "timestamp": r.timestamp, "username": r.username,
                "media_type": "TEXT_POST", "media_product_type": "THREADS",
                "permalink": f"https://www.threads.net/@{r.username}/post/R{r.id[-6:]}",
                "shortcode": f"R{r.id[-6:]}", "is_reply": True, "is_quote_post": False,
                "root_post": {"id": r.root}, "replied_to": {"id": r.replied_to},
                "has_replies": bool(self._under.get(r.id)), "hide_status": r.hide_status}

    # --- routing -----------------------------------------------------------------------------

    def route(self, request: Request) -> Answer:
        """The Threads answer for one GET."""
        problem = self.token_problem(self.credential(request)[0])
        if problem is not None:
            return problem
        segments = [s for s in request.path.removeprefix(self.base_path).split("/") if s]
        if not request.path.startswith(self.base_path + "/") or not 1 <= len(segments) <= 2:
            return self._error(400, 2500, None, "Unknown path components", "OAuthException")
        query = request.query
        fields = parse_fields(query["fields"]) if query.get("fields") else None
        oid = segments[0]
        if len(segments) == 1:
            obj = self._threads_object(oid)
            if obj is None:
                return self._unsupported(oid)
            return self._ok(select(obj, fields or {"id": None}))
        edge = segments[1]
        items: Sequence[Any]
        render: Any
        if oid == self._th.user_id and edge == "threads":
            items, render = self._feed, self.post_json
        elif oid == self._th.user_id and edge == "replies":
            items, render = self._mine, self.reply_json
        elif edge == "conversation" and (oid in self._posts or oid in self._replies):
            items, render = self._under.get(oid, []), self.reply_json
            if query.get("reverse") == "false":
                items = items[::-1]
        elif oid in self._posts or oid in self._replies or oid == self._th.user_id:
            return self._error(400, 100, None,
                               f"(#100) Tried accessing nonexisting field ({edge})",
                               "OAuthException")
        else:
            return self._unsupported(oid)
        status, headers, body = self._edge(request.path, query, items, render,
                                           fields or {"id": None}, request.loop)
        if not self.next_links:
            body = _without_next(body)
        return status, headers, body

    def _threads_object(self, oid: str) -> dict[str, Any] | None:
        if oid == self._th.user_id:
            return {"id": oid, "username": self._th.username, **self.profile}
        if oid in self._posts:
            return self.post_json(self._posts[oid])
        if oid in self._replies:
            return self.reply_json(self._replies[oid])
        return None


def _without_next(body: bytes) -> bytes:
    payload = json.loads(body)
    paging = payload.get("paging")
    if isinstance(paging, dict):
        paging.pop("next", None)
    return json.dumps(payload, ensure_ascii=True).encode()
