"""Passwords: argon2id hashes (RFC 9106), generated passwords, the rules a new one must meet."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archiver.errors import ArchiverError

# argon2-cffi's defaults are RFC 9106's second recommended option (64 MiB, 3 passes).
_HASHER = PasswordHasher()
# Compared against when the user name is unknown, so a wrong name takes as long as a wrong
# password and the answer's timing does not tell which names exist.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    """The argon2id hash to store; the password must meet :func:`check_new_password`."""
    check_new_password(password)
    return _HASHER.hash(password)


def check_new_password(password: str) -> None:
    """A one-line error unless ``password`` is long enough (NIST SP 800-63B 5.1.1.2: length,
    not composition rules) and not absurdly long."""
    if len(password) < MIN_LENGTH:
        raise ArchiverError(f"the password is too short: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ArchiverError(f"the password is too long: at most {MAX_LENGTH} characters")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (None: no such user; still takes the time)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)


def generate_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)
