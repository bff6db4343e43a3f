"""Users of the records desk: adding and listing them, signing in with lock-out, and the
:class:`Access` (role and account limit) every page and library call is given.

Every change and every sign-in, failed or not, is an audit event naming the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.access.passwords import hash_password, needs_rehash, verify_password
from archiver.access.roles import REQUIRED_ROLE, Permission, Role
from archiver.errors import ArchiverError, NotFound
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.limits import AccountLimit
from archiver.store.models import Account, User, UserAccount

# Names people type to sign in: no spaces or control characters to confuse logs and screens.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class Access:
    """Who is asking, in what role, and which accounts' items they may see."""

    user_id: int
    name: str
    role: Role
    limit: AccountLimit
    session_epoch: int = 0  # sessions begun under another epoch are over

    def can(self, permission: Permission) -> bool:
        return self.role.at_least(REQUIRED_ROLE[permission])

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``max_failures`` wrong passwords in a row a user is locked for ``lock_for``; the
    lock ends by itself (an admin need not be found at night), and the count starts again."""

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    REFUSED = "refused"  # wrong name or password (never said which)
    LOCKED = "locked"  # too many wrong passwords; ``locked_until`` says until when


@dataclass(frozen=True)
class SignIn:
    outcome: SignInOutcome
    access: Access | None = None
    locked_until: datetime | None = None


def add_user(archive: Archive, name: str, role: Role, *, password: str,
             account_ids: Sequence[int] | None = None, actor: str) -> User:
    """Create a user; ``account_ids`` limits them to those accounts (None: every account)."""
    if not NAME.match(name):
        raise ArchiverError(f"user name {name!r} is not allowed: 1 to 64 letters, digits and . _ @ "
                            "- (starting with a letter or digit)")
    password_hash = hash_password(password)
    now = archive.clock()
    with archive.transaction() as s:
        check_accounts(s, account_ids or ())
        user = User(name=name, role=str(role), password_hash=password_hash, active=True,
                    limited=account_ids is not None, failed_sign_ins=0, session_epoch=0,
                    created_at=now, created_by=actor)
        s.add(user)
        try:
            s.flush()
        except IntegrityError:
            raise ArchiverError(f"a user named {name!r} already exists") from None
        link_accounts(s, user.id, account_ids or ())
        record_event(s, action="user.add", occurred_at=now, actor=actor, target_type="user",
                     target_id=name, details={"role": str(role),
                                              "accounts": shown_limit(account_ids)})
        s.expunge(user)
    return user


def check_accounts(s: Session, account_ids: Iterable[int]) -> None:
    wanted = set(account_ids)
    found = set(s.scalars(select(Account.id).where(Account.id.in_(wanted)))) if wanted else set()
    missing = sorted(wanted - found)
    if missing:
        raise NotFound(f"no account with id {', '.join(map(str, missing))}")


def link_accounts(s: Session, user_id: int, account_ids: Iterable[int]) -> None:
    s.execute(delete(UserAccount).where(UserAccount.user_id == user_id))
    s.add_all(UserAccount(user_id=user_id, account_id=a) for a in sorted(set(account_ids)))


def shown_limit(account_ids: Sequence[int] | None) -> list[int] | str:
    return "all" if account_ids is None else sorted(set(account_ids))


def list_users(archive: Archive) -> list[dict[str, Any]]:
    """Every user as JSON (no password hash), by name."""
    with archive.sessions() as s:
        users = list(s.scalars(select(User).order_by(User.name)))
        limits = account_limits(s, [u.id for u in users if u.limited])
        return [user_json(u, limits.get(u.id, [])) for u in users]


def user_json(user: User, account_ids: list[int]) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "accounts": sorted(account_ids) if user.limited else "all",
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
        "created_at": user.created_at.isoformat(),
        "created_by": user.created_by,
    }


def account_limits(s: Session, user_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    if user_ids:
        for user_id, account_id in s.execute(
                select(UserAccount.user_id, UserAccount.account_id)
                .where(UserAccount.user_id.in_(user_ids))):
            out.setdefault(user_id, []).append(account_id)
    return out


def access_of(s: Session, user: User) -> Access:
    """The :class:`Access` a user signs in with."""
    limit = AccountLimit.only(account_limits(s, [user.id]).get(user.id, [])) if user.limited \
        else AccountLimit()
    return Access(user_id=user.id, name=user.name, role=Role(user.role), limit=limit,
                  session_epoch=user.session_epoch)


def current_access(archive: Archive, user_id: int,
                   session_epoch: int | None = None) -> Access | None:
    """The user's access now, or None if they may no longer act: removed, deactivated, locked,
    or (with ``session_epoch``) their sessions were ended since that session began."""
    now = archive.clock()
    with archive.sessions() as s:
        user = s.get(User, user_id)
        if user is None or not user.active:
            return None
        if user.locked_until is not None and user.locked_until > now:
            return None
        if session_epoch is not None and session_epoch != user.session_epoch:
            return None
        return access_of(s, user)


def sign_in(archive: Archive, name: str, password: str, *,
            policy: LockoutPolicy = LockoutPolicy(), source: str | None = None) -> SignIn:
    """Check a name and password. Counts failures per user and locks the user for
    ``policy.lock_for`` after ``policy.max_failures`` in a row; a locked user is refused even
    with the right password. Every attempt is an audit event (``source``: the client address)."""
    now = archive.clock()
    with archive.transaction() as s:
        user = s.scalar(select(User).where(User.name == name)) if NAME.match(name) else None
        good = verify_password(user.password_hash if user else None, password)
        details = {"source": source} if source else {}
        if user is None or not user.active:
            record_event(s, action="user.sign_in_refused", occurred_at=now, actor=_safe(name),
                         target_type="user", target_id=_safe(name),
                         details={**details, "reason": "unknown or inactive user"})
            return SignIn(SignInOutcome.REFUSED)
        if user.locked_until is not None and user.locked_until > now:
            record_event(s, action="user.sign_in_refused", occurred_at=now, actor=user.name,
                         target_type="user", target_id=user.name,
                         details={**details, "reason": "locked",
                                  "locked_until": user.locked_until.isoformat()})
            return SignIn(SignInOutcome.LOCKED, locked_until=user.locked_until)
        if not good:
            locked = count_wrong_password(user, now, policy)
            record_event(s, action="user.sign_in_refused", occurred_at=now, actor=user.name,
                         target_type="user", target_id=user.name,
                         details={**details,
                                  "reason": "wrong password; locked" if locked
                                  else "wrong password",
                                  "locked_until": user.locked_until.isoformat()
                                  if locked and user.locked_until else None})
            if locked:
                return SignIn(SignInOutcome.LOCKED, locked_until=user.locked_until)
            return SignIn(SignInOutcome.REFUSED)
        user.failed_sign_ins = 0
        user.locked_until = None
        user.last_sign_in_at = now
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        record_event(s, action="user.sign_in", occurred_at=now, actor=user.name,
                     target_type="user", target_id=user.name, details=details)
        return SignIn(SignInOutcome.SIGNED_IN, access=access_of(s, user))


def count_wrong_password(user: User, now: datetime, policy: LockoutPolicy) -> bool:
    """Count one wrong password against ``user`` (signing in, or re-entering it to approve
    something); True when that locks them for ``policy.lock_for``."""
    user.failed_sign_ins += 1
    if user.failed_sign_ins < policy.max_failures:
        return False
    user.locked_until = now + policy.lock_for
    user.failed_sign_ins = 0
    return True


def end_sessions(user: User) -> None:
    """End every session ``user`` has (a copied session cookie is worthless from now on)."""
    user.session_epoch += 1


def _safe(name: str) -> str:
    """A typed user name as the audit log may keep it (typed by anyone: bounded)."""
    return name[:64] if NAME.match(name) else repr(name[:64])


def sign_out(archive: Archive, access: Access) -> None:
    """End every session of the user (a copied session cookie is worthless from now on) and
    record it."""
    now = archive.clock()
    with archive.transaction() as s:
        user = s.get(User, access.user_id)
        if user is not None:
            end_sessions(user)
        record_event(s, action="user.sign_out", occurred_at=now, actor=access.name,
                     target_type="user", target_id=access.name)
