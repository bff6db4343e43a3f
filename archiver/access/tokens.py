"""Per-user API tokens for ``/api/``: shown once, kept only as a sha256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from archiver.access.users import Access, access_of
from archiver.errors import NotFound
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import ApiToken, User

# Recognisable in a leaked log or a secret scanner's rules.
PREFIX = "arv_"
# last_used_at is written at most this often, so a busy script does not write on every call.
_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its hash is kept
    token_id: int
    label: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_token(archive: Archive, user_name: str, label: str, *, actor: str) -> IssuedToken:
    """A new token acting as ``user_name``."""
    token = PREFIX + secrets.token_urlsafe(32)
    now = archive.clock()
    with archive.transaction() as s:
        user = s.scalar(select(User).where(User.name == user_name))
        if user is None:
            raise NotFound(f"no user named {user_name!r}")
        row = ApiToken(user_id=user.id, label=label[:255], token_sha256=_digest(token),
                       created_at=now)
        s.add(row)
        s.flush()
        record_event(s, action="user.token_issued", occurred_at=now, actor=actor,
                     target_type="user", target_id=user.name,
                     details={"token_id": row.id, "label": row.label})
        return IssuedToken(token=token, token_id=row.id, label=row.label)


def revoke_token(archive: Archive, token_id: int, *, actor: str,
                 user_name: str | None = None) -> None:
    """End a token; requests carrying it are refused from now on. With ``user_name``, only a
    token of that user (another's is :class:`NotFound`, as if it did not exist)."""
    now = archive.clock()
    with archive.transaction() as s:
        row = s.get(ApiToken, token_id)
        owner = s.get(User, row.user_id) if row is not None else None
        if row is None or (user_name is not None and (owner is None or owner.name != user_name)):
            raise NotFound(f"no API token with id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = now
            record_event(s, action="user.token_revoked", occurred_at=now, actor=actor,
                         target_type="api_token", target_id=token_id)


def list_tokens(archive: Archive, user_name: str) -> list[dict[str, Any]]:
    """The user's tokens, newest first: label, when made, last used, revoked (never the token,
    which is not kept)."""
    with archive.sessions() as s:
        rows = s.scalars(select(ApiToken).join(User, User.id == ApiToken.user_id)
                         .where(User.name == user_name).order_by(ApiToken.id.desc()))
        return [{"token_id": t.id, "label": t.label, "created_at": _iso(t.created_at),
                 "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at),
                 "active": t.revoked_at is None} for t in rows]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def token_access(archive: Archive, token: str) -> Access | None:
    """The access of the user a bearer token acts as; None for an unknown, revoked or
    malformed token, or a user who may not act (inactive, locked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = archive.clock()
    with archive.transaction() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        user = s.get(User, row.user_id)
        if user is None or not user.active or (user.locked_until and user.locked_until > now):
            return None
        if row.last_used_at is None or now - row.last_used_at > _USE_RESOLUTION:
            row.last_used_at = now
        return access_of(s, user)
