"""Settings: environment variables first, then an optional TOML file, then the defaults.

Every setting has one name, used both as the environment variable and (lower-cased, without the
``ARCHIVER_`` prefix) as the TOML key, so an error can always name the setting to fix.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archiver.errors import ConfigError
from archiver.search_index import DEFAULT_ENGINE, ENGINES

DEFAULT_TIMEZONE = "America/Chicago"
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")

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
}


@dataclass(frozen=True)
class Settings:
    """Where the archive lives and how it is reached. Built by :func:`load_settings`."""

    home: Path
    db_url: str
    store_url: str
    index_dir: Path
    timezone: str = DEFAULT_TIMEZONE
    s3_endpoint_url: str | None = None
    s3_object_lock_mode: str | None = None
    s3_object_lock_days: int | None = None
    index_engine: str = DEFAULT_ENGINE  # whoosh | fts5 (archiver.search_index.ENGINES)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_toml(path_text: str) -> dict[str, object]:
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"ARCHIVER_CONFIG: file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"ARCHIVER_CONFIG: {path} is not valid TOML: {exc}") from None
    # Accept both a flat file and one with an [archiver] table.
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
    return table


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    file_values: dict[str, object] = {}
    if env.get("ARCHIVER_CONFIG"):
        file_values = _read_toml(env["ARCHIVER_CONFIG"])

    def get(name: str) -> str | None:
        if env.get(name):
            return env[name]
        value = file_values.get(SETTINGS[name])
        return None if value is None else str(value)

    home = Path(get("ARCHIVER_HOME") or "./archive-data").expanduser().resolve()
    db_url = get("ARCHIVER_DB_URL") or f"sqlite:///{home / 'archive.sqlite3'}"
    store_url = get("ARCHIVER_STORE_URL") or (home / "blobs").as_uri()
    index_dir = Path(get("ARCHIVER_INDEX_DIR") or home / "index").expanduser().resolve()
    timezone = get("ARCHIVER_TIMEZONE") or DEFAULT_TIMEZONE

    _check_db_url(db_url)
    _check_store_url(store_url)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ARCHIVER_TIMEZONE: unknown time zone {timezone!r}") from None

    index_engine = (get("ARCHIVER_INDEX_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if index_engine not in ENGINES:
        raise ConfigError(
            f"ARCHIVER_INDEX_ENGINE: {index_engine!r} is not one of {', '.join(ENGINES)}"
        )

    lock_mode = get("ARCHIVER_S3_OBJECT_LOCK_MODE")
    if lock_mode is not None:
        lock_mode = lock_mode.upper()
        if lock_mode not in LOCK_MODES:
            raise ConfigError(
                f"ARCHIVER_S3_OBJECT_LOCK_MODE: {lock_mode!r} is not one of {', '.join(LOCK_MODES)}"
            )
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
    )


def _check_db_url(url: str) -> None:
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            f"ARCHIVER_DB_URL: unsupported database {scheme or url!r} (use sqlite:/// or postgresql://)"
        )


def _check_store_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("file", "s3"):
        raise ConfigError(
            f"ARCHIVER_STORE_URL: unsupported scheme {parts.scheme!r} (use file:// or s3://)"
        )
    if parts.scheme == "s3" and not parts.netloc:
        raise ConfigError("ARCHIVER_STORE_URL: s3:// URL needs a bucket, e.g. s3://bucket/prefix")
