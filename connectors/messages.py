"""Direct messages to and from the department's accounts: what they share on every platform.

A message is its own kind (:attr:`ItemKind.MESSAGE`) in its own listing scope
(:data:`MESSAGES_SCOPE`). It carries personal data: open-records searches and packages leave it
out unless a request asks for messages (``archiver.search.filters.PRIVATE_KINDS``), and it has a
retention series of its own in the bundled schedules.

The platforms show only the latest messages (Messenger and Instagram conversations their 20
latest, https://developers.facebook.com/docs/graph-api/reference/conversation; X direct messages
30 days, https://developer.x.com/en/docs/x-api/direct-messages/lookup), so a listing of messages
is a window: a message that left it is never looked up or taken for deleted. Meta's messages are
also taken from webhooks as they arrive (:mod:`archiver.connectors.graph_webhooks`). A token
without the messaging permission makes capture report it (a note and
``stats.extra["<what>_not_permitted"]``), never guess.
"""

from __future__ import annotations

# The listing scope of an account's direct messages (no post id looks like it).
MESSAGES_SCOPE = "messages"
# What a message's platform status says: the account sent it, or received it.
SENT = "sent"
RECEIVED = "received"


def direction(sender_id: str | None, account_id: str) -> str:
    """``sent`` when the account is the sender, else ``received``."""
    return SENT if sender_id == account_id else RECEIVED
