"""A loopback server that speaks enough of Bluesky's XRPC API to archive an account.

Shapes followed (docs.bsky.app/docs/api, the lexicons under github.com/bluesky-social/atproto
``lexicons/``, atproto.com/specs/xrpc, docs.bsky.app/docs/advanced-guides/rate-limits):

* ``POST /xrpc/com.atproto.server.createSession`` ``{"identifier", "password"}`` →
  ``{"did", "handle", "accessJwt", "refreshJwt", "active"}``; a wrong identifier or app password
  is 401 ``AuthenticationRequired``;
* ``GET /xrpc/app.bsky.feed.getAuthorFeed?actor=&limit=&cursor=&filter=`` newest first, reposts
  as ``reason`` ``#reasonRepost``, an unknown actor 400 ``InvalidRequest`` "Profile not found";
* ``GET /xrpc/app.bsky.feed.getPostThread?uri=&depth=&parentHeight=``: ``#threadViewPost`` nodes,
  a deleted reply that still has answers as ``#notFoundPost``, a blocked account's reply as
  ``#blockedPost``, the root's ``threadgate`` with ``hiddenReplies``; an unknown or deleted post is
  400 ``NotFound`` "Post not found: <uri>";
* ``GET /xrpc/app.bsky.actor.getProfile?actor=`` (the sample department's description);
* the account's repository: ``com.atproto.repo.getRecord?repo=&collection=&rkey=`` (400
  ``RecordNotFound`` "Could not locate record: <uri>" once deleted) and ``describeRepo``;
* every read needs ``Authorization: Bearer <accessJwt>``: none is 401 ``AuthenticationRequired``,
  an unknown one 400 ``InvalidToken``, an expired session's 400 ``ExpiredToken``;
* ``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (Unix seconds) and ``-Policy`` on every answer,
  429 ``RateLimitExceeded`` once a window's requests are spent (on the injected clock).

:func:`sample_bluesky` is a small account with hostile text; :func:`second_state_changes`
deletes two replies (one keeps an answer, so the thread shows it as ``#notFoundPost``), hides one
and adds one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

ACCOUNT_DID = "did:plc:springfieldpd0000000000000"
ACCOUNT_HANDLE = "springfieldpd.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 - a made-up app password for the loopback server
WINDOW_S = 300  # the documented 5-minute window
JSON = {"Content-Type": "application/json; charset=utf-8"}
CDN = "https://cdn.bsky.example.invalid/img"
_VIEW = "app.bsky.feed.defs#"


@dataclass(frozen=True)
class BskyPost:
    """One post record: the account's or a visitor's (``root``/``parent``: the URIs it answers)."""

    did: str
    handle: str
    rkey: str
    text: str
    created_at: str
    root: str | None = None
    parent: str | None = None
    images: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        """``at://<did>/app.bsky.feed.post/<rkey>``."""
        return f"at://{self.did}/app.bsky.feed.post/{self.rkey}"


@dataclass(frozen=True)
class BskyChanges:
    """What happened on the account between two captures."""

    delete: tuple[str, ...] = ()  # URIs
    hide: tuple[tuple[str, str], ...] = ()  # (root URI, reply URI)
    add: tuple[BskyPost, ...] = ()


@dataclass(frozen=True)
class BskyDataset:
    """The account, every post on the network the sample knows, the threadgates' hidden replies
    (root URI → reply URIs), accounts the department blocked, and the account's reposts."""

    did: str
    handle: str
    posts: tuple[BskyPost, ...]
    hidden: tuple[tuple[str, tuple[str, ...]], ...] = ()
    blocked: tuple[str, ...] = ()
    reposts: tuple[str, ...] = ()  # URIs of others' posts the account reposted

    def with_changes(self, changes: BskyChanges) -> BskyDataset:
        """A new dataset with ``changes`` applied."""
        gone = set(changes.delete)
        hidden = {root: list(uris) for root, uris in self.hidden}
        for root, uri in changes.hide:
            hidden.setdefault(root, []).append(uri)
        posts = tuple(p for p in self.posts if p.uri not in gone) + changes.add
        return replace(self, posts=posts,
                       hidden=tuple((k, tuple(v)) for k, v in hidden.items()))


