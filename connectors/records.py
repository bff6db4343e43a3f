"""Plain values that connectors hand to capture.

A connector knows nothing of the store. It yields, in order:

* :class:`Record` for every item it read (post, comment, reply, ...), normalized;
* :class:`ListingComplete` once it has read a *whole* listing successfully (every page, to the
  end), naming the scope it covered. Only a complete listing lets capture consider what is
  missing from it; a listing that fails part-way raises instead and is never marked complete;
* :class:`ListingWindow` instead, for a listing read to its end that shows only the latest
  entries (a feed): what is missing from it is counted and reported, never looked up as removed.

Capture then asks the connector :meth:`Connector.lookup` about items that a complete listing
lacked. Only a :class:`Gone` answer (the platform's own "does not exist", confirmed per the
platform's rules) makes capture record a removal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    """The platforms a connector exists for, as an account names its platform."""

    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    X = "x"
    YOUTUBE = "youtube"
    WORDPRESS = "wordpress"
    MEDIAWIKI = "mediawiki"
    FEED = "feed"
    THREADS = "threads"
    BLUESKY = "bluesky"
    TIKTOK = "tiktok"
    LINKEDIN = "linkedin"
    NEXTDOOR = "nextdoor"


class ItemKind(StrEnum):
    """What every archive item is, whatever the platform calls it."""

    POST = "post"
    COMMENT = "comment"
    REPLY = "reply"
    MEDIA = "media"
    PAGE_REVISION = "page_revision"
    STORY = "story"  # shown for 24 hours (archiver.connectors.stories)
    MESSAGE = "message"  # a direct message to or from the account: personal data


class ItemStatus(StrEnum):
    """The only three statuses the archive knows (the capture rules). A listing asserts
    ``active`` or ``hidden``; only capture's confirmed look-up makes an item ``removed``."""

    ACTIVE = "active"
    HIDDEN = "hidden"
    REMOVED = "removed"

# Scope name for the account's top-level listing (the page feed, the channel's uploads, ...).
ROOT_SCOPE = ""


@dataclass(frozen=True)
class MediaRef:
    """A media file shown by an item (capture downloads it into the blob store afterwards)."""

    url: str
    media_type: str | None = None


@dataclass(frozen=True)
class Record:
    """One item as read from a platform, normalized.

    ``parent_external_id`` is the direct parent (the post for a comment, the comment for a reply);
    ``scope`` is the listing this record belongs to, matching a later :class:`ListingComplete`
    (``ROOT_SCOPE`` for the account's top level, the post id for its comments).
    ``raw`` is the platform's payload as parsed from the response; capture stores it once
    :meth:`~archiver.connectors.base.Connector.scrub_record` has taken secrets out of it and the
    fields,
    counting them in ``secrets_scrubbed``.
    """

    external_id: str
    kind: ItemKind
    scope: str
    text: str | None
    status: ItemStatus  # active or hidden: removal is never asserted by a listing
    platform_status: str | None
    author_name: str | None
    author_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    url: str | None
    raw: dict[str, Any]
    parent_external_id: str | None = None
    media: tuple[MediaRef, ...] = ()
    secrets_scrubbed: int = 0
    # The recorded exchange whose page carried the record, as the injected recorder named it
    # (:mod:`archiver.connectors.exchanges`); None when nothing was recorded.
    source: str | None = None

    def __post_init__(self) -> None:
        # A plain string is accepted and kept as the member it names; anything else is refused.
        try:
            object.__setattr__(self, "kind", ItemKind(self.kind))
        except ValueError:
            raise ValueError(f"unknown kind {str(self.kind)!r}") from None
        if self.status not in (ItemStatus.ACTIVE, ItemStatus.HIDDEN):
            raise ValueError(f"a listing cannot assert status {str(self.status)!r}")
        object.__setattr__(self, "status", ItemStatus(self.status))


@dataclass(frozen=True)
class ListingComplete:
    """Every page of the listing for ``scope`` was read successfully, to the end."""

    scope: str


@dataclass(frozen=True)
class ListingWindow:
    """The listing for ``scope`` was read to its end, but it shows only its latest entries: an
    item missing from it may just have rolled off, so its absence proves nothing."""

    scope: str


@dataclass(frozen=True)
class ItemRef:
    """What capture knows about an archived item when it asks the connector to look it up."""

    external_id: str
    kind: ItemKind
    scope: str
    parent_external_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ItemKind(self.kind))


@dataclass(frozen=True)
class Gone:
    """The platform confirms the item no longer exists. ``evidence`` is kept as a blob."""

    evidence: dict[str, Any]


@dataclass(frozen=True)
class Present:
    """The item still exists (it fell out of the listing for another reason)."""

    record: Record | None = None


@dataclass(frozen=True)
class Unknown:
    """The look-up could not decide (permissions, transient error). Never a removal."""

    reason: str


LookupResult = Gone | Present | Unknown
# What a connector's ``read`` yields.
ReadEvent = Record | ListingComplete | ListingWindow


@dataclass
class RequestStats:
    """Counters a connector keeps so capture can report them."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)
    # What a person should know about the run although nothing failed (a feed that moved).
    notes: list[str] = field(default_factory=list)
