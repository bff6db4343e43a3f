"""Credentials out of everything the archive stores or shows: one scrubber for payloads, evidence
and error text.

Platforms echo credentials back. Graph writes ``access_token`` into every ``paging.next`` link,
nested edges included, and error messages may quote the request; a visitor may paste a signed
link. Two kinds of secret are replaced by ``***``:

* the account's own credentials (its token, and what a connector derives from it) in any
  spelling: literal, percent-encoded once or twice (``quote``/``quote_plus``, either hex case),
  JSON-escaped (``\\/``, ``\\uXXXX``) or as HTML character references, in any mixture, since
  each character is matched in each of its spellings;
* the value of any credential parameter (:data:`CREDENTIAL_PARAMS` anywhere,
  :data:`QUERY_ONLY_PARAMS` only inside a query string, where prose does not put them), with the
  parameter's name and ``=`` in the same spellings.

Every scrub says how many secrets it replaced, so capture can record that it happened. Most
strings hold no secret, and Python's ``re`` scans a string ~50 times slower than ``str.find``,
so cheap substring tests decide first whether a pattern needs to run at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REDACTED = "***"
# Shorter values cannot be told from ordinary words, and no platform issues credentials so short.
MIN_SECRET_LENGTH = 8

# Parameter names that carry a credential wherever they appear (OAuth 1/2, Meta, API keys).
CREDENTIAL_PARAMS = (
    "access_token", "refresh_token", "client_secret", "appsecret_proof", "oauth_token",
    "oauth_signature", "api_key", "apikey",
)
# Names common in prose ("key=value"), so only scrubbed after ``?``, ``&`` or ``;``: the Google
# API key (``key``) and the signatures of signed links (``sig``, ``signature``).
QUERY_ONLY_PARAMS = ("key", "sig", "signature")
SECRET_PARAMS = frozenset(CREDENTIAL_PARAMS + QUERY_ONLY_PARAMS)

# ``=`` in its spellings: plain, percent-encoded (once or twice), JSON-escaped, HTML reference.
_EQUALS = r"(?:=|(?i:%(?:25)?3d|\\+u003d|&#0*61;|&#x0*3d;))"
# A value runs to the next delimiter, quote or space in any spelling; a percent or JSON escape
# of anything else is part of it, and so is an escaped ``/``: base64 values are taken whole.
_VALUE = (
    r"(?:(?i:%(?!(?:25)?(?:26|23|22|27|3c|3e|20))(?:25)?[0-9a-f]{2})"
    r"|\\+/|(?i:\\+u(?!00(?:26|23|22|27|3c|3e|20))[0-9a-f]{4})"
    r"|[^\s&#;\"'<>\\%])+"
)
# What follows a credential parameter's name: ``=`` and the value.
_ASSIGNED = re.compile(rf"(?P<eq>{_EQUALS})(?P<value>{_VALUE})")
# What a query delimiter (``?``, ``&``, ``;``) looks like just before a parameter's name.
_DELIMITERS = ("?", "&", ";", "%26", "%3f", "%2526", "%253f", "u0026", "u003f")
# Substrings of every parameter name: a string holding none of them has no parameter to scrub.
_NAME_PARTS = ("token", "secret", "sig", "key", "proof")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """``text`` lower-cased character for character, so positions in it are positions in
    ``text`` (``str.lower`` turns some letters, e.g. "İ", into two characters)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


def _has_escape(text: str) -> bool:
    """Whether ``text`` holds what starts an escaped character (percent, JSON, HTML): without
    one, only literal spellings can be in it. (Plain ``in`` tests: a generator costs more.)"""
    return "%" in text or "\\" in text or "&#" in text


def _find_all(text: str, needle: str) -> list[int]:
    found: list[int] = []
    i = text.find(needle)
    while i >= 0:
        found.append(i)
        i = text.find(needle, i + 1)
    return found


def _delimited(low: str, start: int) -> bool:
    """Whether the parameter name at ``start`` follows a query delimiter."""
    return start > 0 and low[start - 1] in "?&;6f" and low.endswith(_DELIMITERS, 0, start)


def _is_param(low: str, start: int, name: str) -> bool:
    """Whether ``name`` at ``start`` is a parameter rather than the end of a longer word."""
    if name in QUERY_ONLY_PARAMS:
        return _delimited(low, start)
    before = low[start - 1] if start else " "
    return not (before.isalnum() or before == "_") or _delimited(low, start)


