"""Facebook Page connector (Graph API).

Followed:

* Page feed: https://developers.facebook.com/docs/graph-api/reference/page/feed
* Comments edge (``filter=stream``, ``order``): https://developers.facebook.com/docs/graph-api/reference/object/comments
* Comment fields: https://developers.facebook.com/docs/graph-api/reference/comment
* Paging (cursors, ``paging.next``; a short or empty page may still have ``next``):
  https://developers.facebook.com/docs/graph-api/results
* Errors (190 token, 100/33 unknown object, ``is_transient``):
  https://developers.facebook.com/docs/graph-api/guides/error-handling
* Rate limits (codes 4, 17, 32, 613, 80001; ``X-App-Usage``, ``X-Business-Use-Case-Usage``):
  https://developers.facebook.com/docs/graph-api/overview/rate-limiting
* Page stories ``GET /{page-id}/stories`` (``post_id, status PUBLISHED|ARCHIVED, creation_time,
  media_type, media_id, url``; archived ones only while the Page's story archive is on):
  https://developers.facebook.com/docs/page-stories-api; each story's photo (``images``) or video
  (``source``) is read from its ``media_id``: https://developers.facebook.com/docs/graph-api/reference/photo,
  https://developers.facebook.com/docs/graph-api/reference/video. Stories are their own kind and
  listing (:mod:`archiver.connectors.stories`, :mod:`archiver.connectors.graph_stories`).
* Page conversations (Messenger), ``GET /{page-id}/conversations?platform=messenger`` and each
  conversation's latest messages: :mod:`archiver.connectors.graph_messages`.

The token goes in an ``Authorization: Bearer`` header (OAuth 2.0, RFC 6750), not in the URL, so
no URL we log or store can carry it; ``access_token`` in ``paging.next`` links is stripped. The
Graph API accepts the header although Meta's own examples use the parameter; the maintained
clients added it as an option (restfb/restfb#1107, huandu/facebook#205).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    ObjectNotFound,
    PageRequest,
    decode_json,
    dig,
    one_line,
)
from archiver.connectors.errors import AuthError, ConnectorError, MalformedResponse
from archiver.connectors.graph import (
    USAGE_SLOWDOWN_AT,
    GraphEdgeStream,
    _edge_data,
    _graph_error,
    _id,
    _opt,
    _unix_time,
    _usage_numbers,
    classify_graph,
    parse_graph_time,
)
from archiver.connectors.graph_messages import ConversationsStream, FacebookMessagesStream
from archiver.connectors.graph_stories import StoriesStream
from archiver.connectors.profiles import Profile, TokenStatus, text_fields
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    LookupResult,
    MediaRef,
    Platform,
    Present,
    Record,
    Unknown,
)
from archiver.connectors.stories import STORIES_SCOPE
from archiver.connectors.streams import RecordChildStream, TreeConnector, TreeStream

DEFAULT_API_BASE = "https://graph.facebook.com/v19.0"
POST_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,from,status_type,is_hidden,"
    "is_published,attachments{media_type,url,media,target,subattachments}"
)
COMMENT_FIELDS = (
    "id,message,created_time,from,parent{id},is_hidden,permalink_url,attachment,"
    "comment_count,like_count"
)
# A Page's public fields that say what the page is and how to reach the department.
PAGE_PROFILE_FIELDS = ("about", "description", "general_info", "website", "phone", "emails")


def _author(item: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    who = _opt(item, "from", dict, path)
    if who is None:  # Graph leaves ``from`` out without the MODERATE task
        return None, None
    return _opt(who, "name", str, path), _opt(who, "id", str, path)


def _media_of(att: dict[str, Any], path: str, type_key: str) -> list[MediaRef]:
    media = _opt(att, "media", dict, path) or {}
    image = _opt(media, "image", dict, path) or {}
    src = _opt(media, "source", str, path) or _opt(image, "src", str, path)
    url = src or _opt(att, "url", str, path)
    refs = [MediaRef(url=url, media_type=_opt(att, type_key, str, path))] if url else []
    subs = _opt(att, "subattachments", dict, path)
    for sub in _edge_data(subs, path) if subs else []:
        refs.extend(_media_of(sub, path, type_key))
    return refs


def post_record(item: dict[str, Any], path: str) -> Record:
    """One feed item → a ``post`` :class:`Record` (``raw`` is the item as parsed)."""
    hidden = bool(_opt(item, "is_hidden", bool, path))
    published = _opt(item, "is_published", bool, path)
    name, author_id = _author(item, path)
    media: list[MediaRef] = []
    attachments = _opt(item, "attachments", dict, path)
    for att in _edge_data(attachments, path) if attachments else []:
        media.extend(_media_of(att, path, "media_type"))
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=_opt(item, "message", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden"
        if hidden
        else ("unpublished" if published is False else "published"),
        author_name=name,
        author_id=author_id,
        created_at=parse_graph_time(item.get("created_time"), path),
        updated_at=parse_graph_time(item.get("updated_time"), path),
        url=_opt(item, "permalink_url", str, path),
        raw=item,
        media=tuple(media),
    )


def comment_record(item: dict[str, Any], post_id: str, path: str) -> Record:
    """One comment of ``post_id`` → a ``comment`` or ``reply`` :class:`Record`."""
    hidden = bool(_opt(item, "is_hidden", bool, path))
    parent = _opt(item, "parent", dict, path)
    parent_id = _opt(parent, "id", str, path) if parent else None
    is_reply = parent_id is not None and parent_id != post_id
    name, author_id = _author(item, path)
    attachment = _opt(item, "attachment", dict, path)
    return Record(
        external_id=_id(item, path),
        kind=ItemKind.REPLY if is_reply else ItemKind.COMMENT,
        scope=post_id,
        text=_opt(item, "message", str, path),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden" if hidden else "published",
        author_name=name,
        author_id=author_id,
        created_at=parse_graph_time(item.get("created_time"), path),
        updated_at=None,  # comments have no updated_time in the Graph API
        url=_opt(item, "permalink_url", str, path),
        raw=item,
        parent_external_id=parent_id if is_reply else post_id,
        media=tuple(_media_of(attachment, path, "type")) if attachment else (),
    )


def parse_posts_page(payload: Any, path: str) -> list[Record]:
    """A decoded feed page → its post records, or :class:`MalformedResponse`."""
    return [post_record(item, path) for item in _edge_data(payload, path)]


def parse_comments_page(payload: Any, post_id: str, path: str) -> list[Record]:
    """A decoded comments page → comment/reply records, or :class:`MalformedResponse`."""
    return [comment_record(item, post_id, path) for item in _edge_data(payload, path)]


def parse_feed_body(body: bytes, path: str = "/feed") -> tuple[list[Record], str | None]:
    """Raw feed bytes → (records, ``paging.next``). Any bad input ends in a ConnectorError."""
    payload = decode_json(body, path)
    records = parse_posts_page(payload, path)
    nxt = dig(payload, ("paging", "next"))
    return records, nxt if isinstance(nxt, str) else None


class FeedStream(GraphEdgeStream):
    """``GET /{page-id}/feed``: every post on the page, newest first."""

    edge, fields, page_size = "feed", POST_FIELDS, 25

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_posts_page(payload, request.path)


class CommentsStream(GraphEdgeStream, RecordChildStream["FacebookConnector"]):
    """``GET /{post-id}/comments?filter=stream``: a post's comments and replies, flattened,
    oldest first. A post deleted while we read leaves its listing incomplete, the run goes on."""

    edge, fields, page_size = "comments", COMMENT_FIELDS, 100
    params = {"filter": "stream", "order": "chronological"}
    parent_stream_type = FeedStream
    gone_counter = "listings_gone"

    def node_id(self) -> str:
        return self.parent_id

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_comments_page(payload, self.parent_id, request.path)


class FacebookConnector(TreeConnector):
    """Reads a Facebook Page's feed and every post's comments; looks items up by id."""

    platform: ClassVar[Platform] = Platform.FACEBOOK
    default_api_base: ClassVar[str] = DEFAULT_API_BASE
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (
        FeedStream, CommentsStream, StoriesStream, ConversationsStream, FacebookMessagesStream)
    sweep_scopes: ClassVar[tuple[str, ...]] = (STORIES_SCOPE,)

    @property
    def page_id(self) -> str:
        """The page's Graph id (the account's external id)."""
        return self.config.account_external_id

    def usage_wait(self, response: httpx.Response) -> float:
        """Pace calls as Meta's usage headers near 100%, or wait out a stated regain time."""
        pct, regain = _usage_numbers(response)
        if regain > 0:
            return min(regain * 60, self.config.backoff_cap)
        if pct < USAGE_SLOWDOWN_AT:
            return 0.0
        return min(self.config.backoff_cap, self.config.backoff_base * 2 ** ((pct - 90) / 2))

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (100/33 while the page itself still reads) or Unknown."""
        return self.graph_lookup(ref, self.page_id, "page")

    def graph_lookup(self, ref: ItemRef, owner_id: str, owner: str) -> LookupResult:
        """Look ``ref`` up on the Graph API: Gone only for 100/33 while ``owner_id`` (the page,
        the Instagram account) still reads, since 100/33 also means "lost permission"."""
        request = PageRequest(
            f"{self.api_base}/{quote(ref.external_id, safe='')}", {"fields": "id"}
        )
        try:
            self.fetch(request, classify_graph)
            return Present()
        except ObjectNotFound as nf:
            err = _graph_error(nf.body)
            if not err or err.get("code") != 100 or err.get("error_subcode") != 33:
                return Unknown(self.scrub(str(nf)))
            not_found = nf
        except ConnectorError as exc:
            return Unknown(self.scrub(str(exc)))
        owner_req = PageRequest(f"{self.api_base}/{quote(owner_id, safe='')}", {"fields": "id"})
        try:
            checked = self.fetch(owner_req, classify_graph)
        except ConnectorError as exc:
            return Unknown(
                self.scrub(
                    f"{self.platform}: {ref.external_id} answered 100/33 but the {owner} itself "
                    f"cannot be read, so it may be a permission loss ({exc})"
                )
            )
        return Gone(evidence={
            "platform": self.platform,
            "request": f"GET {not_found.path}?fields=id",
            "http_status": not_found.status,
            "response": not_found.body,
            f"{owner}_check": {
                "request": f"GET {owner_req.path}?fields=id",
                "http_status": checked.response.status_code,
            },
            "checked_at": self.now().astimezone(UTC).isoformat(),
        })

    # -- the page's own statements and the token (additive: read by archiver.monitoring) ------

    def profile(self) -> Profile:
        """The Page's public fields about, description, general_info, website, phone and
        emails, and its link (https://developers.facebook.com/docs/graph-api/reference/page/)."""
        return self.graph_profile(self.page_id, PAGE_PROFILE_FIELDS, ("name", "link"), "link")

    def graph_profile(self, node_id: str, text: Sequence[str], other: Sequence[str],
                      link: str | None) -> Profile:
        """``GET /{node}?fields=...``: the ``text`` fields as the profile, ``link`` as its
        address; the answer is kept without secrets."""
        fields = ",".join((*other, *text))
        request = PageRequest(f"{self.api_base}/{quote(node_id, safe='')}", {"fields": fields})
        raw = self.read_object(request, classify_graph)
        url = raw.get(link) if link else None
        return Profile(self.platform, node_id, tuple(text_fields(raw, text)),
                       url=url if isinstance(url, str) else None,
                       requests=(f"GET {request.path}?fields={fields}",), raw=raw)

    def token_status(self) -> TokenStatus:
        """Graph's ``debug_token`` for the account's own token: ``is_valid``, ``expires_at``
        and ``data_access_expires_at`` (Unix seconds, 0: never), ``scopes``
        (https://developers.facebook.com/docs/graph-api/reference/debug_token/). A token the
        Graph refuses outright is invalid too."""
        request = PageRequest(f"{self.api_base}/debug_token",
                              {"input_token": self.config.token or ""})
        try:
            data = self.read_object(request, classify_graph).get("data")
        except AuthError as exc:
            return TokenStatus(valid=False, problem=self.scrub(str(exc)))
        if not isinstance(data, dict):
            raise self._fail(MalformedResponse, f"response from {request.path} has no data")
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        scopes = data.get("scopes")
        return TokenStatus(
            valid=data.get("is_valid") is True,
            expires_at=_unix_time(data.get("expires_at")),
            data_access_expires_at=_unix_time(data.get("data_access_expires_at")),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list) else (),
            problem=self.scrub(one_line(str(error.get("message")), 200))
            if error.get("message") else None)
