"""How the desk runs: its session key, cookie and session lifetimes, sign-in limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from archiver.access.users import LockoutPolicy
from archiver.errors import ConfigError


@dataclass(frozen=True)
class WebOptions:
    """``secret_key`` signs the session cookie and the CSRF tokens; ``secure_cookies`` marks the
    cookies ``Secure`` (set it whenever the desk is reached over TLS, as behind the reverse
    proxy in deploy/)."""

    secret_key: bytes
    secure_cookies: bool = False
    # OWASP's session guidance: an idle timeout of minutes for sensitive applications, and an
    # absolute one of a working day (https://cheatsheetseries.owasp.org/cheatsheets/
    # Session_Management_Cheat_Sheet.html#session-expiration).
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Sign-in attempts one client address may make per window, whatever names it tries.
    attempts_per_address: int = 20
    attempt_window: timedelta = timedelta(minutes=5)
    page_size: int = 20


def load_secret_key(path: Path) -> bytes:
    """The key in ``path``, made (32 random bytes, mode 0600) the first time: sessions then
    survive a restart of the web process."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_secret_key(path)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key
    except OSError as exc:
        raise ConfigError(f"web secret key {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) < 32:
        raise ConfigError(f"web secret key {path}: shorter than 32 bytes; delete it to make one")
    return data
