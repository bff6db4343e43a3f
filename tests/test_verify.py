"""``archiver verify`` finds every kind of damage and names the damaged record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from archiver.blobs.local import LocalBlobStore
from archiver.capture.account import capture_account
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import AuditEvent, Blob, Item, ItemVersion
from archiver.verify import verify_archive
from tests.support.packs import damage_record_length, flip_stored_byte, unpack_to_file

TOKEN_ENV = "ARCHIVER_TOKEN_VERIFY_TEST"


@pytest.fixture
def captured(archive: Archive) -> Iterator[Archive]:
    with GraphServer(load_sample()) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: server.token}
        assert capture_account(archive, account, env).status == "succeeded"
        server.apply_second_state()
        assert capture_account(archive, account, env).status == "succeeded"
    yield archive


def test_clean_archive_verifies(captured: Archive) -> None:
    report = verify_archive(captured)
    assert report.ok, report.problems
    assert report.blobs > 0 and report.versions > 0 and report.audit_events > 0


def test_flipped_byte_edited_version_and_deleted_audit_row_are_each_reported(
    captured: Archive, settings_env: dict[str, str]
) -> None:
    archive = captured
    with archive.sessions() as s:
        version = s.scalars(select(ItemVersion).order_by(ItemVersion.id)).first()
        assert version is not None
        blob_sha = version.record_sha256
        edited = s.scalars(select(ItemVersion).where(ItemVersion.id != version.id)
                           .order_by(ItemVersion.id.desc())).first()
        assert edited is not None and blob_sha is not None
        audit_ids = list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    # 1. one byte of a blob flipped on disk
    assert isinstance(archive.store, LocalBlobStore)
    flip_stored_byte(archive.store, blob_sha)
    # 2. one version row edited in the database
    with archive.transaction() as s:
        s.execute(update(ItemVersion).where(ItemVersion.id == edited.id)
                  .values(text="nothing to see here"))
    # 3. one audit row deleted
    gone = audit_ids[len(audit_ids) // 2]
    with archive.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == gone))

    report = verify_archive(archive)
    found = {(p.kind, p.id) for p in report.problems}
    assert ("blob", blob_sha) in found
    assert ("version", str(edited.id)) in found
    assert any(kind == "audit" for kind, _ in found)
    assert not report.ok

    # The command says the same and exits non-zero.
    done = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--json"],
                          env={**os.environ, **settings_env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    problems = json.loads(done.stdout)["problems"]
    assert {"kind": "blob", "id": blob_sha} in [{"kind": p["kind"], "id": p["id"]}
                                                for p in problems]


def test_deleted_version_and_missing_blob_are_reported(captured: Archive) -> None:
    archive = captured
    with archive.sessions() as s:
        item = s.scalars(select(Item).where(Item.current_seq == 2)).first()
        assert item is not None
        first = s.scalars(select(ItemVersion).where(ItemVersion.item_id == item.id,
                                                    ItemVersion.seq == 1)).one()
    with archive.transaction() as s:
        s.execute(delete(ItemVersion).where(ItemVersion.id == first.id))
    assert first.record_sha256 is not None
    archive.store.delete(first.record_sha256)
    report = verify_archive(archive)
    reasons = " ".join(p.reason for p in report.problems)
    assert "missing" in reasons
    assert any(p.kind == "blob" and p.id == first.record_sha256 for p in report.problems)


def test_a_pack_record_with_a_damaged_length_is_reported_as_a_damaged_record(
        captured: Archive) -> None:
    archive = captured
    assert isinstance(archive.store, LocalBlobStore)
    with archive.sessions() as s:
        victim = next(sha for sha in sorted(s.scalars(select(Blob.sha256)))
                      if archive.store.packs.locate(sha) is not None)
    damage_record_length(archive.store, victim, 9)
    report = verify_archive(archive)
    reasons = {p.id: p.reason for p in report.problems if p.kind == "blob"}
    assert list(reasons) == [victim]
    assert reasons[victim].startswith("damaged record: pack ")
    assert reasons[victim].endswith("names another hash or length")


def test_appended_bytes_wrong_size_and_unreadable_blob_are_reported(captured: Archive) -> None:
    archive = captured
    assert isinstance(archive.store, LocalBlobStore)
    with archive.sessions() as s:
        shas = list(s.scalars(select(Blob.sha256).order_by(Blob.sha256)))
    appended, resized, unreadable = shas[0], shas[len(shas) // 2], shas[-1]
    # 1. bytes appended to a blob: read to the end, so its hash changes
    # (single files: the old layout, which packs hold alongside)
    path = unpack_to_file(archive.store, appended)
    os.chmod(path, 0o644)
    with path.open("ab") as fh:
        fh.write(b" ")
    # 2. the recorded size altered in the database
    with archive.transaction() as s:
        s.execute(update(Blob).where(Blob.sha256 == resized).values(size=Blob.size + 1))
    # 3. a blob that cannot be read (a folder where the file should be)
    path = unpack_to_file(archive.store, unreadable)
    path.unlink()
    path.mkdir()

    report = verify_archive(archive)
    reasons = {p.id: p.reason for p in report.problems if p.kind == "blob"}
    assert set(reasons) == {appended, resized, unreadable}
    assert reasons[appended].startswith("content hashes to ")
    assert reasons[resized].startswith("size ")
    assert reasons[unreadable].startswith("unreadable: ")
    assert report.blobs == len(shas)
    # Only blobs that were read count towards bytes_hashed.
    with archive.sessions() as s:
        total = sum(s.scalars(select(Blob.size).where(Blob.sha256 != unreadable)))
    assert report.bytes_hashed == total  # +1 appended byte, -1 from the altered size row: net 0
