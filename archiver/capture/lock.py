"""Never two captures of one account at once, across processes and machines.

The lock is a row in the archive's own database (``capture_locks``), so every process that can
write the archive sees it, on SQLite and PostgreSQL alike. Taking it is one conditional UPDATE
("set me as owner where the lock is free or expired"); the database serialises concurrent
UPDATEs of one row, so exactly one contender sees a changed row. A holder refreshes its expiry
from a heartbeat thread while it works; a holder that crashed stops refreshing, and its lock can
be taken over once it expired (the next capture then marks the dead run ``interrupted``). A
holder on *this* machine whose process no longer exists (killed, crashed) is known dead at once,
so a capture killed a minute ago does not block the next one for the whole TTL.

Advisory locks were the alternative; a row works the same on both databases, survives a
connection pool, and can be inspected (``owner``, ``heartbeat_at``) when someone asks "who is
capturing?".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from archiver.errors import ArchiverError
from archiver.store.archive import Archive
from archiver.store.db import insert_ignore, rows_changed
from archiver.store.models import CaptureLock

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(minutes=10)
# Long before a lock could expire, the holder tells the database it is still alive.
HEARTBEAT_FRACTION = 3
FREE_SINCE = datetime(1970, 1, 1, tzinfo=UTC)


class CaptureLocked(ArchiverError):
    """Another process holds the account's capture lock; nothing was captured."""


def new_owner(purpose: str = "capture") -> str:
    """A name for one acquisition: what, on which machine, which process, and a nonce."""
    return f"{purpose}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` names a process on this machine that no longer exists."""
    try:
        where = owner.split("@", 1)[1]
        host, pid_text, _nonce = where.rsplit(":", 2)
        pid = int(pid_text)
    except (IndexError, ValueError):
        return False
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


@dataclass
class HeldLock:
    """A lock this process holds. ``lost`` turns True if a refresh found someone else owning it."""

    archive: Archive
    account_id: int
    owner: str
    ttl: timedelta
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def refresh(self) -> bool:
        """Push the expiry forward; False (and ``lost``) when the lock is no longer ours."""
        now = self.archive.clock()
        with self.archive.transaction() as s:
            changed = rows_changed(
                s,
                update(CaptureLock)
                .where(CaptureLock.account_id == self.account_id, CaptureLock.owner == self.owner)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            )
        if not changed:
            self.lost = True
            log.error("capture lock of account %s was taken from %s", self.account_id, self.owner)
        return bool(changed)

    def release(self) -> None:
        """Free the lock (only if still ours) and stop the heartbeat."""
        self.stop_heartbeat()
        now = self.archive.clock()
        with self.archive.transaction() as s:
            s.execute(
                update(CaptureLock)
                .where(CaptureLock.account_id == self.account_id, CaptureLock.owner == self.owner)
                .values(owner="", heartbeat_at=now, expires_at=FREE_SINCE)
            )

    def start_heartbeat(self, interval: float | None = None) -> None:
        """Refresh from a daemon thread every ``interval`` seconds (default: a third of the TTL)."""
        every = interval if interval is not None else self.ttl.total_seconds() / HEARTBEAT_FRACTION

        def beat() -> None:
            while not self._stop.wait(every):
                try:
                    if not self.refresh():
                        return
                except Exception:  # a database hiccup must not kill the capture; retry next beat
                    log.warning("capture lock heartbeat for account %s failed", self.account_id,
                                exc_info=True)

        self._thread = threading.Thread(target=beat, name=f"capture-lock-{self.account_id}",
                                        daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def try_acquire(
    archive: Archive, account_id: int, *, owner: str | None = None, ttl: timedelta = DEFAULT_TTL
) -> HeldLock | None:
    """Take the account's lock if it is free or expired; None when someone else holds it."""
    owner = owner or new_owner()
    now = archive.clock()
    with archive.transaction() as s:
        insert_ignore(s, CaptureLock, [{
            "account_id": account_id, "owner": "", "acquired_at": now,
            "heartbeat_at": now, "expires_at": FREE_SINCE,
        }])
    with archive.transaction() as s:
        previous = s.get(CaptureLock, account_id)
        stale_owner = previous.owner if previous is not None else ""
        free = (CaptureLock.owner == "") | (CaptureLock.expires_at < now)
        if stale_owner and owner_is_dead_here(stale_owner):
            free = free | (CaptureLock.owner == stale_owner)
        changed = rows_changed(
            s,
            update(CaptureLock)
            .where(CaptureLock.account_id == account_id, free)
            .values(owner=owner, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
        )
    if not changed:
        return None
    if stale_owner and stale_owner != owner:
        log.warning("account %s: took over the expired capture lock of %s", account_id,
                    stale_owner)
    return HeldLock(archive=archive, account_id=account_id, owner=owner, ttl=ttl)


def lock_holder(archive: Archive, account_id: int) -> CaptureLock | None:
    """The current lock row when someone holds it (expired or not), else None."""
    with archive.sessions() as s:
        row = s.get(CaptureLock, account_id)
        return row if row is not None and row.owner else None


def acquire(
    archive: Archive,
    account_id: int,
    *,
    owner: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    wait: float = 0.0,
    poll: float = 1.0,
    sleep: Callable[[float], None] | None = None,
) -> HeldLock:
    """Take the lock, waiting up to ``wait`` seconds; else raise :class:`CaptureLocked`."""
    import time

    pause = sleep or time.sleep
    waited = 0.0
    while True:
        held = try_acquire(archive, account_id, owner=owner, ttl=ttl)
        if held is not None:
            return held
        if waited >= wait:
            break
        step = min(poll, wait - waited)
        pause(step)
        waited += step
    holder = lock_holder(archive, account_id)
    who = f"{holder.owner} (until {holder.expires_at.isoformat()})" if holder else "another process"
    raise CaptureLocked(f"account {account_id} is being captured by {who}; try again later")


@contextmanager
def capture_lock(
    archive: Archive,
    account_id: int,
    *,
    owner: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    wait: float = 0.0,
    heartbeat: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[HeldLock]:
    """Hold the account's capture lock for the ``with`` block (heartbeat on), then free it."""
    held = acquire(archive, account_id, owner=owner, ttl=ttl, wait=wait, sleep=sleep)
    if heartbeat:
        held.start_heartbeat()
    try:
        yield held
    finally:
        held.release()
