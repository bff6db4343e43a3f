"""Meta's webhook notifications for Facebook Pages and Instagram accounts, read as changes.

What arrives, followed:

* Envelope and signature: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
  ("Event Notifications", "Validating Payloads"): a POST whose JSON body is
  ``{"object": "page"|"instagram", "entry": [{"id": <page or IG user id>, "time": <Unix
  seconds>, "changes": [{"field": ..., "value": {...}}]}]}``, signed with
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``. Meta
  escapes non-ASCII as ``\\uXXXX``, so the HMAC is taken over the bytes as received (re-serialised
  JSON would not match). Meta batches changes, delivers at least once and keeps no order.
* Page ``feed`` changes: https://developers.facebook.com/docs/graph-api/webhooks/reference/page/
  (``feed``): ``item`` (``comment``, ``status``, ``post``, ``photo``, ``video``, ``share``, ...),
  ``verb`` (``add``, ``edited``, ``hide``, ``unhide``, ``remove``; ``edit`` in older
  deliveries), ``post_id``, ``comment_id``, ``parent_id`` (the comment replied to, or the post),
  ``from`` ``{id, name}`` (older deliveries: ``sender_id``/``sender_name``), ``message``,
  ``created_time`` (Unix seconds), ``permalink_url`` or ``link``. restfb's fixtures
  feed-comment-add / -edited / -hide / -remove (https://github.com/restfb/restfb) show the
  variants met in practice.
* Instagram ``comments`` changes:
  https://developers.facebook.com/docs/graph-api/webhooks/reference/instagram/ (``comments``)
  and https://developers.facebook.com/docs/instagram-platform/webhooks/examples/:
  ``id``, ``text``, ``from`` ``{id, username}``, ``media`` ``{id, media_product_type}``,
  ``parent_id`` for a reply. Instagram notifies new comments only.
* Messages (Messenger and Instagram): https://developers.facebook.com/docs/messenger-platform/reference/webhook-events
  (``messages``, ``message_echoes``, ``message_edits``): an entry's ``messaging`` list of
  ``{"sender": {"id"}, "recipient": {"id"}, "timestamp": <Unix ms>, "message": {"mid", "text",
  "attachments": [{"type", "payload": {"url"}}], "is_echo"}}`` (an echo is a message the account
  sent) or ``"message_edit": {"mid", "text", "num_edit"}``. The conversations API shows only a
  conversation's 20 latest messages, so these are how the others are kept
  (:mod:`archiver.connectors.messages`).

Each change becomes a :class:`Change`: what happened (:class:`Action`), to which item, and for
anything but a removal the :class:`~archiver.connectors.records.Record` to store. A removal has
no record: the webhook is only a report, which capture confirms by the connector's look-up.
Anything else (other fields, items we do not archive, values without ids) is counted as ignored.
Visitor text is hostile: it is carried, never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from archiver.connectors.messages import MESSAGES_SCOPE, RECEIVED, SENT
from archiver.connectors.records import (
    ROOT_SCOPE,
    ItemKind,
    ItemStatus,
    MediaRef,
    Platform,
    Record,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# The ``object`` of each platform's notifications.
OBJECTS = {"facebook": "page", "instagram": "instagram"}
# Feed ``item`` values that are posts of the page.
POST_ITEMS = frozenset({"status", "post", "photo", "video", "share"})


class PayloadError(ValueError):
    """A webhook body that is not the documented shape (one line, safe to log)."""


class Action(StrEnum):
    """What a change says happened to an item."""

    ADDED = "added"
    EDITED = "edited"
    HIDDEN = "hidden"
    UNHIDDEN = "unhidden"
    REMOVED = "removed"


# Feed verbs (Meta's words) and what they mean.
FEED_VERBS = {"add": Action.ADDED, "edit": Action.EDITED, "edited": Action.EDITED,
              "hide": Action.HIDDEN, "unhide": Action.UNHIDDEN, "remove": Action.REMOVED}


@dataclass(frozen=True)
class Change:
    """One event for one account: a record to store, or a reported removal to confirm.

    ``verb`` is the platform's own word (kept for the audit record); ``record`` is None exactly
    for :attr:`Action.REMOVED`.
    """

    platform: str
    account_external_id: str
    verb: str
    action: Action
    external_id: str
    record: Record | None = None
    # When the platform says the change happened (None: the payload does not say).
    event_time: datetime | None = None


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """Is ``header`` (the ``X-Hub-Signature-256`` value) the HMAC-SHA256 of the raw ``body``
    with ``app_secret``? Compared in constant time."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX):].strip().lower()
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _unix(value: Any) -> datetime | None:
    """Unix seconds (or a Graph timestamp string) → aware UTC datetime; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
        except ValueError:
            return None
    return None


def _author(value: Mapping[str, Any], name_key: str = "name") -> tuple[str | None, str | None]:
    who = _dict(value.get("from"))
    if who:
        return _str(who.get(name_key)), _str(who.get("id"))
    return _str(value.get("sender_name")), _str(value.get("sender_id"))


def facebook_change(
    page_id: str, value: Mapping[str, Any], sent_at: datetime | None = None
) -> Change | None:
    """One ``feed`` change value → a :class:`Change` (None for events we do not archive);
    ``sent_at`` is its entry's ``time``. The change's time is the later of that and the value's
    ``created_time``."""
    item, verb = _str(value.get("item")), _str(value.get("verb"))
    action = FEED_VERBS.get(verb or "")
    if verb is None or action is None:
        return None
    if item == "comment":
        external_id = _str(value.get("comment_id"))
        post_id = _str(value.get("post_id"))
        if not external_id or not post_id:
            return None
        parent: str | None = _str(value.get("parent_id")) or post_id
        kind, scope = (ItemKind.COMMENT if parent == post_id else ItemKind.REPLY), post_id
    elif item in POST_ITEMS:
        external_id = _str(value.get("post_id"))
        if not external_id:
            return None
        parent, kind, scope = None, ItemKind.POST, ROOT_SCOPE
    else:
        return None
    created = _unix(value.get("created_time"))
    event_time = max((t for t in (sent_at, created) if t is not None), default=None)
    if action is Action.REMOVED:
        return Change(Platform.FACEBOOK, page_id, verb, action, external_id, event_time=event_time)
    hidden = action is Action.HIDDEN
    name, author_id = _author(value)
    record = Record(
        external_id=external_id, kind=kind, scope=scope,
        text=_str(value.get("message")),
        status=ItemStatus.HIDDEN if hidden else ItemStatus.ACTIVE,
        platform_status="hidden" if hidden else "published",
        author_name=name, author_id=author_id, created_at=created, updated_at=event_time,
        url=_str(value.get("permalink_url")) or _str(value.get("link")),
        raw=dict(value), parent_external_id=parent,
    )
    return Change(Platform.FACEBOOK, page_id, verb, action, external_id, record, event_time)


def instagram_change(
    ig_user_id: str, value: Mapping[str, Any], sent_at: datetime | None = None
) -> Change | None:
    """One Instagram ``comments`` change value → a new comment or reply; ``sent_at`` is its
    entry's ``time``."""
    external_id = _str(value.get("id"))
    media_id = _str(_dict(value.get("media")).get("id"))
    if not external_id or not media_id:
        return None
    parent = _str(value.get("parent_id"))
    name, author_id = _author(value, "username")
    record = Record(
        external_id=external_id, kind=ItemKind.REPLY if parent else ItemKind.COMMENT,
        scope=media_id,
        text=_str(value.get("text")), status=ItemStatus.ACTIVE, platform_status="published",
        author_name=name, author_id=author_id, created_at=None, updated_at=sent_at, url=None,
        raw=dict(value), parent_external_id=parent or media_id,
    )
    return Change(Platform.INSTAGRAM, ig_user_id, "add", Action.ADDED, external_id, record, sent_at)


