"""Settings: environment variables first, then an optional TOML file, then the defaults.

Every setting has one name, used both as the environment variable and (lower-cased, without the
``ARCHIVER_`` prefix) as the TOML key, so an error can always name the setting to fix. A value in
the file must have its setting's type (text; a whole number for ``s3_object_lock_days``) and an
error about it names the file and line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archiver.errors import ConfigError


class IndexEngine(StrEnum):
    """The search index engines (archiver.search); declared here so settings need not import
    search."""

    WHOOSH = "whoosh"
    FTS5 = "fts5"


class StoreScheme(StrEnum):
    """The blob stores (archiver.blobs), by the scheme of ``ARCHIVER_STORE_URL``."""

    FILE = "file"
    S3 = "s3"


class ObjectLockMode(StrEnum):
    """S3 Object Lock retention modes
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html)."""

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


DEFAULT_ENGINE = IndexEngine.WHOOSH
DEFAULT_TIMEZONE = "America/Chicago"
# Named as the author of every PDF until the agency sets its own name.
DEFAULT_AGENCY_NAME = "Records custodian"

_Word = TypeVar("_Word", bound=StrEnum)

# name -> TOML key; the environment always wins over the file.
SETTINGS = {
    "ARCHIVER_HOME": "home",
    "ARCHIVER_DB_URL": "db_url",
    "ARCHIVER_STORE_URL": "store_url",
    "ARCHIVER_S3_ENDPOINT_URL": "s3_endpoint_url",
    "ARCHIVER_S3_OBJECT_LOCK_MODE": "s3_object_lock_mode",
    "ARCHIVER_S3_OBJECT_LOCK_DAYS": "s3_object_lock_days",
    "ARCHIVER_INDEX_DIR": "index_dir",
    "ARCHIVER_TIMEZONE": "timezone",
    "ARCHIVER_INDEX_ENGINE": "index_engine",
    "ARCHIVER_AGENCY_NAME": "agency_name",
    "ARCHIVER_TSA_URL": "tsa_url",
    "ARCHIVER_TSA_CA_FILE": "tsa_ca_file",
    "ARCHIVER_SIGNING_KEY": "signing_key",
    "ARCHIVER_SIGNING_CERT": "signing_cert",
}
# Settings that are whole numbers (in the file either a TOML integer or its digits as text).
NUMBER_SETTINGS = frozenset({"s3_object_lock_days"})
PATH_SETTINGS = frozenset({"home", "index_dir", "tsa_ca_file", "signing_key", "signing_cert"})
TOML_TYPES = {bool: "a boolean", int: "an integer", float: "a float", list: "an array",
              dict: "a table"}


@dataclass(frozen=True)
class Settings:
    """Where the archive lives and how it is reached. Built by :func:`load_settings`."""

    home: Path
    db_url: str
    store_url: str
    index_dir: Path
    timezone: str = DEFAULT_TIMEZONE
    s3_endpoint_url: str | None = None
    s3_object_lock_mode: ObjectLockMode | None = None
    s3_object_lock_days: int | None = None
    index_engine: IndexEngine = DEFAULT_ENGINE
    agency_name: str = DEFAULT_AGENCY_NAME  # the author of every PDF the archive writes
    # The RFC 3161 time-stamping authority every checkpoint is sent to (None: not timestamped),
    # and the PEM roots its signer must chain to (None: the token's signature alone is checked).
    tsa_url: str | None = None
    tsa_ca_file: Path | None = None
    # The agency's PEM key and certificate that sign its PDF certificates (archiver.pdf.signing).
    signing_key: Path | None = None
    signing_cert: Path | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_toml(path_text: str) -> dict[str, str | int]:
    path = path_setting("ARCHIVER_CONFIG", path_text, resolve=False)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"ARCHIVER_CONFIG: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"ARCHIVER_CONFIG: {path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"ARCHIVER_CONFIG: {path}:{line}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib (Python 3.11) puts the position at the end of its message only.
        found = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", str(exc))
        where, reason = (f"{path}:{found[2]}", f"{found[1]} (column {found[3]})") if found \
            else (str(path), str(exc))
        raise ConfigError(f"ARCHIVER_CONFIG: {where}: not valid TOML: {reason}") from None
    except RecursionError:
        # tomllib recurses once per nesting level; a pure parser, so nothing is left half done.
        raise ConfigError(f"ARCHIVER_CONFIG: {path}:{_deepest_line(text)}: not valid TOML: "
                          "values nested too deeply") from None
    # Accept both a flat file and one with an [archiver] table.
    table_name = "archiver" if "archiver" in data else None
    table = data.get("archiver", data)
    if not isinstance(table, dict):
        raise ConfigError(f"ARCHIVER_CONFIG: {path}: [archiver] must be a table")
    known = set(SETTINGS.values())
    unknown = sorted(k for k in table if k not in known)
    if unknown:
        raise ConfigError(
            f"ARCHIVER_CONFIG: {path}: unknown setting(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    for key, value in table.items():
        problem = _type_problem(key, value)
        if problem:
            line = _key_line(text, key, table_name)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"ARCHIVER_CONFIG: {where}: {key} {problem}")
    return table


def _type_problem(key: str, value: object) -> str | None:
    """What is wrong with ``value`` as setting ``key`` (None: nothing)."""
    if isinstance(value, str):
        return "contains a NUL character" if "\0" in value else None
    if key in NUMBER_SETTINGS:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"must be a whole number, not {_toml_type(value)}"
    kind = " (a path)" if key in PATH_SETTINGS else ""
    return f"must be a string{kind}, not {_toml_type(value)}"


def _toml_type(value: object) -> str:
    return next((name for t, name in TOML_TYPES.items() if isinstance(value, t)),
                "a date or time")


_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


def _key_line(text: str, key: str, table: str | None) -> int:
    """The line setting ``key`` in ``table`` (None: the top level); 0 if not found."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE_HEADER.match(line)
        if header:
            current = header[1].strip("\"'")
        elif (found := _KEY.match(line)) and found[1] == key and current == table:
            return number
    return 0


