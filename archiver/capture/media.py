"""Media files (images, video) shown by archived items: downloaded once, linked, never dropped.

A version's ``media_json`` says which media it showed. After a capture, :func:`link_media` gives
every such URL a :class:`~archiver.store.models.MediaFile` row (one per URL) and links it to each
version that showed it; :func:`download_media` then fetches every file of the account that is not
stored yet into the content-addressed blob store (identical bytes under two URLs are one blob).
A failed download stays ``failed`` with its attempt count and last error, is tried again on the
next run, and is counted in the capture result: never silently dropped.

Media URLs come from the platform but point anywhere; only http(s) is fetched, no credentials are
sent, redirects are not followed blindly, and a size cap bounds what one file may cost.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from archiver.connectors.exchanges import ExchangeRecorder, exchange_of
from archiver.connectors.secrets import SecretScrubber
from archiver.store.archive import Archive
from archiver.store.blob_records import store_blobs
from archiver.store.db import insert_ignore
from archiver.store.models import Item, ItemVersion, MediaFile, VersionMedia
from archiver.store.vocabulary import MediaStatus

if TYPE_CHECKING:
    from archiver.capture.warc import WarcRecorder

log = logging.getLogger(__name__)

MAX_BYTES = 2 * 1024**3
TIMEOUT_S = 60.0
MAX_REDIRECTS = 5
NOT_STORED = (MediaStatus.PENDING, MediaStatus.FAILED)  # what a pass fetches


@dataclass
class MediaReport:
    """What one pass did: files stored now, files that failed now, files still not stored."""

    linked: int = 0
    stored: int = 0
    failed: int = 0
    outstanding: int = 0
    errors: tuple[str, ...] = ()


def url_key(url: str) -> str:
    """The hash a media URL is known by (URLs may be longer than an index allows)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def link_media(archive: Archive, account_id: int) -> int:
    """Give every media URL of the account's versions a MediaFile row and link it; return links.

    Looks at every version that shows media and has no link yet, so versions written by a run
    that died before this step are linked by the next one.
    """
    now = archive.clock()
    made = 0
    with archive.transaction() as s:
        unlinked = s.execute(
            select(ItemVersion.id, ItemVersion.media_json)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(Item.account_id == account_id, ItemVersion.media_json != "[]",
                   ~exists().where(VersionMedia.version_id == ItemVersion.id))
            .order_by(ItemVersion.id)
        ).all()
        for version_id, media_text in unlinked:
            made += _link_version(s, version_id, _media_list(media_text), now)
    return made


def _media_list(media_text: str) -> list[tuple[str, str | None]]:
    try:
        entries = json.loads(media_text)
    except ValueError:
        return []
    found: list[tuple[str, str | None]] = []
    for entry in entries if isinstance(entries, list) else []:
        url = entry.get("url") if isinstance(entry, dict) else None
        if isinstance(url, str) and url:
            kind = entry.get("media_type")
            found.append((url, kind if isinstance(kind, str) else None))
    return found


def _link_version(
    s: Session, version_id: int, media: Sequence[tuple[str, str | None]], now: datetime
) -> int:
    if not media:
        return 0
    keys = {url_key(url): (url, kind) for url, kind in media}
    insert_ignore(s, MediaFile, [
        {"url_sha256": key, "url": url, "declared_type": (kind or "")[:64] or None,
         "status": MediaStatus.PENDING, "attempts": 0, "first_seen_at": now}
        for key, (url, kind) in keys.items()
    ])
    ids = s.scalars(select(MediaFile.id).where(MediaFile.url_sha256.in_(list(keys)))).all()
    insert_ignore(s, VersionMedia, [{"version_id": version_id, "media_file_id": i} for i in ids])
    return len(ids)


def _account_media_ids(archive: Archive, account_id: int,
                       statuses: Sequence[MediaStatus]) -> list[int]:
    with archive.sessions() as s:
        return list(s.scalars(
            select(MediaFile.id).distinct()
            .join(VersionMedia, VersionMedia.media_file_id == MediaFile.id)
            .join(ItemVersion, ItemVersion.id == VersionMedia.version_id)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(Item.account_id == account_id, MediaFile.status.in_(list(statuses)))
            .order_by(MediaFile.id)
        ))


class _DownloadFailed(Exception):
    pass


# No credential is sent for media; signed links' parameters (``sig``...) still leave the record.
_LINK_SCRUBBER = SecretScrubber()


