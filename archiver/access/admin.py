"""Looking after users once they exist: an admin changes a user's role or account limit,
disables or re-enables them, resets a password or ends a lock-out; each user changes their own
password and re-enters it to approve something grave (a purge).

Every change is an audit event naming who made it. A change that takes rights away, or a new
password, ends the user's sessions at once. The last active admin can be neither demoted nor
disabled: someone must always be able to manage the desk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.access.passwords import generate_password, hash_password, verify_password
from archiver.access.roles import Role
from archiver.access.tokens import list_tokens
from archiver.access.users import (
    Access,
    LockoutPolicy,
    account_limits,
    check_accounts,
    count_wrong_password,
    end_sessions,
    link_accounts,
    shown_limit,
    user_json,
)
from archiver.errors import ArchiverError, NotFound
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import User

DEFAULT_LOCKOUT = LockoutPolicy()


def _user(s: Session, name: str) -> User:
    user = s.scalar(select(User).where(User.name == name).with_for_update())
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def _other_active_admins(s: Session, user: User) -> int:
    return s.scalar(select(func.count()).select_from(User).where(
        User.role == str(Role.ADMIN), User.active.is_(True), User.id != user.id)) or 0


def _keep_an_admin(s: Session, user: User) -> None:
    if user.role == str(Role.ADMIN) and user.active and not _other_active_admins(s, user):
        raise ArchiverError(f"{user.name} is the last active admin: make another user admin "
                            "first")


def user_detail(archive: Archive, name: str) -> dict[str, Any]:
    """One user as JSON (no password hash) with their API tokens (never the tokens
    themselves)."""
    with archive.sessions() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no user named {name!r}")
        data = user_json(user, account_limits(s, [user.id]).get(user.id, []))
    return {**data, "tokens": list_tokens(archive, name)}


def change_role(archive: Archive, name: str, role: Role, *, actor: str) -> None:
    """Give ``name`` another role; a lower one ends their sessions."""
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, name)
        before = Role(user.role)
        if before is role:
            return
        if before is Role.ADMIN:
            _keep_an_admin(s, user)
        user.role = str(role)
        if not role.at_least(before):
            end_sessions(user)
        record_event(s, action="user.role", occurred_at=now, actor=actor, target_type="user",
                     target_id=name, details={"from": str(before), "to": str(role)})


def change_limit(archive: Archive, name: str, account_ids: Sequence[int] | None, *,
                 actor: str) -> None:
    """Limit ``name`` to ``account_ids`` (None: every account). Their next request already
    sees the new limit (every request reads it afresh)."""
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, name)
        before = shown_limit(account_limits(s, [user.id]).get(user.id, []) if user.limited
                             else None)
        check_accounts(s, account_ids or ())
        user.limited = account_ids is not None
        link_accounts(s, user.id, account_ids or ())
        record_event(s, action="user.limit", occurred_at=now, actor=actor, target_type="user",
                     target_id=name, details={"from": before, "to": shown_limit(account_ids)})


def set_active(archive: Archive, name: str, active: bool, *, actor: str) -> None:
    """Disable ``name`` (they are signed out and cannot sign in, their API tokens stop
    working) or enable them again."""
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, name)
        if user.active == active:
            return
        if not active:
            _keep_an_admin(s, user)
            end_sessions(user)
        user.active = active
        record_event(s, action="user.enable" if active else "user.disable", occurred_at=now,
                     actor=actor, target_type="user", target_id=name)


def reset_password(archive: Archive, name: str, *, actor: str) -> str:
    """A new generated password for ``name`` (returned to be shown once; only its hash is
    kept). Their sessions end and a lock-out is lifted."""
    password = generate_password()
    hashed = hash_password(password)
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, name)
        user.password_hash = hashed
        end_sessions(user)
        user.locked_until = None
        user.failed_sign_ins = 0
        record_event(s, action="user.password_reset", occurred_at=now, actor=actor,
                     target_type="user", target_id=name)
    return password


def unlock_user(archive: Archive, name: str, *, actor: str) -> None:
    """End a lock-out after too many wrong passwords before it ends by itself."""
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, name)
        was = user.locked_until
        user.locked_until = None
        user.failed_sign_ins = 0
        record_event(s, action="user.unlock", occurred_at=now, actor=actor, target_type="user",
                     target_id=name,
                     details={"locked_until": was.isoformat() if was and was > now else None})


def change_password(archive: Archive, access: Access, current: str, new: str, *,
                    policy: LockoutPolicy = DEFAULT_LOCKOUT) -> None:
    """The user changes their own password, re-entering the current one. A wrong current
    password counts towards the lock-out like a wrong sign-in; a right one ends every session
    of the user, this one too: they sign in again with the new password."""
    if new == current:
        raise ArchiverError("the new password is the same as the current one")
    hashed = hash_password(new)  # checks the new one before anything is counted
    if not confirm_password(archive, access, current, purpose="password change",
                            policy=policy):
        raise ArchiverError("the current password is wrong")
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, access.name)
        user.password_hash = hashed
        end_sessions(user)
        record_event(s, action="user.password_change", occurred_at=now, actor=access.name,
                     target_type="user", target_id=access.name)


def confirm_password(archive: Archive, access: Access, password: str, *, purpose: str,
                     policy: LockoutPolicy = DEFAULT_LOCKOUT) -> bool:
    """Whether the signed-in user typed their own password again (argon2 verify), before
    ``purpose`` (``purge approval``). A wrong one is an audit event and counts towards the
    lock-out, so a session left open cannot be used to guess it."""
    now = archive.clock()
    with archive.transaction() as s:
        user = _user(s, access.name)
        if verify_password(user.password_hash, password):
            return True
        locked = count_wrong_password(user, now, policy)
        record_event(s, action="user.password_refused", occurred_at=now, actor=access.name,
                     target_type="user", target_id=access.name,
                     details={"purpose": purpose, "locked": locked})
        return False