def _ts(day: int, hour: int, minute: int = 0) -> str:
    at = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour, minutes=minute)
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _visitor(n: int) -> tuple[str, str]:
    return f"did:plc:visitor{n:020d}", f"visitor{n}.bsky.social"


def _uri(did: str, rkey: str) -> str:
    return f"at://{did}/app.bsky.feed.post/{rkey}"


HOSTILE = "<script>alert('x')</script> \u202eoof\u202c Robert'); DROP TABLE items;-- \x1b[2J"
OTHER_ROOT = f"at://{_visitor(90)[0]}/app.bsky.feed.post/3kother00root"


def sample_bluesky(post_count: int = 6, replies_per_post: int = 3) -> BskyDataset:
    """The department's posts (one with images), visitors' replies and answers to them, the
    department answering in its own thread and in someone else's, a reply hidden by the
    threadgate (hostile text), a blocked account's reply, and a repost."""
    did, handle = ACCOUNT_DID, ACCOUNT_HANDLE
    posts: list[BskyPost] = []
    for i in range(1, post_count + 1):
        root = BskyPost(did, handle, f"3kpost{i:07d}",
                        f"Community update #{i} from Springfield PD.", _ts(i, 14),
                        images=(f"{CDN}/post{i}.jpg",) if i == 2 else ())
        posts.append(root)
        for j in range(1, replies_per_post + 1):
            vdid, vhandle = _visitor(j)
            reply = BskyPost(vdid, vhandle, f"3kr{i:05d}{j:05d}", f"Reply {j} on post {i}",
                             _ts(i, 15, j), root=root.uri, parent=root.uri)
            posts.append(reply)
            if j == 1:  # one answer under the first reply
                adid, ahandle = _visitor(50)
                posts.append(BskyPost(adid, ahandle, f"3ka{i:05d}{j:05d}",
                                      f"Answer to reply {j} on post {i}", _ts(i, 16, j),
                                      root=root.uri, parent=reply.uri))
        if i == 1:  # the department answers a visitor in its own thread
            posts.append(BskyPost(did, handle, "3kpdanswer0001", "Thanks, we will look into it.",
                                  _ts(i, 17), root=root.uri, parent=f"at://{_visitor(1)[0]}/"
                                  f"app.bsky.feed.post/3kr{i:05d}{1:05d}"))
    # A visitor's post elsewhere and the department's reply to it (kept at the top level).
    odid, ohandle = _visitor(90)
    posts.append(BskyPost(odid, ohandle, "3kother00root", "Is the road closure still on?",
                          _ts(3, 9)))
    posts.append(BskyPost(did, handle, "3kpdelsewhere1", "Yes, until Friday 6 PM.", _ts(3, 10),
                          root=OTHER_ROOT, parent=OTHER_ROOT))
    troll_did, troll_handle = _visitor(66)
    fourth = _uri(did, "3kpost0000004")
    troll = BskyPost(troll_did, troll_handle, "3ktroll0000001", HOSTILE, _ts(4, 18),
                     root=fourth, parent=fourth)
    posts.append(troll)
    blocked_did, blocked_handle = _visitor(77)
    fifth = _uri(did, "3kpost0000005")
    posts.append(BskyPost(blocked_did, blocked_handle, "3kblocked00001", "blocked reply",
                          _ts(5, 19), root=fifth, parent=fifth))
    return BskyDataset(did, handle, tuple(posts), hidden=((troll.root or "", (troll.uri,)),),
                       blocked=(blocked_did,), reposts=(OTHER_ROOT,))


# URIs the second state touches (used by tests).
DELETED_LEAF = _uri(_visitor(2)[0], "3kr0000300002")
DELETED_WITH_ANSWER = _uri(_visitor(1)[0], "3kr0000200001")  # its answer stays
HIDDEN_IN_SECOND_STATE = _uri(_visitor(3)[0], "3kr0000100003")
NEW_REPLY = _uri(_visitor(4)[0], "3kr0000600009")


