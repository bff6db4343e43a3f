"""WARC capture end to end: the Facebook connector against the loopback Graph server, every
exchange kept as WARC 1.1 records in a stored blob, each version naming the record that carried
it, and no token anywhere in the file."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.account import capture_account
from archiver.capture.run import Capture
from archiver.capture.sources import connector_for
from archiver.capture.warc import WarcRecorder
from archiver.connectors.exchanges import Exchange, object_ids
from archiver.connectors.records import Record
from archiver.connectors.secrets import SecretScrubber
from archiver.item_detail import item_detail
from archiver.standins.dataset import load_sample
from archiver.standins.youtube_server import CHANNEL_ID, YouTubeServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, Item, ItemVersion, WarcFile, WarcRecord
from archiver.store.warcs import payload_digest, read_record_at
from archiver.verify import verify_archive
from tests.support.cli import archiver, assert_one_line_error
from tests.support.graph import SleepRecorder
from tests.support.packs import unpack_to_file
from tests.support.platforms_b import make_connector, youtube_server  # noqa: F401
from tests.support.warc import (
    RecordingGraphServer,
    inflated,
    stored_warcs,
    warc_bytes,
    warc_records,
)

TOKEN_ENV = "ARCHIVER_TOKEN_WARC_PAGE"


@pytest.fixture
def server() -> Iterator[RecordingGraphServer]:
    with RecordingGraphServer(load_sample(), page_size=5) as srv:
        yield srv


@pytest.fixture
def account(archive: Archive, server: RecordingGraphServer) -> Account:
    return add_account(archive, AccountSpec(
        platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def capture(archive: Archive, account: Account, server: RecordingGraphServer) -> None:
    result = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder())
    assert result.status == "succeeded", result.error


def ids_in(payload: Any) -> set[str]:
    return set(object_ids(payload))


def test_capture_keeps_every_exchange_as_warc_records_without_the_token(
    archive: Archive, account: Account, server: RecordingGraphServer
) -> None:
    capture(archive, account, server)
    [row] = stored_warcs(archive)
    assert row.status == "stored" and row.sha256 is not None
    data = warc_bytes(archive, row)
    records = warc_records(data)
    assert records[0].record_type == "warcinfo"
    assert records[0].header("WARC-Filename")
    info = records[0].payload.decode()
    assert "software: archiver/" in info and "springfieldpd" in info
    assert all(r.headers[0] != ("WARC-Type", "") for r in records)

    # Every answer the server sent is a response record, in order, byte for byte; where the
    # platform echoed the token (Graph's paging.next), only the token is taken out.
    responses = [r for r in records if r.record_type == "response"]
    assert len(responses) == len(server.sent) > 5
    scrub = SecretScrubber([server.token])
    identical = 0
    for record, (path, body) in zip(responses, server.sent, strict=True):
        assert record.payload == scrub.data(body)[0], path
        assert record.header("WARC-Payload-Digest") == payload_digest(record.payload)
        identical += record.payload == body
    assert identical >= len(responses) // 3  # object look-ups and last pages carry no token

    # The requests: no credentials in the URL or the headers.
    requests = [r for r in records if r.record_type == "request"]
    assert len(requests) == len(responses)
    for request in requests:
        assert request.http is not None
        assert request.http.get_header("Authorization") is None
        assert "access_token" not in (request.header("WARC-Target-URI") or "")
    assert {r.header("WARC-Concurrent-To") for r in requests} == {
        r.header("WARC-Record-ID") for r in responses}

    # No token anywhere: not in the stored bytes, not in any record once inflated.
    plain = inflated(data)
    for spelling in (server.token, quote(server.token, safe="")):
        assert spelling.encode() not in plain
        assert spelling.encode() not in data
    assert b"Bearer" not in plain

    # warcio reads the file back and every digest checks.
    checked = 0
    for rec in ArchiveIterator(io.BytesIO(data), check_digests=True):
        rec.content_stream().read()
        assert rec.digest_checker.passed is not False, rec.digest_checker.problems
        checked += 1
    assert checked == len(records)


def test_each_version_names_the_response_record_that_carried_it(
    archive: Archive, account: Account, server: RecordingGraphServer
) -> None:
    capture(archive, account, server)
    [row] = stored_warcs(archive)
    data = warc_bytes(archive, row)
    with archive.sessions() as s:
        versions = s.execute(select(Item.external_id, WarcRecord)
                             .join(ItemVersion, ItemVersion.item_id == Item.id)
                             .join(WarcRecord, WarcRecord.id == ItemVersion.warc_record_id)
                             ).all()
        unlinked = s.scalars(select(ItemVersion.id).where(
            ItemVersion.warc_record_id.is_(None))).all()
        files = s.scalars(select(WarcFile.id)).all()
    assert versions and not unlinked
    for external_id, record in versions:
        assert record.warc_file_id == files[0]
        assert record.record_type == "response"
        assert record.file_offset is not None
        read = read_record_at(data, record.file_offset)
        assert read.header("WARC-Record-ID") == record.record_id
        assert payload_digest(read.payload) == record.payload_digest
        assert external_id in ids_in(json.loads(read.payload)), external_id
    # items show names the same record for each version.
    with archive.sessions() as s:
        item_id, record_id = s.execute(select(Item.id, WarcRecord.record_id)
                                       .join(ItemVersion, ItemVersion.item_id == Item.id)
                                       .join(WarcRecord,
                                             WarcRecord.id == ItemVersion.warc_record_id)
                                       .limit(1)).one()
    [shown] = item_detail(archive, item_id)["warc_records"]
    assert shown["record_id"] == record_id and shown["warc_file_sha256"] == row.sha256


def test_every_run_writes_its_own_warc_file(
    archive: Archive, account: Account, server: RecordingGraphServer
) -> None:
    capture(archive, account, server)
    server.apply_second_state()
    capture(archive, account, server)
    rows = stored_warcs(archive)
    assert [r.status for r in rows] == ["stored", "stored"]
    assert rows[0].capture_run_id != rows[1].capture_run_id
    assert rows[0].sha256 != rows[1].sha256
    assert not list((archive.settings.home / "warc-spool").glob("*"))


def test_verify_reports_a_tampered_warc_record(
    archive: Archive, account: Account, server: RecordingGraphServer
) -> None:
    capture(archive, account, server)
    assert verify_archive(archive).ok
    [row] = stored_warcs(archive)
    data = warc_bytes(archive, row)
    with archive.sessions() as s:
        target = s.scalars(select(WarcRecord).join(
            ItemVersion, ItemVersion.warc_record_id == WarcRecord.id)
            .order_by(WarcRecord.id).limit(1)).one()
    assert target.file_offset is not None and target.length is not None
    start, end = target.file_offset, target.file_offset + target.length
    member = bytearray(gzip.decompress(data[start:end]))
    # One digit of an id in the payload changes: same length, so the file still parses and only
    # the payload lies.
    http_head_end = member.index(b"\r\n\r\n", member.index(b"\r\n\r\n") + 4) + 4
    found = re.compile(rb'"id":\s*"(\d)').search(member, http_head_end)
    assert found is not None
    digit = found.start(1)
    member[digit] = ord("0") + (member[digit] - ord("0") + 1) % 10
    changed = bytes(member)
    tampered = data[:start] + gzip.compress(changed) + data[end:]
    # A small WARC file lives in a pack: moved out to its own file, so only its bytes change.
    path = unpack_to_file(archive.store, row.sha256)
    path.chmod(0o644)
    path.write_bytes(tampered)
    report = verify_archive(archive)
    warc = [p for p in report.problems if p.kind == "warc"]
    assert warc and warc[0].id == f"{row.id}:{target.record_id}", report.problems
    assert "digest" in warc[0].reason


def test_warc_export_round_trips_through_warcio(
    archive: Archive, account: Account, server: RecordingGraphServer,
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    capture(archive, account, server)
    [row] = stored_warcs(archive)
    with archive.sessions() as s:
        recorded = {r.record_id: r.payload_digest for r in s.scalars(
            select(WarcRecord).where(WarcRecord.record_type != "warcinfo"))}
    out = tmp_path / "out.warc.gz"
    done = archiver(settings_env, "warc", "export", "--account", "springfieldpd",
                    "--since", "2000-01-01", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["records"] == len(recorded) and summary["files"] == 1
    seen: dict[str, str | None] = {}
    with out.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            body = rec.content_stream().read()
            assert rec.digest_checker.passed is not False, rec.digest_checker.problems
            if rec.rec_type == "warcinfo":
                assert b"springfieldpd" in body
                continue
            digest = rec.rec_headers.get_header("WARC-Payload-Digest")
            if rec.rec_type in ("response", "request"):
                assert digest == payload_digest(body)
            seen[rec.rec_headers.get_header("WARC-Record-ID")] = digest
    assert seen == recorded
    assert server.token.encode() not in inflated(out.read_bytes())

    # Nothing since tomorrow; an unknown account is one line and exit 1.
    later = archiver(settings_env, "warc", "export", "--account", str(account.id), "--since",
                     "2999-01-01", "--out", str(tmp_path / "none.warc.gz"), "--json")
    assert later.returncode == 0 and json.loads(later.stdout)["records"] == 0
    assert_one_line_error(archiver(settings_env, "warc", "export", "--account", "nobody",
                                   "--since", "2000-01-01", "--out", str(tmp_path / "x")),
                          "--account")
    assert_one_line_error(archiver(settings_env, "warc", "export", "--account", "springfieldpd",
                                   "--since", "2000-01-01", "--out", str(out)), "already exists")


def test_a_run_that_died_has_its_warc_file_stored_by_the_next(
    archive: Archive, account: Account, server: RecordingGraphServer
) -> None:
    recorder = WarcRecorder(archive, account)
    with connector_for(account, {TOKEN_ENV: server.token}, sleep=SleepRecorder(),
                       recorder=recorder) as connector:
        Capture(archive, account, connector, recorder=recorder).run()
    # The process ends here without storing its file, as a killed capture would.
    [row] = stored_warcs(archive)
    assert row.status == "writing" and row.sha256 is None
    capture(archive, account, server)
    first, second = stored_warcs(archive)
    assert first.status == second.status == "stored"
    with archive.sessions() as s:
        linked = s.scalars(select(WarcRecord.warc_file_id).join(
            ItemVersion, ItemVersion.warc_record_id == WarcRecord.id)).all()
    assert first.id in linked
    report = verify_archive(archive)
    assert report.ok and report.warc_records > 0, report.problems


@pytest.mark.parametrize("how", ["oauth", "api key"])
def test_every_connector_on_the_shared_loop_tells_the_recorder_without_credentials(
    youtube_server: YouTubeServer, how: str  # noqa: F811
) -> None:
    told: list[Exchange] = []

    def recorder(exchange: Exchange) -> str:
        told.append(exchange)
        return f"exchange-{len(told)}"

    secret = youtube_server.token if how == "oauth" else youtube_server.api_key
    token = secret if how == "oauth" else f"key:{secret}"
    with make_connector("youtube", CHANNEL_ID, youtube_server.base_url, token,
                        recorder=recorder) as connector:
        records = [e for e in connector.events() if isinstance(e, Record)]
    assert records and len(told) == youtube_server.request_count
    assert all(r.source is not None and r.source.startswith("exchange-") for r in records)
    for exchange in told:
        shown = repr(exchange).encode() + exchange.body
        assert secret.encode() not in shown and b"Bearer" not in shown
        assert not any(k.lower() == "authorization" for k, _ in exchange.request_headers)
