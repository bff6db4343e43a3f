"""X direct messages for the loopback X server: ``GET /2/dm_events``
(developer.x.com/en/docs/x-api/direct-messages/lookup).

The account's DM events of the last 30 days, newest first; ``max_results`` 1-100,
``pagination_token`` / ``meta.next_token``; ``event_types`` filters (``MessageCreate``,
``ParticipantsJoin``, ``ParticipantsLeave``); ``dm_event.fields`` chooses the fields past ``id``,
``event_type`` and ``text``; ``expansions=sender_id`` puts the senders in ``includes.users``. An
app-only token is refused with 403 "Unsupported Authentication" (:attr:`XDirectMessages.refused`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DM_DAYS = 30
APP_ONLY = ("Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
            "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
            "Context].")


@dataclass
class XDirectMessages:
    """The account's DM events, newest first."""

    events: list[dict[str, Any]] = field(default_factory=list)
    refused: bool = False  # the token may not read messages: 403

    def add(self, conversation_id: str, sender_id: str, text: str, created: datetime,
            event_type: str = "MessageCreate") -> str:
        """A DM event now; its id."""
        eid = str(1_900_000_000_000_000_000 + len(self.events) + 1)
        self.events.insert(0, {
            "id": eid, "event_type": event_type, "text": text, "sender_id": sender_id,
            "dm_conversation_id": conversation_id,
            "created_at": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        return eid

    def page(self, q: dict[str, str], now: datetime,
             users: dict[str, dict[str, str]]) -> dict[str, Any] | str:
        """The answer body for ``q``, or a one-line reason the request is invalid."""
        try:
            size = int(q.get("max_results", "100"))
            token = q.get("pagination_token")
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return "max_results or pagination_token is invalid"
        if not 1 <= size <= 100:
            return "max_results must be between 1 and 100"
        types = set(filter(None, q.get("event_types", "").split(",")))
        since = now - timedelta(days=DM_DAYS)
        shown = [e for e in self.events if (not types or e["event_type"] in types)
                 and datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) >= since]
        wanted = {"id", "event_type", "text", *q.get("dm_event.fields", "").split(",")}
        data = [{k: v for k, v in e.items() if k in wanted} for e in shown[offset:offset + size]]
        body: dict[str, Any] = {"meta": {"result_count": len(data)}}
        if data:
            body["data"] = data
        if "sender_id" in q.get("expansions", "").split(","):
            senders = {e["sender_id"] for e in shown[offset:offset + size]}
            found = [users[s] for s in sorted(senders) if s in users]
            if found:
                body["includes"] = {"users": found}
        if offset + size < len(shown):
            body["meta"]["next_token"] = base64.urlsafe_b64encode(
                str(offset + size).encode()).decode()
        return body
