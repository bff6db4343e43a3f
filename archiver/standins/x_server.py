"""A loopback server that speaks enough of the X API v2 to archive an account.

Shapes followed (docs.x.com / developer.x.com, X API v2):

* ``GET /2/users/:id/tweets`` (user Post timeline): reverse chronological, ``max_results`` 5-100,
  ``pagination_token`` / ``meta.next_token``, ``exclude=replies,retweets``; always the most recent
  version of an edited post with ``edit_history_tweet_ids`` (oldest first)
  (.../x-api/posts/timelines, .../x-api/edit-tweets);
* ``GET /2/tweets/search/recent?query=conversation_id:<id>``: the last 7 days only, ``max_results``
  10-100, ``next_token`` (.../x-api/posts/search, .../x-api/conversation-id);
* ``GET /2/tweets?ids=a,b``: 200 with ``data`` for living posts (an older edit id answers that
  version) and ``errors`` "Not Found Error" / ``resource-not-found`` for gone ones;
  ``GET /2/users/:id`` (with ``user.fields=description,url,location,entities`` the account's
  own profile: the sample department's text, .../x-api/users/user-lookup-by-id);
* ``tweet.fields``, ``expansions=author_id,attachments.media_keys`` (``includes.users``,
  ``includes.media``); ``data`` is left out when there are no results;
* reposts and quotes (https://docs.x.com/x-api/fundamentals/data-dictionary#tweet and
  https://docs.x.com/x-api/fundamentals/expansions): a repost's ``text`` is X's shortened
  ``RT @handle: ...`` (140 characters, ending in an ellipsis) and a post longer than 280 characters
  shows only its first 280 in ``text``, its whole text in ``note_tweet.text`` when ``tweet.fields``
  asks for ``note_tweet``; ``referenced_tweets`` names ``retweeted``/``quoted``/``replied_to``
  posts, which ``expansions=referenced_tweets.id`` puts in ``includes.tweets`` (rendered with the
  same ``tweet.fields``) and ``referenced_tweets.id.author_id`` adds their authors to
  ``includes.users``;
* ``x-rate-limit-limit/-remaining/-reset`` (Unix seconds) on every answer, 15-minute windows per
  endpoint; 429 bodies in problem shape (``{"title":"Too Many Requests",...}``), the v1.1 shape
  (``{"errors":[{"code":88,...}]}``) and the usage cap (``"title":"UsageCapExceeded"``);
  401 problem body for a wrong or missing Bearer token;
* ``GET /2/dm_events``: the account's direct messages (:mod:`archiver.standins.x_dm`).

:func:`sample_x` builds a small account relative to a clock (search only looks 7 days back);
:meth:`XServer.apply_second_state` edits a post (new id, history grows), withholds a reply
(the platform's moderation, status hidden), deletes a reply and adds one.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile
from archiver.standins.x_dm import APP_ONLY, XDirectMessages

DEFAULT_TOKEN = "sample-x-bearer-token"  # noqa: S105 - a made-up token for the loopback server
ACCOUNT_ID = "2244994945"
WINDOW_S = 15 * 60
SEARCH_DAYS = 7
JSON = {"Content-Type": "application/json; charset=utf-8"}
LONG_POST = 280  # longer posts show their first 280 characters in ``text``
RT_SHOWN = 140  # a repost's ``RT @handle: ...`` text is cut to this length
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
_EPOCH_MS = 1288834974657  # X snowflake epoch


def snowflake(when: datetime, seq: int) -> str:
    """An X-style id whose high bits are ``when`` (so ids sort by time, as X's do)."""
    ms = int(when.timestamp() * 1000) - _EPOCH_MS
    return str((ms << 22) | (seq & 0x3FFFFF))


@dataclass(frozen=True)
class XUser:
    id: str
    name: str
    username: str


@dataclass(frozen=True)
class XPost:
    """A post; ``history`` is the edit history (oldest first), ``texts`` the text of each."""

    history: tuple[str, ...]
    texts: tuple[str, ...]
    author_id: str
    created_at: datetime  # of the latest version
    conversation_id: str
    replied_to: str | None = None
    withheld: bool = False
    media_key: str | None = None
    # ("retweeted" | "quoted", id): the posts this one reposts or quotes.
    references: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return self.history[-1]


@dataclass(frozen=True)
class XDataset:
    """A whole account: its posts and the replies in their conversations."""

    account: XUser
    users: tuple[XUser, ...]
    posts: tuple[XPost, ...]
    media: tuple[dict[str, Any], ...] = ()


def sample_x(now: datetime) -> XDataset:
    """Six posts over the last days (one 10 days old), replies, a reply to a reply, a photo."""
    account = XUser(ACCOUNT_ID, "Springfield Police", "SpringfieldPD")
    visitors = tuple(XUser(f"6304444{n}", f"Visitor {n}", f"visitor{n}") for n in range(1, 5))
    posts: list[XPost] = []
    seq = 0
    for i, days in enumerate((0.5, 1, 2, 3, 5, 10), start=1):
        seq += 1
        at = now - timedelta(days=days)
        pid = snowflake(at, seq)
        posts.append(
            XPost((pid,), (f"Update {i}: road closures and safety notes. #Springfield",),
                  ACCOUNT_ID, at, pid, media_key=f"3_{pid}" if i == 2 else None)
        )
        for j in range(1, 4 if i % 2 else 2):
            seq += 1
            rat = at + timedelta(minutes=10 * j)
            rid = snowflake(rat, seq)
            who = visitors[(i + j) % len(visitors)]
            text = f"@SpringfieldPD question {j} about update {i}"
            if i == 3 and j == 1:
                text = "<img src=x onerror=alert(1)> @SpringfieldPD 🚓 ¿qué pasó?"
            posts.append(XPost((rid,), (text,), who.id, rat, pid, replied_to=pid))
            if i == 1 and j == 1:
                seq += 1
                aid = snowflake(rat + timedelta(minutes=1), seq)
                posts.append(XPost((aid,), ("@visitor2 we are on it.",), ACCOUNT_ID,
                                   rat + timedelta(minutes=1), pid, replied_to=rid))
    media = tuple(
        {"media_key": p.media_key, "type": "photo", "url": f"https://pbs.twimg.example.invalid/{p.id}.jpg"}
        for p in posts if p.media_key
    )
    return XDataset(account, (account, *visitors), tuple(posts), media)


def synthetic_x(now: datetime, posts: int, replies_per_post: int) -> XDataset:
    """A generated account for benchmarks: ``posts`` posts spread over the last six days (inside
    search's 7-day window, so every reply is found), each with ``replies_per_post`` replies."""
    account = XUser(ACCOUNT_ID, "Springfield Police", "SpringfieldPD")
    visitors = tuple(XUser(f"7{n:09d}", f"Visitor {n}", f"visitor{n}") for n in range(1, 101))
    out: list[XPost] = []
    seq = 0
    step = timedelta(days=6) / max(posts, 1)
    for i in range(posts):
        seq += 1
        at = now - timedelta(days=6) + step * i
        pid = snowflake(at, seq)
        out.append(XPost((pid,), (f"Update {i + 1}: community notes.",), ACCOUNT_ID, at, pid))
        for j in range(replies_per_post):
            seq += 1
            rat = at + timedelta(seconds=j + 1)
            who = visitors[(i + j) % len(visitors)]
            out.append(XPost((snowflake(rat, seq),), (f"@SpringfieldPD reply {j + 1} to {i + 1}",),
                             who.id, rat, pid, replied_to=pid))
    return XDataset(account, (account, *visitors), tuple(out))


class XServer(LoopbackServer):
    """An X API v2 look-alike on 127.0.0.1."""

    def __init__(
        self,
        dataset: XDataset | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        clock: Callable[[], float] = time.time,
        rate_limit: int = 100_000,
        search_page: int = 100,
        timeline_page: int = 100,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.token = token
        self.rate_limit = rate_limit
        self.search_page = search_page
        self.timeline_page = timeline_page
        self.dataset = dataset or sample_x(datetime.fromtimestamp(clock(), UTC))
        self._windows: dict[str, tuple[float, int]] = {}  # endpoint -> (reset, used)
        self._last_endpoint = ""
        self._by_any_id: tuple[XDataset, dict[str, tuple[XPost, int]]] | None = None
        # The account's description, location and web address.
        self.profile: dict[str, Any] = sample_profile("x")
        self.dms = XDirectMessages()  # GET /2/dm_events (archiver.standins.x_dm)

    # --- state -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The server's clock."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def posts_by_any_id(self) -> Mapping[str, tuple[XPost, int]]:
        """Every id of every version → (post, version index); read-only."""
        # Built once per dataset (datasets are frozen and replaced whole on every change):
        # rebuilding it for every rendered reply made large accounts quadratic.
        cached = self._by_any_id
        if cached is None or cached[0] is not self.dataset:
            index = {vid: (p, n) for p in self.dataset.posts for n, vid in enumerate(p.history)}
            cached = self._by_any_id = (self.dataset, index)
        return cached[1]

    def edit(self, post_id: str, text: str) -> str:
        """Edit a post: a new id joins its history (X makes a new id per edit). Returns it."""
        new_id = snowflake(self.now(), 4000 + len(self.dataset.posts))
        self._replace(post_id, lambda p: replace(
            p, history=(*p.history, new_id), texts=(*p.texts, text), created_at=self.now()))
        return new_id

    def withhold(self, post_id: str) -> None:
        """Withhold a post (X's moderation: it stays listed, flagged ``withheld``)."""
        self._replace(post_id, lambda p: replace(p, withheld=True))

    def delete(self, post_id: str) -> None:
        """Delete a post (every version of it)."""
        self.dataset = replace(
            self.dataset, posts=tuple(p for p in self.dataset.posts if post_id not in p.history)
        )

    def add_reply(self, conversation_id: str, replied_to: str, author_id: str, text: str) -> str:
        """A new reply now; returns its id."""
        rid = snowflake(self.now(), 5000 + len(self.dataset.posts))
        post = XPost((rid,), (text,), author_id, self.now(), conversation_id, replied_to)
        self.dataset = replace(self.dataset, posts=(*self.dataset.posts, post))
        return rid

    def add_post(self, text: str, author_id: str = ACCOUNT_ID,
                 references: tuple[tuple[str, str], ...] = ()) -> str:
        """A new top-level post now (a repost or quote when ``references`` says so); its id."""
        pid = snowflake(self.now(), 6000 + len(self.dataset.posts))
        post = XPost((pid,), (text,), author_id, self.now(), pid, references=references)
        self.dataset = replace(self.dataset, posts=(*self.dataset.posts, post))
        return pid

    def add_repost_and_quote(self, original: str) -> dict[str, str]:
        """A visitor's post ``original``, which the account reposts and quotes; the three ids."""
        visitor = self.dataset.users[1]
        oid = self.add_post(original, visitor.id)
        return {"original": oid, "repost": self.add_post("", references=(("retweeted", oid),)),
                "quote": self.add_post("Please share this.", references=(("quoted", oid),))}

    def _shown_text(self, p: XPost, n: int) -> str:
        """``text`` as X gives it: a repost's shortened ``RT @handle:`` form, a long post cut."""
        repost = next((rid for kind, rid in p.references if kind == "retweeted"), None)
        if repost is not None:
            found = self.posts_by_any_id().get(repost)
            if found is None:
                return p.texts[n]
            handle = next((u.username for u in self.dataset.users
                           if u.id == found[0].author_id), "")
            rt = f"RT @{handle}: {found[0].texts[-1]}"
            return rt if len(rt) <= RT_SHOWN else rt[: RT_SHOWN - 1] + "\u2026"
        return p.texts[n][:LONG_POST]

    def _replace(self, post_id: str, change: Callable[[XPost], XPost]) -> None:
        self.dataset = replace(self.dataset, posts=tuple(
            change(p) if post_id in p.history else p for p in self.dataset.posts))

    def roots(self) -> list[XPost]:
        """The account's own top-level posts, newest first."""
        return sorted((p for p in self.dataset.posts if p.author_id == self.dataset.account.id
                       and p.replied_to is None), key=lambda p: int(p.history[0]), reverse=True)

    def apply_second_state(self) -> dict[str, str]:
        """Edit the newest post, withhold a reply, delete a reply, add a reply; returns the ids."""
        root = self.roots()[0]
        replies = sorted((p for p in self.dataset.posts if p.conversation_id == root.history[0]
                          and p.replied_to is not None), key=lambda p: int(p.id))
        first_id = root.history[0]
        new_id = self.edit(first_id, root.texts[-1] + " UPDATE: Oak St. also closed.")
        withheld, deleted = replies[1].id, replies[2].id
        self.withhold(withheld)
        self.delete(deleted)
        added = self.add_reply(first_id, new_id, "63044443", "@SpringfieldPD thanks for the update")
        return {"edited": first_id, "edit_id": new_id, "withheld": withheld,
                "deleted": deleted, "added": added}

    # --- faults in X's words -----------------------------------------------------------------

    def rate_limited_v1(self, **match: Any) -> Fault:
        """429 with the v1.1-style body ``{"errors":[{"code":88,...}]}``."""
        return self.add_fault(Fault("x_429_v1", status=429, **match))

    def usage_cap(self, **match: Any) -> Fault:
        """429 ``UsageCapExceeded``: the monthly cap; clients must not retry."""
        return self.add_fault(Fault("usage_cap", status=429, **match))

    def credential(self, request: Request) -> tuple[str | None, str]:
        token, how = super().credential(request)
        if token is None and "bearer_token" in request.query:
            return request.query["bearer_token"], "param"
        return token, how

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        reset = str(int(self.clock()) + int(fault.retry_after or "60"))
        limit_headers = {"x-rate-limit-limit": str(self.rate_limit), "x-rate-limit-remaining": "0",
                         "x-rate-limit-reset": reset}
        if fault.kind == "status":
            return self._problem(fault.status, "Service Unavailable" if fault.status == 503
                                 else "Internal Server Error", fault.message or "Try again later")
        if fault.kind == "retry_after":
            status, hdrs, body = self._problem(429, "Too Many Requests", "Too Many Requests")
            return status, {**hdrs, **limit_headers}, body
        if fault.kind == "x_429_v1":
            v1 = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
            return 429, {**JSON, **limit_headers}, json.dumps(v1).encode()
        if fault.kind == "usage_cap":
            cap = {"account_id": 1234, "product_name": "standard-basic",
                    "title": "UsageCapExceeded", "period": "Monthly", "scope": "Product",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped"}
            return 429, dict(JSON), json.dumps(cap).encode()
        return None

    # --- answering ---------------------------------------------------------------------------

    def extra_headers(self) -> dict[str, str]:
        reset, used = self._windows.get(self._last_endpoint, (self.clock() + WINDOW_S, 0))
        return {"x-rate-limit-limit": str(self.rate_limit),
                "x-rate-limit-remaining": str(max(0, self.rate_limit - used)),
                "x-rate-limit-reset": str(int(reset))}

    def _problem(self, status: int, title: str, detail: str, **more: Any) -> Answer:
        body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **more}
        return status, dict(JSON), json.dumps(body).encode()

    def _spend(self, endpoint: str) -> bool:
        """Count one call against ``endpoint``'s 15-minute window; False when it is spent."""
        now = self.clock()
        reset, used = self._windows.get(endpoint, (now + WINDOW_S, 0))
        if now >= reset:
            reset, used = now + WINDOW_S, 0
        self._last_endpoint = endpoint
        if used >= self.rate_limit:
            self._windows[endpoint] = (reset, used)
            return False
        self._windows[endpoint] = (reset, used + 1)
        return True

    def route(self, request: Request) -> Answer:
        token, _ = self.credential(request)
        if token != self.token:
            return self._problem(401, "Unauthorized", "Unauthorized")
        parts = [s for s in request.path.split("/") if s]
        if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets":
            endpoint = "timeline"
        elif parts == ["2", "tweets", "search", "recent"]:
            endpoint = "search"
        elif parts == ["2", "tweets"]:
            endpoint = "lookup"
        elif len(parts) == 3 and parts[:2] == ["2", "users"]:
            endpoint = "user"
        elif parts == ["2", "dm_events"]:
            endpoint = "dm_events"
        else:
            return self._problem(404, "Not Found Error", f"Unknown path {request.path}")
        if not self._spend(endpoint):
            status, hdrs, body = self._problem(429, "Too Many Requests", "Too Many Requests")
            return status, {**hdrs, **self.extra_headers()}, body
        q = request.query
        if endpoint == "dm_events":
            if self.dms.refused:
                return self._problem(403, "Unsupported Authentication", APP_ONLY,
                                     type="https://api.twitter.com/2/problems/"
                                          "unsupported-authentication")
            users = {u.id: {"id": u.id, "name": u.name, "username": u.username}
                     for u in self.dataset.users}
            dm_page = self.dms.page(q, self.now(), users)
            return self._invalid("max_results", dm_page) if isinstance(dm_page, str) \
                else self._ok(dm_page)
        if endpoint == "timeline":
            if parts[2] != self.dataset.account.id:
                return self._ok({"errors": [self._not_found(parts[2], "user", "id")]})
            posts = self.roots()
            if "retweets" not in q.get("exclude", ""):
                pass  # the sample has no retweets
            return self._list(q, posts, "pagination_token", (5, 100), self.timeline_page,
                              request.loop)
        if endpoint == "search":
            query = q.get("query", "")
            if not query.startswith("conversation_id:"):
                return self._invalid("query", "only conversation_id:<id> is supported here")
            conv = query.split(":", 1)[1].strip()
            since = self.now() - timedelta(days=SEARCH_DAYS)
            found = sorted((p for p in self.dataset.posts if p.conversation_id == conv
                            and p.created_at >= since), key=lambda p: int(p.id), reverse=True)
            return self._list(q, found, "next_token", (10, 100), self.search_page, request.loop)
        if endpoint == "lookup":
            ids = [i for i in q.get("ids", "").split(",") if i]
            if not ids or len(ids) > 100:
                return self._invalid("ids", "ids must hold 1 to 100 ids")
            index = self.posts_by_any_id()
            data, errors = [], []
            for i in ids:
                if i in index:
                    post, n = index[i]
                    data.append(self._render(post, q, version=n))
                else:
                    errors.append(self._not_found(i, "tweet", "ids"))
            found_body: dict[str, Any] = {}
            if data:
                found_body["data"] = data
                found_body.update(self._includes([index[i][0] for i in ids if i in index], q))
            if errors:
                found_body["errors"] = errors
            return self._ok(found_body)
        user = next((u for u in self.dataset.users if u.id == parts[2]), None)
        if user is None:
            return self._ok({"errors": [self._not_found(parts[2], "user", "id")]})
        shown: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if user.id == self.dataset.account.id:
            shown.update(self._profile_fields(set(q.get("user.fields", "").split(","))))
        return self._ok({"data": shown})

    def _profile_fields(self, wanted: set[str]) -> dict[str, Any]:
        """The account's own user fields asked for, as X gives them (a t.co ``url`` whose
        ``entities.url`` names the address it stands for)."""
        p = self.profile
        full: dict[str, Any] = {
            "description": p["description"], "location": p["location"], "url": p["url"],
            "entities": {"url": {"urls": [{"start": 0, "end": len(p["url"]), "url": p["url"],
                                           "expanded_url": p["expanded_url"],
                                           "display_url": p["expanded_url"].split("//")[-1]}]}},
        }
        return {k: v for k, v in full.items() if k in wanted}

    def _list(self, q: dict[str, str], posts: list[XPost], token_param: str,
              bounds: tuple[int, int], server_max: int, loop: bool) -> Answer:
        try:
            size = int(q.get("max_results", "10"))
        except ValueError:
            size = -1
        if not bounds[0] <= size <= bounds[1]:
            return self._invalid("max_results", f"must be between {bounds[0]} and {bounds[1]}")
        size = min(size, server_max)
        token = q.get(token_param)
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return self._invalid(token_param, "invalid token")
        page = posts[offset: offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {}
        if page:
            body["data"] = [self._render(p, q) for p in page]
            body.update(self._includes(page, q))
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        end = offset + len(page)
        if end < len(posts) or loop:
            nxt = token if loop and token else base64.urlsafe_b64encode(str(end).encode()).decode()
            meta["next_token"] = nxt
        body["meta"] = meta
        return self._ok(body)

    def _render(self, p: XPost, q: dict[str, str], version: int | None = None) -> dict[str, Any]:
        n = len(p.history) - 1 if version is None else version
        out: dict[str, Any] = {"id": p.history[n], "text": self._shown_text(p, n),
                               "edit_history_tweet_ids": list(p.history[: n + 1])
                               if version is not None else list(p.history)}
        wanted = set(q.get("tweet.fields", "").split(","))
        full: dict[str, Any] = {
            "author_id": p.author_id,
            "conversation_id": p.conversation_id,
            "created_at": p.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        refs = [{"type": kind, "id": rid} for kind, rid in p.references]
        if len(p.texts[n]) > LONG_POST and not any(k == "retweeted" for k, _ in p.references):
            full["note_tweet"] = {"text": p.texts[n]}
        if p.replied_to:
            refs.insert(0, {"type": "replied_to", "id": p.replied_to})
            parent = self.posts_by_any_id().get(p.replied_to)
            if parent:
                full["in_reply_to_user_id"] = parent[0].author_id
        if refs:
            full["referenced_tweets"] = refs
        if p.withheld:
            full["withheld"] = {"copyright": False, "country_codes": ["US"], "scope": "tweet"}
        if p.media_key:
            full["attachments"] = {"media_keys": [p.media_key]}
        out.update({k: v for k, v in full.items() if k in wanted})
        return out

    def _includes(self, posts: list[XPost], q: dict[str, str]) -> dict[str, Any]:
        expansions = set(q.get("expansions", "").split(","))
        inc: dict[str, Any] = {}
        index = self.posts_by_any_id()
        pointed = [rid for p in posts
                   for rid in (p.replied_to, *(r for _, r in p.references)) if rid]
        referred = [index[rid][0] for rid in pointed if rid in index]
        if "referenced_tweets.id" in expansions and referred:
            inc["tweets"] = [self._render(r, q) for r in dict.fromkeys(referred)]
        ids = {p.author_id for p in posts} if "author_id" in expansions else set()
        if "referenced_tweets.id.author_id" in expansions:
            ids |= {r.author_id for r in referred}
        if ids:
            inc["users"] = [{"id": u.id, "name": u.name, "username": u.username}
                            for u in self.dataset.users if u.id in ids]
        if "attachments.media_keys" in expansions:
            keys = {p.media_key for p in posts if p.media_key}
            media = [m for m in self.dataset.media if m["media_key"] in keys]
            if media:
                inc["media"] = media
        return {"includes": inc} if inc else {}

    def _not_found(self, value: str, resource: str, parameter: str) -> dict[str, Any]:
        return {"value": value, "detail": f"Could not find {resource} with {parameter}: [{value}].",
                "title": "Not Found Error", "resource_type": resource, "parameter": parameter,
                "resource_id": value, "type": NOT_FOUND_TYPE}

    def _invalid(self, parameter: str, message: str) -> Answer:
        return self._problem(400, "Invalid Request",
                             "One or more parameters to your request was invalid.",
                             errors=[{"parameters": {parameter: []}, "message": message}],
                             type="https://api.twitter.com/2/problems/invalid-request")

    def _ok(self, payload: Any) -> Answer:
        return 200, dict(JSON), json.dumps(payload).encode()
