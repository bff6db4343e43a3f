"""WordPress site connector (WordPress REST API, ``/wp-json/wp/v2``).

Followed:

* Posts: https://developer.wordpress.org/rest-api/reference/posts/ (``status`` takes one or more
  statuses; ``context=edit`` adds ``title.raw``/``content.raw``)
* Pages: https://developer.wordpress.org/rest-api/reference/pages/
* Comments: https://developer.wordpress.org/rest-api/reference/comments/ and
  wordpress-develop ``class-wp-rest-comments-controller.php`` (``status`` defaults to
  ``approve``; before WordPress 6.9 it is a single key, a list only from 6.9 on (core PR #9870),
  so we ask once per status: approve, hold, spam, trash; anything but approve needs auth)
* Paging: https://developer.wordpress.org/rest-api/using-the-rest-api/pagination/
  (``page``/``per_page``, ``X-WP-Total``/``X-WP-TotalPages``; a post page past the end is
  400 ``rest_post_invalid_page_number``, read here as the end of the listing)
* Authentication: https://developer.wordpress.org/rest-api/using-the-rest-api/authentication/
  (application passwords over HTTP Basic)

Items: posts and pages are ``post`` items with external id ``post-<id>`` (they share one id
space in WordPress); comments are ``comment-<id>``, kind ``comment`` (``parent`` 0) or ``reply``,
scoped to ``post-<post id>``. With an authenticated account every status is read, so a post
moved to draft/private/trash or a comment moved to hold/spam/trash stays in the listing and
becomes a ``hidden`` version whose ``platform_status`` is WordPress's own word.

"A direct look-up confirms it is gone" here means: ``GET /wp/v2/comments/<id>`` answers 404
``rest_comment_invalid_id`` (or, for a post, both ``/posts/<id>`` and ``/pages/<id>`` answer 404
``rest_post_invalid_id``) while the site's listing still reads with the same credentials. A 401
(forbidden to this account, e.g. trash without auth) is Unknown, never a removal.

Credentials: none for a public site (read anonymously when the account's token variable is not
set: published posts and pages, approved comments). A token ``user:application-password`` goes as
HTTP Basic (what WordPress core accepts) and reads every status; any other token as
``Authorization: Bearer`` (JWT/OAuth plugins). Never in the URL.

Incremental capture: ``modified_after`` exists for posts, but comments have no modified date and a
filtered listing could not be complete; every run reads the whole listings.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from archiver.connectors.base import (
    Classification,
    ObjectNotFound,
    PageNumberPaging,
    PageRequest,
    Verdict,
    classify_http,
    decode_json,
    one_line,
)
from archiver.connectors.errors import ConnectorError, MalformedResponse, PagingLoop
from archiver.connectors.profiles import Profile, ProfileField, plain_text, text_fields
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
from archiver.connectors.streams import Context, TreeConnector, TreeStream

POST_STATUSES = "publish,future,draft,pending,private,trash"
COMMENT_STATUSES = ("approve", "hold", "spam", "trash")
END_CODES = frozenset({"rest_post_invalid_page_number", "rest_comment_invalid_page_number"})
GONE_CODES = frozenset({"rest_post_invalid_id", "rest_comment_invalid_id"})
_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)


def parse_wp_time(value: Any, path: str) -> datetime | None:
    """``date_gmt`` (``2024-04-01T09:00:00``, UTC without an offset) → aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a date is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponse(f"response from {path}: unreadable date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _rows(payload: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(x, dict) for x in payload):
        raise MalformedResponse(f"response from {path}: expected a JSON array of objects")
    return payload


def _int(row: dict[str, Any], key: str, path: str) -> int:
    value = row.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResponse(f"response from {path}: field {key!r} is not an integer")
    return value


def _text(row: dict[str, Any], key: str, path: str) -> str | None:
    """``row[key].raw`` (edit context) or ``row[key].rendered``."""
    field = row.get(key)
    if field is None:
        return None
    if not isinstance(field, dict):
        raise MalformedResponse(f"response from {path}: field {key!r} is not an object")
    value = field.get("raw", field.get("rendered"))
    if value is not None and not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: field {key!r} is not text")
    return value


def _opt_str(row: dict[str, Any], key: str, path: str) -> str | None:
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: field {key!r} is not a string")
    return value


def post_record(row: dict[str, Any], path: str) -> Record:
    """A post or page → a ``post`` record (``post-<id>``)."""
    status = _opt_str(row, "status", path) or "publish"
    title = _text(row, "title", path) or ""
    content = _text(row, "content", path) or ""
    rendered = (
        row.get("content", {}).get("rendered") if isinstance(row.get("content"), dict) else None
    )
    media = tuple(MediaRef(u, "image") for u in _IMG.findall(rendered or content))
    author = row.get("author")
    return Record(
        external_id=f"post-{_int(row, 'id', path)}",
        kind=ItemKind.POST,
        scope=ROOT_SCOPE,
        text=f"{title}\n\n{content}".strip(),
        status=ItemStatus.ACTIVE if status == "publish" else ItemStatus.HIDDEN,
        platform_status=status,
        author_name=None,
        author_id=str(author) if isinstance(author, int) and not isinstance(author, bool) else None,
        created_at=parse_wp_time(row.get("date_gmt"), path),
        updated_at=parse_wp_time(row.get("modified_gmt"), path),
        url=_opt_str(row, "link", path),
        raw=row,
        media=media,
    )


def comment_record(row: dict[str, Any], path: str) -> Record:
    """A comment → a ``comment`` or ``reply`` record scoped to its post."""
    status = _opt_str(row, "status", path) or "approved"
    post = f"post-{_int(row, 'post', path)}"
    parent = row.get("parent", 0)
    if not isinstance(parent, int) or isinstance(parent, bool):
        raise MalformedResponse(f"response from {path}: field 'parent' is not an integer")
    author = row.get("author")
    return Record(
        external_id=f"comment-{_int(row, 'id', path)}",
        kind=ItemKind.REPLY if parent else ItemKind.COMMENT,
        scope=post,
        text=_text(row, "content", path),
        status=ItemStatus.ACTIVE if status == "approved" else ItemStatus.HIDDEN,
        platform_status=status,
        author_name=_opt_str(row, "author_name", path),
        author_id=str(author)
        if isinstance(author, int) and author and not isinstance(author, bool)
        else None,
        created_at=parse_wp_time(row.get("date_gmt"), path),
        updated_at=None,  # WordPress comments have no modified date
        url=_opt_str(row, "link", path),
        raw=row,
        parent_external_id=f"comment-{parent}" if parent else post,
    )


def parse_comments_body(body: bytes, path: str = "/wp/v2/comments") -> list[Record]:
    """Raw comments bytes → records. Any bad input ends in a :class:`ConnectorError`."""
    return [comment_record(r, path) for r in _rows(decode_json(body, path), path)]


def classify_wordpress(response: httpx.Response, payload: Any) -> Classification:
    """What a WordPress answer means, by its ``code`` first."""
    if response.status_code < 400:
        return Classification(Verdict.OK)
    code = payload.get("code") if isinstance(payload, dict) else None
    message = payload.get("message", "") if isinstance(payload, dict) else ""
    detail = f"HTTP {response.status_code}" + (
        f" {code}: {one_line(str(message), 200)}" if code else ""
    )
    if code in END_CODES:
        return Classification(Verdict.END, detail=detail)
    if code in GONE_CODES and response.status_code == 404:
        return Classification(Verdict.NOT_FOUND, detail=detail)
    if response.status_code == 404:
        # rest_no_route and friends: the API is off or the base URL is wrong, not a deletion.
        return Classification(Verdict.FATAL, detail=detail)
    base = classify_http(response)
    return Classification(base.verdict, detail=detail)


class _WpStream(TreeStream["WordPressConnector"]):
    """A ``page``-numbered listing; a page that repeats the previous one is a paging loop."""

    def __init__(self, connector: WordPressConnector, context: Context) -> None:
        super().__init__(connector, context)
        self.per_page = connector.per_page()
        self.paging = PageNumberPaging(page_size=self.per_page)
        self._last_ids: list[Any] | None = None

    def request(self, url: str, params: dict[str, str]) -> PageRequest:
        """Page 1 of ``url``: every status the account may read, oldest id first."""
        if self.connector.authed:
            params = {**params, "context": "edit"}
        return PageRequest(url, {**params, "per_page": str(self.per_page), "orderby": "id",
                                 "order": "asc", "page": "1"})

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_wordpress(response, payload)

    def check_loop(self, rows: list[dict[str, Any]], request: PageRequest) -> None:
        ids = [r.get("id") for r in rows]
        if ids and ids == self._last_ids:
            # A page cache that ignores the query string serves the same page for every number.
            raise PagingLoop(
                f"wordpress: GET {request.path}: page {request.params.get('page')} repeats the "
                "previous page (a cache ignoring the page number?)"
            )
        self._last_ids = ids


class PostsStream(_WpStream):
    """``/wp/v2/posts`` and ``/wp/v2/pages``: together the site's top-level listing."""

    @classmethod
    def open(cls, connector: WordPressConnector, context: Context) -> Sequence[PostsStream]:
        return [cls(connector, {"kind": kind}) for kind in ("posts", "pages")]

    def first_request(self) -> PageRequest:
        params = {"status": POST_STATUSES} if self.connector.authed else {}
        return self.request(f"{self.connector.v2}/{self.context['kind']}", params)

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        rows = _rows(payload, request.path)
        self.check_loop(rows, request)
        return [post_record(r, request.path) for r in rows]


class CommentsStream(_WpStream):
    """``/wp/v2/comments`` in one moderation status. Read once for all the posts listed (or the
    posts asked for), not per post: the four statuses together complete every post's scope."""

    parent_stream_type = PostsStream
    fan_in = True

    @classmethod
    def open(cls, connector: WordPressConnector, context: Context) -> Sequence[CommentsStream]:
        statuses = COMMENT_STATUSES if connector.authed else ("approve",)
        return [cls(connector, {**context, "status": status}) for status in statuses]

    @classmethod
    def fan_in_context(cls, entries: Sequence[Any]) -> Context | None:
        return {"post": None, "scopes": tuple(entry.external_id for entry in entries)}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        ids = ",".join(scope.removeprefix("post-") for scope in scopes)
        return [{"post": ids, "scopes": tuple(scopes)}]

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.context["scopes"])

    def first_request(self) -> PageRequest:
        params = {"status": str(self.context["status"])}
        if self.context["post"] is not None:
            params["post"] = str(self.context["post"])
        return self.request(f"{self.connector.v2}/comments", params)

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        rows = _rows(payload, request.path)
        self.check_loop(rows, request)
        return [comment_record(r, request.path) for r in rows]