def _deepest_line(text: str, limit: int = 100) -> int:
    """The first line where brackets open more than ``limit`` deep (strings not considered: this
    only points at the likely line after the parser gave up)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        for char in line:
            depth += 1 if char in "[{" else -1 if char in "]}" else 0
            if depth > limit:
                return number
    return 1


def _checked(name: str, value: str) -> str:
    if "\0" in value:
        # The operating system cannot take it in a path, and nothing else needs it.
        raise ConfigError(f"{name}: contains a NUL character")
    return value


def path_setting(name: str, text: str, *, resolve: bool = True) -> Path:
    """The path a setting names (``~`` expanded); a NUL or an unknown ``~user`` is a
    :class:`ConfigError` naming the setting."""
    try:
        path = Path(_checked(name, text)).expanduser()
        return path.resolve() if resolve else path
    except (RuntimeError, OSError) as exc:  # "~nobody/x": no such user, no home folder
        raise ConfigError(f"{name}: cannot use {text!r} as a path: {exc}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    file_values: dict[str, str | int] = {}
    if env.get("ARCHIVER_CONFIG"):
        file_values = _read_toml(env["ARCHIVER_CONFIG"])

    def get(name: str) -> str | None:
        if env.get(name):
            return _checked(name, env[name])
        value = file_values.get(SETTINGS[name])  # type-checked by _read_toml
        return None if value is None else str(value)

    home = path_setting("ARCHIVER_HOME", get("ARCHIVER_HOME") or "./archive-data")
    db_url = get("ARCHIVER_DB_URL") or f"sqlite:///{home / 'archive.sqlite3'}"
    store_url = get("ARCHIVER_STORE_URL") or (home / "blobs").as_uri()
    index_dir = path_setting("ARCHIVER_INDEX_DIR", get("ARCHIVER_INDEX_DIR") or str(home / "index"))
    timezone = get("ARCHIVER_TIMEZONE") or DEFAULT_TIMEZONE

    _check_db_url(db_url)
    _check_store_url(store_url)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ARCHIVER_TIMEZONE: unknown time zone {timezone!r}") from None

    index_engine = one_of(IndexEngine, "ARCHIVER_INDEX_ENGINE",
                          (get("ARCHIVER_INDEX_ENGINE") or DEFAULT_ENGINE).strip().lower())

    lock_mode_text = get("ARCHIVER_S3_OBJECT_LOCK_MODE")
    lock_mode = None if lock_mode_text is None else one_of(
        ObjectLockMode, "ARCHIVER_S3_OBJECT_LOCK_MODE", lock_mode_text.upper())
    lock_days_text = get("ARCHIVER_S3_OBJECT_LOCK_DAYS")
    lock_days = None
    if lock_days_text is not None:
        try:
            lock_days = int(lock_days_text)
        except ValueError:
            lock_days = 0
        if lock_days <= 0:
            raise ConfigError(
                f"ARCHIVER_S3_OBJECT_LOCK_DAYS: {lock_days_text!r} is not a positive whole number"
            )
    if (lock_mode is None) != (lock_days is None):
        raise ConfigError(
            "ARCHIVER_S3_OBJECT_LOCK_MODE and ARCHIVER_S3_OBJECT_LOCK_DAYS go together: set both"
        )
    if lock_mode and not store_url.startswith("s3://"):
        raise ConfigError("ARCHIVER_S3_OBJECT_LOCK_MODE: Object Lock needs an s3:// store URL")
    tsa_url = (get("ARCHIVER_TSA_URL") or "").strip() or None
    if tsa_url is not None:
        _check_tsa_url(tsa_url)
    tsa_ca_text = get("ARCHIVER_TSA_CA_FILE")
    tsa_ca_file = None if not tsa_ca_text else path_setting("ARCHIVER_TSA_CA_FILE", tsa_ca_text)
    key_text, cert_text = get("ARCHIVER_SIGNING_KEY"), get("ARCHIVER_SIGNING_CERT")
    if bool(key_text) != bool(cert_text):
        raise ConfigError("ARCHIVER_SIGNING_KEY and ARCHIVER_SIGNING_CERT go together: set both")
    signing_key = None if not key_text else path_setting("ARCHIVER_SIGNING_KEY", key_text)
    signing_cert = None if not cert_text else path_setting("ARCHIVER_SIGNING_CERT", cert_text)

    return Settings(
        home=home,
        db_url=db_url,
        store_url=store_url,
        index_dir=index_dir,
        timezone=timezone,
        s3_endpoint_url=get("ARCHIVER_S3_ENDPOINT_URL"),
        s3_object_lock_mode=lock_mode,
        s3_object_lock_days=lock_days,
        index_engine=index_engine,
        agency_name=(get("ARCHIVER_AGENCY_NAME") or "").strip() or DEFAULT_AGENCY_NAME,
        tsa_url=tsa_url,
        tsa_ca_file=tsa_ca_file,
        signing_key=signing_key,
        signing_cert=signing_cert,
    )


def one_of(vocabulary: type[_Word], setting: str, value: str) -> _Word:
    """``value`` as a member of ``vocabulary``, or a ConfigError naming ``setting``."""
    try:
        return vocabulary(value)
    except ValueError:
        raise ConfigError(
            f"{setting}: {value!r} is not one of {', '.join(vocabulary)}") from None


def _check_db_url(url: str) -> None:
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            f"ARCHIVER_DB_URL: unsupported database {scheme or url!r} (use sqlite:/// or postgresql://)"
        )


def _check_store_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in set(StoreScheme):
        raise ConfigError(
            f"ARCHIVER_STORE_URL: unsupported scheme {parts.scheme!r} (use file:// or s3://)"
        )
    if parts.scheme == StoreScheme.S3 and not parts.netloc:
        raise ConfigError("ARCHIVER_STORE_URL: s3:// URL needs a bucket, e.g. s3://bucket/prefix")


def _check_tsa_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"ARCHIVER_TSA_URL: {url!r} is not an http:// or https:// URL")
