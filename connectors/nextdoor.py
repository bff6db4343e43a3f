"""Nextdoor public agency connector (Nextdoor's partner API: the agency's own posts).

Followed:

* Access is by application to Nextdoor Partnerships; a staff poster authorizes with OAuth
  (``openid post:read ...``) and the token goes in ``Authorization: Bearer``:
  https://developer.nextdoor.com/reference/sharing-get-authorization-code
* The agency's posts, ``GET /external/api/partner/v1/post/`` (the token's user's recent posts,
  each with its comments embedded; ``enable_pagination=true`` gives ``cursor`` and
  ``has_next_page``, sent back as ``after``): https://developer.nextdoor.com/reference/get-your-posts
* Post and comment fields (``id``, ``body``, ``author``, ``creation_date``; a comment's
  ``body``, ``author_name``, ``like_count``, ``parent_comment_id`` and nested ``comments``):
  https://developer.nextdoor.com/reference/displaying-data-types. That page does not say how
  ``creation_date`` is written, so Unix seconds and ISO 8601 are both read (anything else is a
  one-line error, never a guessed date).
* Errors: 400 bad input, 401 unauthorized, 403 missing scope, 5xx retry (the partner API's
  reference); no rate limit is published, so 429 and ``Retry-After`` are honoured as HTTP says.

Items: each post is a ``post`` (scope ROOT); a comment is a ``comment`` and a comment on a
comment a ``reply``, both scoped to their post. Commenters are names (or ids) as Nextdoor gives
them.

What the API cannot read, said plainly (and in a note of every run): it lists only the agency's
**latest** posts (a window: a vendor reports the 50 latest), with their comments embedded; it has
**no read of a post or comment by id**, no deleted-item answer and no hidden or moderation state.
So the post listing and each post's comments are windows (:class:`ListingWindow`): an item that
is no longer listed is counted as "no longer listed", never looked up, and nothing is ever marked
removed ("confirmed gone" does not exist here). Each token reads its own user's posts: register
one account per staff poster.

Incremental capture: none exists; the listing is read whole every run. A comment sweep of some
posts (``read(scopes)``) reads the same listing, the only one the API has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from archiver.connectors.base import PageRequest, decode_json
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.jsonshape import (
    FlagCursorPaging,
    epoch_time,
    flagged_cursor,
    ident,
    obj,
    objects,
    opt,
    text,
)
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemKind,
    ItemRef,
    ItemStatus,
    ListingWindow,
    LookupResult,
    MediaRef,
    Platform,
    ReadEvent,
    Record,
    Unknown,
)
from archiver.connectors.streams import Completeness, Entry, TreeConnector, TreeStream
from archiver.connectors.youtube import parse_yt_time

DEFAULT_API_BASE = "https://nextdoor.com/external/api/partner/v1"
PAGING_KEYS = (("has_next_page",), ("cursor",))
LIMITS = ("Nextdoor's API lists only the agency's latest posts with their comments, and has no "
          "read by id and no hidden state: items that leave the listing are reported as no "
          "longer listed, never as removed")
NO_LOOKUP = "Nextdoor's API has no read of a post or comment by id"
MAX_DEPTH = 50  # comments nest; deeper than any thread a person writes


def nextdoor_time(value: Any, path: str) -> datetime | None:
    """``creation_date`` as Unix seconds or an ISO 8601 time with a zone."""
    if isinstance(value, str):
        return parse_yt_time(value, path)  # RFC 3339, as YouTube writes it
    return epoch_time(value, path)


def _media(item: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
    urls = opt(item, "media_attachments", list, path) or []
    if not all(isinstance(u, str) for u in urls):
        raise MalformedResponse(f"response from {path}: 'media_attachments' is not a list of "
                                "addresses")
    return tuple(MediaRef(u) for u in urls)


def post_record(item: dict[str, Any], agency_id: str, path: str) -> Record:
    """One post → a ``post`` :class:`Record`."""
    author = opt(item, "author", dict, path) or {}
    subject = text(item, "subject", path)
    body = text(item, "body", path)
    return Record(
        external_id=ident(item, "id", path),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text="\n\n".join(t for t in (subject, body) if t) or None,
        status=ItemStatus.ACTIVE,
        platform_status="published",
        author_name=text(author, "name", path),
        author_id=agency_id,
        created_at=nextdoor_time(item.get("creation_date"), path),
        updated_at=None,  # no edit time: edits are found by hashing
        url=text(item, "url", path) or text(item, "share_link", path),
        raw={k: v for k, v in item.items() if k != "comments"},  # comments are their own items
        media=_media(item, path),
    )


def comment_records(items: Any, post_id: str, parent: str | None, path: str,
                    depth: int = 0) -> list[Record]:
    """A post's embedded ``comments`` (and theirs, nested) → comment and reply records."""
    if depth > MAX_DEPTH:
        raise MalformedResponse(f"response from {path}: comments nest too deep")
    out: list[Record] = []
    for item in objects(items, "'comments'", path):
        comment_id = ident(item, "id", path)
        named = item.get("parent_comment_id")
        reply_to = parent or (str(named) if named not in (None, "", 0, "0") else None)
        author_id = opt(item, "author_id", (str, int), path)
        out.append(Record(
            external_id=comment_id,
            kind=ItemKind.REPLY if reply_to else ItemKind.COMMENT,
            scope=post_id,
            text=text(item, "body", path),
            status=ItemStatus.ACTIVE,  # the API shows no hidden state (see the module)
            platform_status="published",
            author_name=text(item, "author_name", path),
            author_id=None if author_id is None else str(author_id),
            created_at=nextdoor_time(item.get("creation_date"), path),
            updated_at=None,
            url=None,
            raw={k: v for k, v in item.items() if k != "comments"},
            parent_external_id=reply_to or post_id,
        ))
        out += comment_records(item.get("comments"), post_id, comment_id, path, depth + 1)
    return out