class WordPressConnector(TreeConnector):
    """Reads a WordPress site's posts, pages and comments in every moderation status."""

    platform: ClassVar[Platform] = Platform.WORDPRESS
    default_api_base: ClassVar[str] = ""  # a site has no global endpoint: see __init__
    anonymous_read: ClassVar[bool] = True
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]] = (PostsStream, CommentsStream)

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        if not self.api_base:
            # The account's external id is the site URL when no --api-base is given.
            self.api_base = config.account_external_id.rstrip("/") + "/wp-json"
        self.v2 = f"{self.api_base}/wp/v2"
        self.authed = bool(config.token)

    def secrets(self) -> tuple[str, ...]:
        """The token, and for ``user:password`` the password and the Basic credential too
        (the user name is no secret: it names comment authors)."""
        token = self.config.token
        if not token or ":" not in token:
            return super().secrets()
        return (token, token.split(":", 1)[1], base64.b64encode(token.encode()).decode())

    def auth_headers(self) -> dict[str, str]:
        """Application passwords (``user:password``) as Basic; other tokens as Bearer."""
        token = self.config.token
        if token and ":" in token:
            return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
        return super().auth_headers()

    def per_page(self) -> int:
        """Rows a page (WordPress allows 1 to 100)."""
        return max(1, min(100, self.config.page_size or 100))

    def lookup(self, ref: ItemRef) -> LookupResult:
        """Present, Gone (404 ``rest_*_invalid_id`` while the site still reads) or Unknown."""
        number = ref.external_id.split("-", 1)[-1]
        if ref.external_id.startswith("comment-"):
            paths = [f"{self.v2}/comments/{number}"]
        else:
            paths = [f"{self.v2}/posts/{number}", f"{self.v2}/pages/{number}"]
        params = {"context": "edit"} if self.authed else {}
        answers: list[dict[str, Any]] = []
        for url in paths:
            request = PageRequest(url, params)
            try:
                fetched = self.fetch(request, classify_wordpress)
            except ObjectNotFound as nf:
                answers.append(
                    {"request": f"GET {nf.path}", "http_status": nf.status, "response": nf.body}
                )
                continue
            except ConnectorError as exc:
                return Unknown(str(exc))
            row = fetched.payload if isinstance(fetched.payload, dict) else {}
            try:
                record = (comment_record if "comments" in url else post_record)(row, request.path)
            except ConnectorError:
                return Present()
            return Present(record)
        try:
            self.fetch(PageRequest(f"{self.v2}/posts", {"per_page": "1"}), classify_wordpress)
        except ConnectorError as exc:
            return Unknown(f"the site itself does not read, so a 404 proves nothing: {exc}")
        return Gone(
            evidence={
                "platform": Platform.WORDPRESS,
                "lookups": answers,
                "site_check": {"request": "GET /wp/v2/posts?per_page=1", "http_status": 200},
                "checked_at": self.now().isoformat(),
            }
        )

    # -- the site's own statements (additive: read by archiver.monitoring) --------------------

    def profile(self) -> Profile:
        """The site's name and tagline from the REST index ``GET /wp-json/``
        (https://developer.wordpress.org/rest-api/reference/ and
        https://developer.wordpress.org/rest-api/using-the-rest-api/discovery/), then the text
        of its published pages (``GET /wp/v2/pages``,
        https://developer.wordpress.org/rest-api/reference/pages/): a comment policy or a
        contact page is where a site says what GO 80.11 asks."""
        index = PageRequest(f"{self.api_base}/")
        site = self.read_object(index, classify_wordpress)
        found = text_fields(site, ("name", "description"))
        pages: list[dict[str, Any]] = []
        listing = PageRequest(f"{self.v2}/pages", {"per_page": "100", "page": "1"})
        payload = self.fetch(listing, classify_wordpress).payload
        for row in _rows(payload, listing.path):
            clean, _ = self.scrub_json(row)
            pages.append(clean)
            title = plain_text(str((clean.get("title") or {}).get("rendered") or ""))
            body = plain_text(str((clean.get("content") or {}).get("rendered") or ""))
            if body:
                # The title is part of what a visitor reads ("Contact us", "Comment policy").
                found.append(ProfileField(f"page: {title or clean.get('id')}",
                                          f"{title}\n{body}" if title else body))
        home = site.get("home") or site.get("url")
        return Profile(self.platform, self.config.account_external_id, tuple(found),
                       url=home if isinstance(home, str) else None,
                       requests=(f"GET {index.path}", f"GET {listing.path}?per_page=100"),
                       raw={"index": {k: site.get(k) for k in ("name", "description", "url",
                                                                "home")},
                            "pages": pages})
