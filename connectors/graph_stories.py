"""A Facebook Page's stories, ``GET /{page-id}/stories`` (``post_id, status PUBLISHED|ARCHIVED,
creation_time, media_type, media_id, url``; archived ones only while the Page's story archive is
on): https://developers.facebook.com/docs/page-stories-api. Each story's photo (``images``) or
video (``source``) is read from its ``media_id`` at once:
https://developers.facebook.com/docs/graph-api/reference/photo,
https://developers.facebook.com/docs/graph-api/reference/video. What stories share with
Instagram's: :mod:`archiver.connectors.stories`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from archiver.connectors.base import PageRequest
from archiver.connectors.errors import ConnectorError, MalformedResponse
from archiver.connectors.graph import (
    PermittedGraphEdge,
    _edge_data,
    _opt,
    _unix_time,
    classify_graph,
    parse_graph_time,
)
from archiver.connectors.records import ItemKind, ItemStatus, MediaRef, Record
from archiver.connectors.stories import STORIES_SCOPE

STORY_FIELDS = "post_id,status,creation_time,media_type,media_id,url"


def _story_time(value: Any, path: str) -> datetime | None:
    """A story's ``creation_time``: Unix seconds (a number or its digits) or a Graph time."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _unix_time(value)
    return parse_graph_time(value, path)


def story_media(media_type: str | None, obj: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
    """The file of a story's photo (its largest ``images`` entry) or video (``source``)."""
    source = _opt(obj, "source", str, path)
    images = _opt(obj, "images", list, path) or []
    sized = [i for i in images if isinstance(i, dict) and isinstance(i.get("source"), str)]
    if not source and sized:
        best = max(sized, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0)
                   if isinstance(i.get("width"), int) and isinstance(i.get("height"), int) else 0)
        source = best["source"]
    return (MediaRef(url=source, media_type=media_type),) if source else ()


def story_record(item: dict[str, Any], media: tuple[MediaRef, ...], path: str) -> Record:
    """One Page story → a ``story`` :class:`Record` (``platform_status``: ``published`` or
    ``archived``, the story's own ``status`` lower-cased)."""
    post_id = _opt(item, "post_id", str, path)
    if not post_id:
        raise MalformedResponse(f"response from {path}: a story without a post_id")
    status = _opt(item, "status", str, path)
    return Record(
        external_id=post_id, kind=ItemKind.STORY, scope=STORIES_SCOPE, text=None,
        status=ItemStatus.ACTIVE, platform_status=status.lower() if status else None,
        author_name=None, author_id=None,
        created_at=_story_time(item.get("creation_time"), path), updated_at=None,
        url=_opt(item, "url", str, path), raw=item, media=media)


class GraphStoriesListing(PermittedGraphEdge):
    """A ``/stories`` edge (a Page's, an Instagram account's): its own scope, and a token
    without the permission for it reported, not failed."""

    @property
    def scopes(self) -> tuple[str, ...]:
        return (STORIES_SCOPE,)


class StoriesStream(GraphStoriesListing):
    """``GET /{page-id}/stories``: the Page's stories of the last day (and archived ones while
    the story archive is on), each with its photo or video file, read at once."""

    edge, fields, page_size = "stories", STORY_FIELDS, 25
    what, needs = "page stories", "pages_read_engagement"

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return [story_record(item, self._media(item, request.path), request.path)
                for item in _edge_data(payload, request.path)]

    def _media(self, item: dict[str, Any], path: str) -> tuple[MediaRef, ...]:
        """The story's file; a media object that cannot be read is noted, never guessed."""
        media_id = _opt(item, "media_id", str, path)
        media_type = _opt(item, "media_type", str, path)
        if not media_id:
            return ()
        field = "source" if (media_type or "").lower() == "video" else "images"
        request = PageRequest(f"{self.connector.api_base}/{quote(media_id, safe='')}",
                              {"fields": field})
        try:
            obj = self.connector.read_object(request, classify_graph)
        except ConnectorError as exc:
            self.connector.stats.notes.append(
                self.connector.scrub(f"facebook: story {item.get('post_id')}: its media file "
                                     f"could not be read ({exc})"))
            return ()
        return story_media(media_type.lower() if media_type else None, obj, path)
