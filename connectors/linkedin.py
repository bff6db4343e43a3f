"""LinkedIn organization page connector (Community Management API, versioned ``/rest`` calls).

Followed:

* Every call carries ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``;
  a version lives about a year (https://learn.microsoft.com/en-us/linkedin/marketing/versioning),
  so :data:`LINKEDIN_VERSION` has to move forward with LinkedIn's releases.
* The organization's posts, ``GET /rest/posts?q=author&author=urn:li:organization:{id}``
  (a finder: ``X-RestLi-Method: FINDER``; ``start``/``count`` offset paging, ``paging.total``;
  ``commentary``, ``createdAt``, ``lastModifiedAt``, ``lifecycleState``) and one post,
  ``GET /rest/posts/{urn}``:
  https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
* Comments, ``GET /rest/socialActions/{post urn}/comments`` and, for a comment's replies,
  ``GET /rest/socialActions/{comment urn}/comments``; one comment,
  ``GET /rest/socialActions/{post urn}/comments/{comment id}`` (``commentUrn``, ``actor``,
  ``message.text``, ``created.time``, ``lastModified.time``, ``parentComment``,
  ``commentsSummary``):
  https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/comments-api
* The page's own words for the page checks, ``GET /rest/organizations/{id}``
  (``localizedName``, ``localizedDescription``, ``localizedWebsite``, ``vanityName``):
  https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/organization-lookup-api
* Permissions: ``r_organization_social`` with the member's page role ADMINISTRATOR or
  DIRECT_SPONSORED_CONTENT_POSTER (same pages). Errors are
  ``{"status", "serviceErrorCode", "code", "message"}``.
* Rate limits are per application and per member per day, reset at 00:00 UTC, answered with 429
  (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits): a 429 with
  ``Retry-After`` is waited out; one without it is the day's limit and ends the run at once with
  that said (waiting in the run would hold the scheduler until midnight).

Items: each post is a ``post`` (scope ROOT; ``lastModifiedAt`` is its ``updated_at``); a comment
is a ``comment`` and a reply to a comment a ``reply``, both scoped to their post, with the
comment URN as id. Authors are URNs (``urn:li:person:…``): the API gives no name without member
permissions the page does not have. Media are URNs of LinkedIn's image and video assets, kept in
``raw``; their files are not downloaded.

What the API cannot read: it has **no hidden or moderation state for comments**, so every
comment is archived ``active`` and each run says so in a note; a post or comment removed by
LinkedIn's moderators and one deleted by its author look the same.

"Confirmed gone" means: the item's own read (``GET /rest/posts/{urn}``, or Get a Comment) answers
404 **and** the organization's post listing still reads with this token (a token that lost its
page role makes both fail, so that is Unknown). LinkedIn documents no deleted-item answer beyond
the HTTP status, so any answer other than 200 or 404 is Unknown. Evidence: the requests, the
status and body.

Incremental capture: the finder sorts by ``LAST_MODIFIED`` but has no "since" filter, and a
comment does not change its post's ``lastModifiedAt``; every run reads the listings again.
The token goes in ``Authorization: Bearer``, never the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    Classification,
    Fetched,
    ObjectNotFound,
    PageRequest,
    Paging,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.jsonshape import count, epoch_time, ident, obj, objects, opt, text
from archiver.connectors.profiles import Profile, text_fields
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    Platform,
    Present,
    ReadEvent,
    Record,
    Unknown,
)
from archiver.connectors.streams import (
    Entry,
    EntryRestStream,
    RecordChildStream,
    TreeConnector,
    TreeStream,
)

DEFAULT_API_BASE = "https://api.linkedin.com/rest"
LINKEDIN_VERSION = "202610"
PAGE_MAX = 100
NO_HIDDEN_STATE = ("LinkedIn's API has no hidden or moderation state for comments: every "
                   "comment is archived as active")


def elements_of(payload: Any, path: str) -> list[dict[str, Any]]:
    """``payload["elements"]`` as a list of objects."""
    return objects(obj(payload, "the response", path).get("elements"), "'elements'", path)


def post_url(urn: str) -> str:
    """Where a person sees a post."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def post_record(item: dict[str, Any], path: str) -> Record:
    """One Posts API post → a ``post`` :class:`Record`."""
    urn = ident(item, "id", path)
    return Record(
        external_id=urn,
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=text(item, "commentary", path),
        status=ItemStatus.ACTIVE,
        platform_status=(text(item, "lifecycleState", path) or "PUBLISHED").lower(),
        author_name=None,
        author_id=text(item, "author", path),
        created_at=epoch_time(item.get("publishedAt") or item.get("createdAt"), path,
                              millis=True),
        updated_at=epoch_time(item.get("lastModifiedAt"), path, millis=True),
        url=post_url(urn),
        raw=item,
    )