def second_state_changes() -> BskyChanges:
    """Two deleted replies (one still answered), a reply hidden by the threadgate, a new one."""
    post1, post6 = _uri(ACCOUNT_DID, "3kpost0000001"), _uri(ACCOUNT_DID, "3kpost0000006")
    vdid, vhandle = _visitor(4)
    return BskyChanges(
        delete=(DELETED_LEAF, DELETED_WITH_ANSWER),
        hide=((post1, HIDDEN_IN_SECOND_STATE),),
        add=(BskyPost(vdid, vhandle, "3kr0000600009", "Thanks for the update!", _ts(20, 9),
                      root=post6, parent=post6),),
    )


class BlueskyServer(LoopbackServer):
    """A Bluesky (PDS with AppView) look-alike on 127.0.0.1."""

    def __init__(
        self,
        dataset: BskyDataset | None = None,
        *,
        page_size: int = 100,
        password: str = APP_PASSWORD,
        clock: Callable[[], float] = time.time,
        rate_limit: int = 3000,
    ) -> None:
        super().__init__()
        self.page_size = page_size
        self.password = password
        self.clock = clock
        self.rate_limit = rate_limit
        self.sessions: dict[str, str] = {}  # accessJwt → "valid" | "expired"
        self.sign_ins = 0
        self.profile: dict[str, Any] = sample_profile("bluesky")
        self._window = (0.0, 0)  # (window start, requests in it)
        self.set_dataset(dataset or sample_bluesky())

    # --- state -------------------------------------------------------------------------------

    @property
    def dataset(self) -> BskyDataset:
        """The dataset being served."""
        return self._data

    @property
    def token(self) -> str:
        """The app password (what the account's variable holds)."""
        return self.password

    def set_dataset(self, dataset: BskyDataset) -> None:
        """Serve another dataset from the next request on (indexes built once, here)."""
        self._data = dataset
        self._posts = {p.uri: p for p in dataset.posts}
        self._children: dict[str, list[BskyPost]] = {}
        for p in sorted(dataset.posts, key=lambda p: (p.created_at, p.uri)):
            if p.parent is not None:
                self._children.setdefault(p.parent, []).append(p)
        mine = [p for p in dataset.posts if p.did == dataset.did]
        feed: list[tuple[str, str, str | None]] = [(p.created_at, p.uri, None) for p in mine]
        feed += [(_ts(8, 12), uri, "repost") for uri in dataset.reposts if uri in self._posts]
        self._feed = sorted(feed, reverse=True)
        self._hidden = dict(dataset.hidden)

    def apply_second_state(self) -> None:
        """Deletions, a hide and a new reply (:func:`second_state_changes`)."""
        self.set_dataset(self._data.with_changes(second_state_changes()))

    def expire_sessions(self) -> None:
        """Every session signed in so far answers ``ExpiredToken`` from now on."""
        self.sessions = dict.fromkeys(self.sessions, "expired")

    # --- rendering ---------------------------------------------------------------------------

    def post_view(self, p: BskyPost) -> dict[str, Any]:
        """An ``app.bsky.feed.defs#postView``."""
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": p.text,
                                  "createdAt": p.created_at, "langs": ["en"]}
        if p.root and p.parent:
            record["reply"] = {"root": {"uri": p.root, "cid": _cid(p.root)},
                               "parent": {"uri": p.parent, "cid": _cid(p.parent)}}
        view: dict[str, Any] = {
            "uri": p.uri, "cid": _cid(p.uri),
            "author": {"did": p.did, "handle": p.handle, "displayName": p.handle.split(".")[0],
                       "avatar": f"{CDN}/avatar/{p.did}.jpg", "labels": []},
            "record": record, "replyCount": len(self._children.get(p.uri, [])),
            "repostCount": 0, "likeCount": 0, "quoteCount": 0, "indexedAt": p.created_at,
            "labels": [],
        }
        if p.images:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": "", "image": {"$type": "blob", "ref": {"$link": _cid(u)},
                                      "mimeType": "image/jpeg", "size": 1000}}
                for u in p.images]}
            view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"{u}?thumb", "fullsize": u, "alt": ""} for u in p.images]}
        return view

    def thread_node(self, p: BskyPost, depth: int) -> dict[str, Any]:
        """A ``#threadViewPost`` with its replies down to ``depth``."""
        node: dict[str, Any] = {"$type": f"{_VIEW}threadViewPost", "post": self.post_view(p)}
        if depth > 0:
            node["replies"] = [self._reply_node(c, depth - 1)
                               for c in self._children.get(p.uri, [])]
        return node

    def _reply_node(self, p: BskyPost, depth: int) -> dict[str, Any]:
        if p.did in self._data.blocked:
            return {"$type": f"{_VIEW}blockedPost", "uri": p.uri, "blocked": True,
                    "author": {"did": p.did, "viewer": {"blockedBy": False,
                                                        "blocking": f"at://{self._data.did}/"
                                                        "app.bsky.graph.block/3kblock"}}}
        return self.thread_node(p, depth)

    # --- routing -----------------------------------------------------------------------------

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "status":
            return self._error(fault.status, "InternalServerError", "Internal Server Error")
        if fault.kind == "retry_after":
            status, hdrs, body = self._error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            reset = int(self.clock()) + int(fault.retry_after or "60")
            return status, {**hdrs, **self._limit_headers(0, reset)}, body
        return None

    def extra_headers(self) -> dict[str, str]:
        start, used = self._window
        return self._limit_headers(max(0, self.rate_limit - used), int(start + WINDOW_S))

    def _limit_headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.rate_limit), "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": f"{self.rate_limit};w={WINDOW_S}"}

    def route(self, request: Request) -> Answer:
        """The XRPC answer for one request."""
        now = self.clock()
        start, used = self._window
        if now >= start + WINDOW_S:
            start, used = now, 0
        if used >= self.rate_limit:
            status, hdrs, body = self._error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            return status, {**hdrs, **self._limit_headers(0, int(start + WINDOW_S))}, body
        self._window = (start, used + 1)
        method = request.path.removeprefix("/xrpc/")
        if method == "com.atproto.server.createSession":
            return self._create_session(request)
        problem = self._session_problem(request)
        if problem is not None:
            return problem
        q = request.query
        if method == "app.bsky.feed.getAuthorFeed":
            return self._author_feed(q)
        if method == "app.bsky.feed.getPostThread":
            return self._post_thread(q)
        if method == "com.atproto.repo.getRecord":
            return self._get_record(q)
        if method == "com.atproto.repo.describeRepo":
            if q.get("repo") not in (self._data.did, self._data.handle):
                return self._error(400, "InvalidRequest", f"Could not find repo: {q.get('repo')}")
            return self._ok({"handle": self._data.handle, "did": self._data.did,
                             "collections": ["app.bsky.feed.post"], "handleIsCorrect": True})
        if method == "app.bsky.actor.getProfile":
            if q.get("actor") not in (self._data.did, self._data.handle):
                return self._error(400, "InvalidRequest", "Profile not found")
            return self._ok({"did": self._data.did, "handle": self._data.handle,
                             "postsCount": len(self._feed), **self.profile})
        return self._error(501, "MethodNotImplemented", "Method Not Implemented")

    def _create_session(self, request: Request) -> Answer:
        if request.method != "POST":
            return self._error(400, "InvalidRequest", "Method not allowed: use POST")
        try:
            body = json.loads(request.body)
        except ValueError:
            return self._error(400, "InvalidRequest", "Request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("identifier"), str):
            return self._error(400, "InvalidRequest", 'Input must have the property "identifier"')
        if (body["identifier"] not in (self._data.did, self._data.handle)
                or body.get("password") != self.password):
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
        access, refresh = (f"eyJ{secrets.token_urlsafe(24)}" for _ in range(2))
        self.sessions[access] = "valid"
        self.sign_ins += 1
        return self._ok({"did": self._data.did, "handle": self._data.handle, "active": True,
                         "accessJwt": access, "refreshJwt": refresh})

    def _session_problem(self, request: Request) -> Answer | None:
        token, _ = self.credential(request)
        if token is None:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        state = self.sessions.get(token)
        if state is None:
            return self._error(400, "InvalidToken", "Token could not be verified")
        if state == "expired":
            return self._error(400, "ExpiredToken", "Token has expired")
        return None

    def _get_record(self, q: dict[str, str]) -> Answer:
        """The account's own records only: others live in their own repositories."""
        if q.get("repo") not in (self._data.did, self._data.handle):
            return self._error(400, "InvalidRequest", f"Could not find repo: {q.get('repo')}")
        uri = f"at://{self._data.did}/{q.get('collection')}/{q.get('rkey')}"
        post = self._posts.get(uri)
        if post is None:
            return self._error(400, "RecordNotFound", f"Could not locate record: {uri}")
        view = self.post_view(post)
        return self._ok({"uri": uri, "cid": view["cid"], "value": view["record"]})

    def _author_feed(self, q: dict[str, str]) -> Answer:
        if q.get("actor") not in (self._data.did, self._data.handle):
            return self._error(400, "InvalidRequest", "Profile not found")
        try:
            limit = int(q.get("limit", "50"))
            offset = int(q["cursor"]) if q.get("cursor") else 0
        except ValueError:
            return self._error(400, "InvalidRequest", "Error: limit or cursor is not valid")
        if not 1 <= limit <= 100:
            return self._error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        size = min(limit, self.page_size)
        chosen = self._feed
        if q.get("filter") == "posts_no_replies":
            chosen = [f for f in chosen if f[2] or self._posts[f[1]].parent is None]
        items = []
        for _, uri, reason in chosen[offset:offset + size]:
            item: dict[str, Any] = {"post": self.post_view(self._posts[uri])}
            if reason:
                item["reason"] = {"$type": f"{_VIEW}reasonRepost", "indexedAt": _ts(8, 12),
                                  "by": {"did": self._data.did, "handle": self._data.handle}}
            items.append(item)
        body: dict[str, Any] = {"feed": items}
        if offset + size < len(chosen):
            body["cursor"] = str(offset + size)
        return self._ok(body)

    def _post_thread(self, q: dict[str, str]) -> Answer:
        uri = q.get("uri", "")
        post = self._posts.get(uri)
        if post is None:
            return self._error(400, "NotFound", f"Post not found: {uri}")
        try:
            depth = min(1000, int(q.get("depth", "6")))
        except ValueError:
            return self._error(400, "InvalidRequest", "Error: depth is not valid")
        body: dict[str, Any] = {"thread": self._thread_with_gaps(post, depth)}
        root = post.root or post.uri
        if root in self._hidden:
            body["threadgate"] = {
                "uri": root.replace("app.bsky.feed.post", "app.bsky.feed.threadgate"),
                "cid": _cid(root + "#gate"), "lists": [],
                "record": {"$type": "app.bsky.feed.threadgate", "post": root,
                           "createdAt": _ts(1, 0), "hiddenReplies": list(self._hidden[root])}}
        return self._ok(body)

    def _thread_with_gaps(self, post: BskyPost, depth: int) -> dict[str, Any]:
        """The thread, with a deleted reply that still has answers as ``#notFoundPost``."""
        node = self.thread_node(post, depth)
        orphans = [p for p in self._data.posts
                   if p.parent and p.parent not in self._posts and p.root == post.uri]
        if orphans and depth > 1:
            node.setdefault("replies", [])
            for parent in dict.fromkeys(p.parent for p in orphans):
                node["replies"].append({"$type": f"{_VIEW}notFoundPost", "uri": parent,
                                        "notFound": True})
        return node

    @staticmethod
    def _error(status: int, error: str, message: str) -> Answer:
        return status, dict(JSON), json.dumps({"error": error, "message": message}).encode()

    @staticmethod
    def _ok(payload: Any) -> Answer:
        return 200, dict(JSON), json.dumps(payload, ensure_ascii=True).encode()


def _cid(text: str) -> str:
    """A stable stand-in content id."""
    return "bafyrei" + hashlib.sha256(text.encode()).hexdigest()[:52]
