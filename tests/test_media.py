"""Media downloads through the real capture path: the loopback Graph server lists posts whose
attachments point at a loopback media server; files land in the blob store once, linked to the
versions that showed them; a failing file is retried on the next run and reported."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.capture.media import version_media
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.requests import add_request
from archiver.exports.selection import Scope
from archiver.standins.dataset import Attachment, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, Item, ItemVersion, MediaFile
from tests.support.graph import SleepRecorder
from tests.support.pdftext import pdf_text

TOKEN_ENV = "ARCHIVER_TOKEN_MEDIA_TEST"
JPEG = b"\xff\xd8\xff\xe0" + b"parade" * 1000
PNG = b"\x89PNG\r\n\x1a\n" + b"flyer" * 500


@dataclass
class MediaFiles:
    """What the media server serves, how often it was asked, and which paths fail (500)."""

    files: dict[str, tuple[bytes, str]]
    failing: set[str] = field(default_factory=set)
    hits: Counter[str] = field(default_factory=Counter)


@pytest.fixture
def media() -> Iterator[tuple[MediaFiles, str]]:
    state = MediaFiles({"/parade.jpg": (JPEG, "image/jpeg"), "/flyer.png": (PNG, "image/png"),
                        "/same-as-parade.jpg": (JPEG, "image/jpeg")})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            state.hits[self.path] += 1
            if self.path in state.failing or self.path not in state.files:
                self.send_response(500 if self.path in state.failing else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, kind = state.files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(media: tuple[MediaFiles, str]) -> Iterator[GraphServer]:
    """The sample page, its first three posts showing loopback media, the others none."""
    _, base = media
    sample = load_sample()
    paths = ["/parade.jpg", "/flyer.png", "/same-as-parade.jpg"]
    posts = tuple(
        replace(p, attachments=(Attachment("photo", f"{base}/page{i}", f"{base}{paths[i]}"),))
        if i < len(paths) else replace(p, attachments=())
        for i, p in enumerate(sample.posts)
    )
    comments = tuple(replace(c, attachment=None) for c in sample.comments)
    with GraphServer(replace(sample, posts=posts, comments=comments), page_size=5) as srv:
        yield srv


@pytest.fixture
def account(archive: Archive, server: GraphServer) -> Account:
    return add_account(archive, AccountSpec(
        platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def capture(archive: Archive, account: Account, server: GraphServer) -> Any:
    result = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder())
    assert result.status == "succeeded", result.error
    return result


def media_rows(archive: Archive) -> dict[str, MediaFile]:
    with archive.sessions() as s:
        return {m.url.rsplit("/", 1)[1]: m for m in s.scalars(select(MediaFile))}


def test_downloaded_once_by_hash_and_linked(
    archive: Archive, account: Account, server: GraphServer, media: tuple[MediaFiles, str]
) -> None:
    state, _ = media
    result = capture(archive, account, server)
    assert (result.media_stored, result.media_failed) == (3, 0)
    rows = media_rows(archive)
    assert {k: r.status for k, r in rows.items()} == {
        "parade.jpg": "stored", "flyer.png": "stored", "same-as-parade.jpg": "stored"}
    parade = rows["parade.jpg"]
    assert (parade.size, parade.media_type) == (len(JPEG), "image/jpeg")
    assert archive.store.get(parade.sha256 or "") == JPEG
    # Two URLs with the same bytes are one blob.
    assert rows["same-as-parade.jpg"].sha256 == parade.sha256
    assert rows["flyer.png"].sha256 != parade.sha256
    with archive.sessions() as s:
        first_post = s.scalar(select(Item).where(
            Item.external_id == server.dataset.posts[0].id))
        assert first_post is not None
        version = s.scalar(select(ItemVersion).where(ItemVersion.item_id == first_post.id))
        assert version is not None
    assert [m.url.rsplit("/", 1)[1] for m in version_media(archive, version.id)] == [
        "parade.jpg"]

    # A second run downloads nothing again.
    again = capture(archive, account, server)
    assert (again.media_stored, again.media_failed) == (0, 0)
    assert state.hits == Counter({"/parade.jpg": 1, "/flyer.png": 1, "/same-as-parade.jpg": 1})


def test_failed_download_is_reported_and_retried_next_run(
    archive: Archive, account: Account, server: GraphServer, media: tuple[MediaFiles, str]
) -> None:
    state, _ = media
    state.failing.add("/flyer.png")
    first = capture(archive, account, server)
    assert (first.media_stored, first.media_failed) == (2, 1)
    assert first.as_json()["media_failed"] == 1
    flyer = media_rows(archive)["flyer.png"]
    assert (flyer.status, flyer.attempts, flyer.last_error) == ("failed", 1, "HTTP 500")

    # Still failing: tried again, still reported, never dropped.
    second = capture(archive, account, server)
    assert (second.media_stored, second.media_failed) == (0, 1)
    assert media_rows(archive)["flyer.png"].attempts == 2

    state.failing.clear()
    third = capture(archive, account, server)
    assert (third.media_stored, third.media_failed) == (1, 0)
    flyer = media_rows(archive)["flyer.png"]
    assert (flyer.status, flyer.attempts, flyer.last_error) == ("stored", 3, None)
    assert archive.store.get(flyer.sha256 or "") == PNG
    assert state.hits["/flyer.png"] == 3 and state.hits["/parade.jpg"] == 1


def test_files_no_reader_can_decode_are_packaged_and_listed(
    archive: Archive, account: Account, server: GraphServer, tmp_path: Path
) -> None:
    """The loopback media server's files claim to be JPEG and PNG but are not decodable: both
    packages still carry them, and the PDFs name each by hash instead of drawing it."""
    capture(archive, account, server)
    stored = {m.sha256: m for m in media_rows(archive).values()}
    assert len(stored) == 2
    add_request(archive, "R-1", received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                actor="clerk")
    bag = export_open_records(archive, Scope(query="*"), OpenRecordsOptions(
        request_id="R-1", out=tmp_path / "or.zip", actor="clerk"))
    production = export_production(archive, Scope(query="*"), ProductionOptions(
        bates_prefix="SPD", out=tmp_path / "prod.zip", actor="counsel"))
    for package in (bag.path, production.path):
        with zipfile.ZipFile(package) as zf:
            media = {n.rsplit("/", 1)[1]: zf.read(n) for n in zf.namelist()
                     if "/media/" in n or "_media/" in n}
            pdfs = [zf.read(n) for n in zf.namelist() if n.endswith(".pdf")]
        assert {hashlib.sha256(data).hexdigest() for data in media.values()} == set(stored)
        assert {name.split(".")[0] for name in media} == set(stored)
        text = "".join(pdf_text(pdf) for pdf in pdfs)
        for sha, row in stored.items():
            assert sha in text and row.media_type in text