def fetch_bytes(client: httpx.Client, url: str, *, max_bytes: int = MAX_BYTES,
                timeout: float = TIMEOUT_S,
                recorder: ExchangeRecorder | None = None) -> tuple[bytes, str | None]:
    """GET ``url`` (http/https only, same-scheme redirects, size-capped) → (body, media type).
    ``recorder`` is told of every answer (redirects included), the file's bytes as received."""
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise _DownloadFailed("not an http(s) URL")
        try:
            with client.stream("GET", url, timeout=timeout, follow_redirects=False) as resp:
                if resp.is_redirect and resp.headers.get("Location"):
                    _tell(recorder, resp, b"")
                    url = str(resp.url.join(resp.headers["Location"]))
                    continue
                if resp.status_code != 200:
                    _tell(recorder, resp, b"")
                    raise _DownloadFailed(f"HTTP {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _DownloadFailed(f"larger than {max_bytes} bytes")
                    chunks.append(chunk)
                kind = resp.headers.get("Content-Type", "").split(";")[0].strip() or None
                data = b"".join(chunks)
                _tell(recorder, resp, data)
                return data, kind
        except httpx.TimeoutException:
            raise _DownloadFailed("timed out") from None
        except httpx.HTTPError as exc:
            raise _DownloadFailed(f"download failed ({type(exc).__name__})") from None
    raise _DownloadFailed("too many redirects")


def _tell(recorder: ExchangeRecorder | None, response: httpx.Response, body: bytes) -> None:
    if recorder is not None:
        recorder(exchange_of(response, _LINK_SCRUBBER, scrub_body=False, body=body))


# Downloads are stored in groups: one transaction and one store sync per group instead of one
# per file, with the group's bytes bounded so a run of large videos does not pile up in memory.
GROUP_FILES = 100
GROUP_BYTES = 32 * 1024**2


@dataclass(frozen=True)
class _Fetched:
    media_id: int
    data: bytes
    media_type: str | None


def download_media(
    archive: Archive,
    account_id: int,
    *,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT_S,
    planned: Callable[[int], None] | None = None,
    fetched: Callable[[int], None] | None = None,
    recorder: WarcRecorder | None = None,
) -> MediaReport:
    """Link the account's new media, then fetch every file of it not stored yet.

    ``planned`` is told how many files there are to fetch (when there are any), ``fetched`` of
    each one done, stored or failed; ``recorder`` (the run's WARC file) of every exchange.
    """
    report = MediaReport(linked=link_media(archive, account_id))
    own = client is None
    http = client if client is not None else httpx.Client()
    errors: list[str] = []
    group: list[_Fetched] = []
    group_bytes = 0
    failures: list[tuple[int, str]] = []
    try:
        wanted = _account_media_ids(archive, account_id, NOT_STORED)
        if wanted and planned:
            planned(len(wanted))
        for media_id in wanted:
            with archive.sessions() as s:
                media = s.get(MediaFile, media_id)
                assert media is not None
                url = media.url
                declared = media.declared_type
            try:
                data, kind = fetch_bytes(http, url, max_bytes=max_bytes, timeout=timeout,
                                         recorder=recorder)
            except _DownloadFailed as exc:
                failures.append((media_id, str(exc)))
                report.failed += 1
                errors.append(f"media {media_id}: {exc}")
            else:
                group.append(_Fetched(media_id, data, kind or _guess_type(declared)))
                group_bytes += len(data)
                report.stored += 1
            if len(group) + len(failures) >= GROUP_FILES or group_bytes >= GROUP_BYTES:
                _record(archive, group, failures, recorder)
                group_bytes = 0
            if fetched:
                fetched(1)
        _record(archive, group, failures, recorder)
    finally:
        if own:
            http.close()
    report.outstanding = len(_account_media_ids(archive, account_id, NOT_STORED))
    report.errors = tuple(errors)
    if report.failed:
        log.warning("account %s: %d media download(s) failed; they are retried next run",
                    account_id, report.failed)
    return report


def _guess_type(declared: str | None) -> str | None:
    # Graph says "photo"/"video"; a blob's media type must be a MIME type or nothing.
    return declared if declared and "/" in declared else None


def _record(archive: Archive, group: list[_Fetched], failures: list[tuple[int, str]],
            recorder: WarcRecorder | None) -> None:
    """Store a group of downloads (durable before the commit) and record every outcome; the
    lists are emptied."""
    if not group and not failures:
        return
    now = archive.clock()
    with archive.transaction() as s:
        if recorder is not None:
            recorder.flush(s)
        by_type: dict[str | None, list[_Fetched]] = {}
        for fetched in group:
            by_type.setdefault(fetched.media_type, []).append(fetched)
        for kind, files in by_type.items():
            hashes = store_blobs(s, archive.store, [f.data for f in files], kind, now)
            for fetched, sha in zip(files, hashes, strict=True):
                media = s.get(MediaFile, fetched.media_id)
                assert media is not None
                media.status = MediaStatus.STORED
                media.sha256 = sha
                media.size = len(fetched.data)
                media.media_type = kind
                media.attempts += 1
                media.last_error = None
                media.last_attempt_at = now
                media.stored_at = now
        for media_id, error in failures:
            media = s.get(MediaFile, media_id)
            assert media is not None
            media.status = MediaStatus.FAILED
            media.attempts += 1
            media.last_error = error
            media.last_attempt_at = now
    group.clear()
    failures.clear()


def version_media(archive: Archive, version_id: int) -> list[MediaFile]:
    """The media files a version showed (stored or not)."""
    with archive.sessions() as s:
        return list(s.scalars(
            select(MediaFile)
            .join(VersionMedia, VersionMedia.media_file_id == MediaFile.id)
            .where(VersionMedia.version_id == version_id)
            .order_by(MediaFile.id)
        ))