def post_entries(payload: Any, agency_id: str, path: str) -> list[Entry]:
    """A page of posts → each post with its embedded comments."""
    posts = objects(obj(payload, "the response", path).get("data"), "'data'", path)
    out = []
    for item in posts:
        record = post_record(item, agency_id, path)
        out.append(Entry(record, tuple(comment_records(item.get("comments"),
                                                       record.external_id, None, path))))
    return out


def parse_posts_body(body: bytes, path: str = "/external/api/partner/v1/post/") -> list[Record]:
    """Raw post-list bytes → records. Any bad input ends in a :class:`ConnectorError`."""
    payload = decode_json(body, path)
    entries = post_entries(payload, "agency", path)
    flagged_cursor(payload, *PAGING_KEYS, path)
    return [r for e in entries for r in e.records()]


class PostsStream(TreeStream["NextdoorConnector"]):
    """``GET /post/``: the agency's latest posts, comments embedded; a window."""

    paging = FlagCursorPaging(*PAGING_KEYS, "after")

    def first_request(self) -> PageRequest:
        return PageRequest(f"{self.connector.api_base}/post/", {"enable_pagination": "true"})

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return post_entries(payload, self.connector.agency_id, request.path)

    def completeness(self) -> Completeness:
        return Completeness.WINDOW


class NextdoorConnector(TreeConnector):
    """Reads the latest posts of a Nextdoor agency account with their comments."""

    platform: ClassVar[Platform] = Platform.NEXTDOOR
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (PostsStream,)

    @property
    def agency_id(self) -> str:
        """The agency's Nextdoor id (the account's external id)."""
        return self.config.account_external_id

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """The one listing the API has, whatever ``scopes`` asks (see the module); each post's
        comments are a window of their own."""
        if LIMITS not in self.stats.notes:
            self.stats.notes.append(LIMITS)
        posts: list[str] = []
        for event in super().read(None):
            if isinstance(event, Record) and event.kind == ItemKind.POST:
                posts.append(event.external_id)
            yield event
        yield from (ListingWindow(post) for post in posts)

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Always Unknown: there is no read by id."""
        return Unknown(NO_LOOKUP)
