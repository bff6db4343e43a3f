"""Conversations as the Graph API serves them to the loopback Graph and Instagram servers.

``GET /{page-id}/conversations?platform=messenger`` (``/me/conversations?platform=instagram`` for
Instagram) lists conversations, most recently updated first, with ``id`` and ``updated_time``;
``GET /{conversation-id}/messages`` gives only the 20 most recent messages
(developers.facebook.com/docs/messenger-platform/conversations,
.../docs/graph-api/reference/conversation: older messages cannot be read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MESSAGE_WINDOW = 20


@dataclass
class Inbox:
    """An account's conversations: each a list of Graph Message objects, newest first."""

    conversations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: bool = False  # answer Graph error 10: the token lacks the messaging permission

    def add_message(self, conversation_id: str, sender: dict[str, str],
                    recipient: dict[str, str], text: str, created: datetime) -> str:
        """A message in ``conversation_id`` (made if new); its ``m_`` id."""
        thread = self.conversations.setdefault(conversation_id, [])
        mid = f"m_{conversation_id}_{len(thread) + 1}"
        thread.insert(0, {"id": mid, "message": text, "from": sender,
                          "to": {"data": [recipient]},
                          "created_time": created.astimezone(UTC).strftime(
                              "%Y-%m-%dT%H:%M:%S+0000")})
        return mid

    def listing(self) -> list[dict[str, Any]]:
        """The conversations, most recently updated first."""
        shown = [{"id": cid, "updated_time": msgs[0]["created_time"]}
                 for cid, msgs in self.conversations.items() if msgs]
        return sorted(shown, key=lambda c: str(c["updated_time"]), reverse=True)

    def latest(self, conversation_id: str) -> list[dict[str, Any]]:
        """The messages the API still shows: the 20 most recent."""
        return self.conversations.get(conversation_id, [])[:MESSAGE_WINDOW]