def _time_of(item: dict[str, Any], key: str, path: str) -> Any:
    stamp = opt(item, key, dict, path)
    return stamp.get("time") if stamp else None


def comment_record(item: dict[str, Any], post_urn: str, path: str) -> Record:
    """One comment of ``post_urn`` → a ``comment``, or a ``reply`` when it names a parent
    comment."""
    urn = ident(item, "commentUrn", path)
    parent = text(item, "parentComment", path)
    message = opt(item, "message", dict, path)
    return Record(
        external_id=urn,
        kind=ItemKind.REPLY if parent else ItemKind.COMMENT,
        scope=post_urn,
        text=text(message, "text", path) if message else None,
        status=ItemStatus.ACTIVE,  # the API has no hidden state (see the module)
        platform_status="published",
        author_name=None,
        author_id=text(item, "actor", path),
        created_at=epoch_time(_time_of(item, "created", path), path, millis=True),
        updated_at=epoch_time(_time_of(item, "lastModified", path), path, millis=True),
        url=post_url(post_urn),
        raw=item,
        parent_external_id=parent or post_urn,
    )


def comment_entries(payload: Any, post_urn: str, path: str) -> list[Entry]:
    """A comments page → comments, ``truncated`` where ``commentsSummary`` counts replies."""
    out = []
    for item in elements_of(payload, path):
        summary = opt(item, "commentsSummary", dict, path) or {}
        replies = count(summary, "totalFirstLevelComments", path)
        out.append(Entry(comment_record(item, post_urn, path), (), replies > 0))
    return out


def parse_comments_body(body: bytes, post_urn: str = "urn:li:share:1",
                        path: str = "/rest/socialActions/x/comments") -> list[Record]:
    """Raw comments bytes → records. Any bad input ends in a :class:`ConnectorError`."""
    payload = decode_json(body, path)
    entries = comment_entries(payload, post_urn, path)
    OffsetPaging().next_request(PageRequest(path, {"start": "0", "count": "10"}), payload,
                                len(entries))
    return [e.record for e in entries]


def classify_linkedin(response: httpx.Response, payload: Any) -> Classification:
    """What a LinkedIn answer means (see the module for 429)."""
    status = response.status_code
    if status < 400:
        return Classification(Verdict.OK)
    body = payload if isinstance(payload, dict) else {}
    code = body.get("code") or body.get("serviceErrorCode") or ""
    detail = f"HTTP {status} {code}: {one_line(str(body.get('message', '')), 200)}"
    if status == 429:
        if response.headers.get("Retry-After"):
            return Classification(Verdict.RATE_LIMITED, detail=detail)
        return Classification(Verdict.FATAL, detail=(
            f"{detail}; LinkedIn's daily limit is spent: it resets at 00:00 UTC, capture "
            "again then"))
    base = classify_http(response)
    return Classification(base.verdict, detail=detail)


@dataclass(frozen=True)
class OffsetPaging(Paging):
    """``start``/``count`` until ``paging.total`` is reached (or a short page without it);
    https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/pagination"""

    def next_request(
        self, request: PageRequest, payload: Any, item_count: int
    ) -> PageRequest | None:
        paging = opt(obj(payload, "the response", request.path), "paging", dict, request.path)
        paging = paging or {}
        total = opt(paging, "total", int, request.path)
        try:
            asked = int(request.params.get("start", "0"))
            size = int(request.params.get("count", "10"))
        except ValueError:
            raise MalformedResponse(f"request to {request.path}: paging is not a number") from None
        # The page's own ``start`` wins: a page that restarts the listing is caught as a loop.
        start = opt(paging, "start", int, request.path)
        following = (asked if start is None else start) + item_count
        if item_count == 0 or (following >= total if total is not None else item_count < size):
            return None
        return PageRequest(request.url, {**request.params, "start": str(following)})


class _LinkedInStream(TreeStream["LinkedInConnector"]):
    paging = OffsetPaging()

    def size(self) -> str:
        return str(min(PAGE_MAX, self.connector.config.page_size or PAGE_MAX))

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_linkedin(response, payload)


class PostsStream(_LinkedInStream):
    """The organization's posts, most recently changed first."""

    def first_request(self) -> PageRequest:
        return self.connector.posts_request(self.size())

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [post_record(p, request.path) for p in elements_of(payload, request.path)]