def messaging_change(platform: str, account_id: str, event: Mapping[str, Any]) -> Change | None:
    """One ``messaging`` event (a message, an echo of one the account sent, or an edit) → a
    ``message`` :class:`Change`; None for other events (reads, deliveries, reactions)."""
    message, edited = _dict(event.get("message")), _dict(event.get("message_edit"))
    body = message or edited
    external_id = _str(body.get("mid"))
    if not external_id:
        return None
    sender = _str(_dict(event.get("sender")).get("id"))
    sent = message.get("is_echo") is True or sender == account_id
    at = event.get("timestamp")
    when = _unix(at / 1000) if isinstance(at, int | float) and not isinstance(at, bool) else None
    listed = body.get("attachments")
    media = tuple(
        MediaRef(url=url, media_type=_str(a.get("type")))
        for a in (listed if isinstance(listed, list) else [])
        if isinstance(a, dict) and (url := _str(_dict(a.get("payload")).get("url")))
    )
    action = Action.EDITED if edited and not message else Action.ADDED
    record = Record(
        external_id=external_id, kind=ItemKind.MESSAGE, scope=MESSAGES_SCOPE,
        text=_str(body.get("text")), status=ItemStatus.ACTIVE,
        platform_status=SENT if sent else RECEIVED, author_name=None, author_id=sender,
        created_at=when if action is Action.ADDED else None,
        updated_at=when if action is Action.EDITED else None,
        url=None, raw=dict(event), media=media,
    )
    verb = "message_edit" if action is Action.EDITED else "message"
    return Change(platform, account_id, verb, action, external_id, record, when)


# The change ``field`` each platform's parser reads.
_FIELDS = {"facebook": ("feed", facebook_change), "instagram": ("comments", instagram_change)}


def parse_payload(platform: str, payload: Any) -> tuple[list[Change], int]:
    """A decoded webhook body of ``platform`` → (changes, number of changes ignored)."""
    if platform not in OBJECTS:
        raise PayloadError(f"no webhooks for platform {platform!r}")
    expected = OBJECTS[platform]
    if not isinstance(payload, dict) or payload.get("object") != expected:
        raise PayloadError(f"webhook body is not an '{expected}' notification")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("webhook body has no 'entry' list")
    field, parse = _FIELDS[platform]
    changes: list[Change] = []
    ignored = 0
    for entry in entries:
        entry = _dict(entry)
        account_id = _str(entry.get("id"))
        sent_at = _unix(entry.get("time"))
        raw_changes = entry.get("changes")
        for raw in raw_changes if isinstance(raw_changes, list) else []:
            raw = _dict(raw)
            change = None
            if account_id and raw.get("field") == field:
                change = parse(account_id, _dict(raw.get("value")), sent_at)
            if change is None:
                ignored += 1
            else:
                changes.append(change)
        events = entry.get("messaging")
        for event in events if isinstance(events, list) else []:
            change = messaging_change(platform, account_id, _dict(event)) if account_id else None
            if change is None:
                ignored += 1
            else:
                changes.append(change)
    return changes, ignored


def parse_body(platform: str, body: bytes) -> tuple[list[Change], int]:
    """The raw body of a (signature-checked) notification → :func:`parse_payload`'s answer;
    anything that is not such a body raises :class:`PayloadError`."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("body is not JSON") from None
    return parse_payload(platform, payload)
