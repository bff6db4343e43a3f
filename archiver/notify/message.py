"""A message to staff as plain data: a subject, lines of text, data for the webhook, files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archiver.errors import ArchiverError


class NotifyError(ArchiverError):
    """A message could not be delivered on one channel."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (the webhook names it and gives its hash instead)."""

    name: str
    media_type: str
    content: bytes = field(repr=False)
    sha256: str = ""


@dataclass(frozen=True)
class Message:
    """One message. ``subject`` and ``lines`` are our own words with stored text already made
    safe to show; ``data`` is what the webhook posts as JSON."""

    kind: str
    subject: str
    lines: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()

    def body(self) -> str:
        """The e-mail's text."""
        return "\n".join(self.lines) + "\n"