class CommentsStream(_LinkedInStream, RecordChildStream["LinkedInConnector"]):
    """A post's comments. A post deleted while we read leaves its listing incomplete."""

    parent_stream_type = PostsStream
    gone_counter = "listings_gone"

    def first_request(self) -> PageRequest:
        return self.connector.comments_request(self.parent_id, self.size())

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return comment_entries(payload, self.parent_id, request.path)


class RepliesStream(_LinkedInStream, EntryRestStream["LinkedInConnector"]):
    """A comment's replies (``socialActions/{comment urn}/comments``), part of the post's
    listing."""

    parent_stream_type = CommentsStream

    def first_request(self) -> PageRequest:
        return self.connector.comments_request(self.entry_id, self.size())

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [comment_record(c, self.scope, request.path)
                for c in elements_of(payload, request.path)]


class LinkedInConnector(TreeConnector):
    """Reads an organization page's posts and every post's comments and replies."""

    platform: ClassVar[Platform] = Platform.LINKEDIN
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        PostsStream, CommentsStream, RepliesStream)
    _finder = False

    @property
    def organization(self) -> str:
        """The organization's URN, from its numeric id (the account's external id)."""
        return f"urn:li:organization:{self.config.account_external_id}"

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """The stream walk; the run's notes say what the API cannot show."""
        if NO_HIDDEN_STATE not in self.stats.notes:
            self.stats.notes.append(NO_HIDDEN_STATE)
        return super().read(scopes)

    def auth_headers(self) -> dict[str, str]:
        """The token, the API version, Rest.li 2.0, and the method for a finder."""
        headers = {**super().auth_headers(), "LinkedIn-Version": LINKEDIN_VERSION,
                   "X-Restli-Protocol-Version": "2.0.0"}
        if self._finder:
            headers["X-RestLi-Method"] = "FINDER"
        return headers

    def fetch(
        self,
        request: PageRequest,
        classify: Callable[[httpx.Response, Any], Classification] | None = None,
    ) -> Fetched:
        """The shared loop; a request with ``q=`` is a Rest.li finder and says so."""
        self._finder = "q" in request.params
        try:
            return super().fetch(request, classify)
        finally:
            self._finder = False

    def posts_request(self, size: str) -> PageRequest:
        """The first page of the organization's posts."""
        return PageRequest(f"{self.api_base}/posts", {
            "q": "author", "author": self.organization, "sortBy": "LAST_MODIFIED",
            "start": "0", "count": size})

    def comments_request(self, urn: str, size: str) -> PageRequest:
        """The first page of the comments on ``urn`` (a post, or a comment for its replies)."""
        return PageRequest(f"{self.api_base}/socialActions/{quote(urn, safe='')}/comments",
                           {"start": "0", "count": size})

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (404 while the organization's posts still read) or Unknown."""
        if ref.kind == ItemKind.POST:
            path = f"/posts/{quote(ref.external_id, safe='')}"
        else:
            comment_id = ref.external_id.rstrip(")").rpartition(",")[2]
            path = (f"/socialActions/{quote(ref.scope, safe='')}/comments/"
                    f"{quote(comment_id, safe='')}")
        request = PageRequest(f"{self.api_base}{path}")
        checked_at = self.now().isoformat()
        try:
            self.fetch(request, classify_linkedin)
            return Present()
        except ObjectNotFound as nf:
            status, body = nf.status, nf.body
        except ConnectorError as exc:
            return Unknown(str(exc))
        try:
            self.fetch(self.posts_request("1"), classify_linkedin)
        except ConnectorError as exc:
            return Unknown(f"the organization's posts do not read, so a 404 proves nothing: "
                           f"{exc}")
        return Gone(evidence={
            "platform": Platform.LINKEDIN,
            "request": f"GET {request.path}",
            "http_status": status,
            "response": body,
            "organization_check": {"request": "GET /rest/posts?q=author&count=1",
                                   "organization": self.organization, "http_status": 200},
            "checked_at": checked_at,
        })


    # -- the page's own statements (additive: read by archiver.monitoring) --------------------

    def profile(self) -> Profile:
        """The organization's name, description and website; its address is
        ``https://www.linkedin.com/company/<vanityName>/``."""
        org_id = self.config.account_external_id
        request = PageRequest(f"{self.api_base}/organizations/{quote(org_id, safe='')}")
        raw = self.read_object(request, classify_linkedin)
        vanity = raw.get("vanityName")
        url = (f"https://www.linkedin.com/company/{quote(vanity, safe='')}/"
               if isinstance(vanity, str) and vanity else None)
        found = text_fields(raw, ("localizedName", "localizedDescription", "localizedWebsite"))
        return Profile(self.platform, org_id, tuple(found), url=url,
                       requests=(f"GET {request.path}",), raw=raw)
