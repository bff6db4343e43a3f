"""A JSON POST per message to the agency's webhook (chat, ticketing, paging), with httpx.

The body is the message's ``data`` with its kind and subject; files are named with their size
and sha256, not sent. With a secret the body is signed like Meta's webhooks sign theirs:
``X-Archiver-Signature-256: sha256=<HMAC-SHA256 of the body>``. Redirects are not followed (a
redirect could carry the body elsewhere). A failure is one :class:`NotifyError` line that names
the host, never the URL's query or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

import httpx

from archiver.notify.message import Message, NotifyError
from archiver.notify.settings import WebhookSettings

SIGNATURE_HEADER = "X-Archiver-Signature-256"


def webhook_body(message: Message) -> bytes:
    """The JSON a webhook receives for ``message``."""
    payload = {"kind": message.kind, "subject": message.subject, **message.data,
               "attachments": [{"name": a.name, "media_type": a.media_type,
                                "size": len(a.content), "sha256": a.sha256}
                               for a in message.attachments]}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def post_message(settings: WebhookSettings, message: Message) -> None:
    """POST ``message`` to the webhook, or raise :class:`NotifyError`."""
    body = webhook_body(message)
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "archiver-notices"}
    if settings.secret:
        digest = hmac.new(settings.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    parts = urlsplit(settings.url)
    where = f"webhook {parts.scheme}://{parts.netloc}{parts.path}"
    try:
        response = httpx.post(settings.url, content=body, headers=headers,
                              timeout=settings.timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise NotifyError(f"{where}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"{where}: HTTP {response.status_code}")
