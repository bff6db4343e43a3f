"""X direct messages, ``GET /2/dm_events`` (https://developer.x.com/en/docs/x-api/direct-messages/lookup,
https://docs.x.com/x-api/direct-messages/get-dm-events).

The account's DM events of the last 30 days, newest first: ``max_results`` up to 100,
``pagination_token`` from ``meta.next_token``, ``event_types=MessageCreate`` (joins and leaves of
group conversations are not messages), ``dm_event.fields`` with the text, sender, conversation
and time, ``expansions=sender_id`` for the senders' names. It needs a user-context token with the
``dm.read tweet.read users.read`` scopes: an app-only Bearer token is answered 403, which capture
reports as messages not read, never as an empty inbox. Thirty days is a window: a message that
left it is never looked up or taken for deleted. What a direct message is to the archive:
:mod:`archiver.connectors.messages`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from archiver.connectors.base import Classification, CursorPaging, PageRequest
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.messages import MESSAGES_SCOPE, direction
from archiver.connectors.records import ItemKind, ItemStatus, Record
from archiver.connectors.stories import PermittedListing

DM_FIELDS = "id,text,event_type,dm_conversation_id,created_at,sender_id,participant_ids"
DM_PAGE = 100  # the documented maximum


def _text(item: dict[str, Any], key: str, path: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: field {key!r} has the wrong type")
    return value


def _time(value: str | None, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None


def parse_dm_page(payload: Any, account_id: str, path: str) -> list[Record]:
    """A decoded ``/2/dm_events`` page → ``message`` records (``MessageCreate`` events only);
    anything else than the documented shape is a :class:`MalformedResponse`."""
    if not isinstance(payload, dict):
        raise MalformedResponse(f"response from {path}: expected a JSON object")
    events = payload.get("data") or []
    includes = payload.get("includes") or {}
    users = includes.get("users") if isinstance(includes, dict) else None
    if (not isinstance(events, list) or not all(isinstance(e, dict) for e in events)
            or not isinstance(users or [], list)):
        raise MalformedResponse(f"response from {path}: data is not a list of events")
    names = {u.get("id"): u for u in users or [] if isinstance(u, dict)
             and isinstance(u.get("id"), str)}
    records: list[Record] = []
    for event in events:
        if event.get("event_type", "MessageCreate") != "MessageCreate":
            continue
        event_id = _text(event, "id", path)
        if not event_id:
            raise MalformedResponse(f"response from {path}: an event without an id")
        sender = _text(event, "sender_id", path)
        user = names.get(sender) or {}
        name, handle = user.get("name"), user.get("username")
        records.append(Record(
            external_id=event_id, kind=ItemKind.MESSAGE, scope=MESSAGES_SCOPE,
            text=_text(event, "text", path), status=ItemStatus.ACTIVE,
            platform_status=direction(sender, account_id),
            author_name=f"{name} (@{handle})" if isinstance(name, str)
            and isinstance(handle, str) else None,
            author_id=sender, created_at=_time(_text(event, "created_at", path), path),
            updated_at=None, url=None, raw=event))
    return records


class DmEventsStream(PermittedListing):
    """``GET /2/dm_events``: the account's direct messages of the last 30 days."""

    paging = CursorPaging(("meta", "next_token"), "pagination_token")
    what = "x direct messages"
    needs = "a user-context token with the dm.read, tweet.read and users.read scopes"

    @property
    def scopes(self) -> tuple[str, ...]:
        return (MESSAGES_SCOPE,)

    def first_request(self) -> PageRequest:
        return PageRequest(f"{self.connector.api_base}/2/dm_events", {
            "max_results": str(DM_PAGE), "event_types": "MessageCreate",
            "dm_event.fields": DM_FIELDS, "expansions": "sender_id",
            "user.fields": "name,username"})

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        # X answers a token that may not read messages (app-only, no dm.read) with 403.
        return self.permitted(self.connector.classify_answer(response, payload),
                              response.status_code == 403)

    def parse_page(self, payload: Any, request: PageRequest) -> list[Any]:
        return parse_dm_page(payload, self.connector.config.account_external_id, request.path)
