"""What an account says about itself in public, and what the platform says about its token.

Each connector's ``profile()`` reads the account's public profile (a Facebook Page's about,
description, website and phone; an Instagram biography; an X description; a YouTube channel
description; a WordPress site's tagline and pages; a MediaWiki main page; a feed's channel
description) into a :class:`Profile`: named text fields, with the requests made and the answers
as read, for evidence. ``token_status()`` says when the token expires where the platform tells
(Graph's ``debug_token``), else None.

Plain values and text helpers only: this module imports nothing of the connector loop, so every
connector can use it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_TAG = re.compile(r"<[^>]*>")
_BLOCK = re.compile(r"(?i)</?(?:p|div|br|li|h[1-6]|tr|section|article)\b[^>]*>")


@dataclass(frozen=True)
class ProfileField:
    """One piece of the profile: its name on the platform and its text."""

    name: str
    text: str


@dataclass(frozen=True)
class Profile:
    """An account's public profile as read: text fields, where a person sees it, the requests
    made (paths and parameters, never a credential) and the answers (``raw``, for evidence)."""

    platform: str
    account: str
    fields: tuple[ProfileField, ...]
    url: str | None = None
    requests: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """Every field's text, one field per paragraph."""
        return "\n\n".join(f.text for f in self.fields)


@dataclass(frozen=True)
class TokenStatus:
    """What the platform says about a token: valid or not, and until when (None: no expiry
    stated, or never)."""

    valid: bool
    expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    problem: str | None = None


def plain_text(markup: str) -> str:
    """HTML as a person reads it: tags dropped (block tags as line breaks), entities decoded,
    spaces collapsed on each line."""
    text = html.unescape(_TAG.sub(" ", _BLOCK.sub("\n", markup)))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def text_fields(values: Mapping[str, Any], names: Iterable[str]) -> list[ProfileField]:
    """``ProfileField`` for each of ``names`` whose value is non-empty text (a list of texts,
    such as Graph's ``emails``, is joined with commas)."""
    found = []
    for name in names:
        value = values.get(name)
        if isinstance(value, list):
            value = ", ".join(v for v in value if isinstance(v, str))
        if isinstance(value, str) and value.strip():
            found.append(ProfileField(name, value.strip()))
    return found