def scrub_params(text: str, escaped: bool | None = None) -> tuple[str, int]:
    """``text`` with every credential parameter's value replaced, and how many were
    (``escaped``: :func:`_has_escape` of ``text`` when the caller knows it)."""
    if "=" not in text and not (_has_escape(text) if escaped is None else escaped):
        return text, 0
    low = _lower(text)
    if not any(part in low for part in _NAME_PARTS):
        return text, 0
    # Names are found with str.find and checked before any pattern runs; (start, name) order
    # tries "sig" before "signature" at one place, and a failed "sig=" costs one short match.
    found = sorted((i, name) for name in SECRET_PARAMS for i in _find_all(low, name))
    out: list[str] = []
    done = count = 0
    for start, name in found:
        if start < done or not _is_param(low, start, name):
            continue
        match = _ASSIGNED.match(text, start + len(name))
        if match is None or match.group("value") == REDACTED:
            continue  # no value, or scrubbed before: nothing new to count
        out += [text[done:match.end("eq")], REDACTED]
        done = match.end()
        count += 1
    if not count:
        return text, 0
    out.append(text[done:])
    return "".join(out), count


def _char_pattern(char: str) -> str:
    """Every spelling of one character: itself, percent-encoded (once or twice, any hex case),
    JSON ``\\uXXXX`` (one or more backslashes: JSON inside JSON), ``\\/``, ``+`` for a space,
    an HTML character reference."""
    encoded = "".join(f"%(?:25)?{b:02x}" for b in char.encode("utf-8"))
    units = char.encode("utf-16-be")
    escaped = "".join(rf"\\+u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    code = ord(char)
    forms = [re.escape(char), f"(?i:{encoded}|{escaped}|&#0*{code};|&#x0*{code:x};)"]
    if char == "/":
        forms.append(r"\\+/")
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secret: str) -> str:
    """A regular expression for ``secret`` in every spelling (see the module docstring)."""
    return "".join(_char_pattern(c) for c in secret)


@dataclass(frozen=True)
class _Clues:
    """Substring tests that tell a string cannot hold a secret, so its pattern need not run.

    Encoders escape punctuation, not letters and digits: ``quote``, ``quote_plus``, JSON and
    HTML leave the secret's longest alphanumeric run as it is. A secret escaped character by
    character starts that run with an escaped character: the other clues.
    """

    run: str
    escaped_first: tuple[str, ...]

    @classmethod
    def of(cls, secret: str) -> _Clues:
        runs = re.findall(r"[A-Za-z0-9]+", secret)
        run = max(runs, key=len) if runs else secret
        code = ord(run[0])
        encoded = "".join(f"{b:02x}" for b in run[0].encode("utf-8"))
        return cls(run, (f"%{encoded}", f"%25{encoded}", f"u{code:04x}", f"&#{code};",
                         f"&#x{code:x};"))

    def may_hold(self, text: str, low: str | None) -> bool:
        """``low`` is ``text`` lower-cased when it holds an escape, else None."""
        if self.run in text:
            return True
        return low is not None and any(clue in low for clue in self.escaped_first)


class SecretScrubber:
    """Replaces the given secrets, and every credential parameter's value, with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH},
                       key=len, reverse=True)
        self._clues = tuple(_Clues.of(s) for s in known)
        self._secrets = (
            re.compile("|".join(secret_pattern(s) for s in known)) if known else None
        )

    def text(self, text: str) -> tuple[str, int]:
        """``text`` without secrets, and how many were replaced."""
        count = 0
        escaped = _has_escape(text)
        if self._secrets is not None:
            low = text.lower() if escaped else None
            for clue in self._clues:
                if clue.may_hold(text, low):
                    text, count = self._secrets.subn(REDACTED, text)
                    escaped = _has_escape(text)
                    break
        text, params = scrub_params(text, escaped)
        return text, count + params

    def __call__(self, text: str) -> str:
        """``text`` without secrets."""
        return self.text(text)[0]

    def json(self, value: Any) -> tuple[Any, int]:
        """A decoded JSON value (keys and strings at any depth) without secrets, and the count.

        Unchanged parts are returned as they are, so a clean payload costs no copies.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            total = 0
            out: dict[Any, Any] = {}
            for key, item in value.items():
                if isinstance(key, str):
                    key, n = self.text(key)
                    total += n
                item, n = self.json(item)
                total += n
                out[key] = item
            return (out, total) if total else (value, 0)
        if isinstance(value, list | tuple):
            pairs = [self.json(item) for item in value]
            total = sum(n for _, n in pairs)
            if not total:
                return value, 0
            items = [item for item, _ in pairs]
            return (items if isinstance(value, list) else tuple(items)), total
        return value, 0

    def data(self, data: bytes) -> tuple[bytes, int]:
        """UTF-8 bytes (e.g. a blob about to be stored) without secrets; other bytes pass as
        they are (``surrogateescape`` keeps them through the text scrub)."""
        text, count = self.text(data.decode("utf-8", "surrogateescape"))
        return (text.encode("utf-8", "surrogateescape"), count) if count else (data, 0)
