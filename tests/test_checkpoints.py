"""Checkpoints: the Merkle root, RFC 3161 tokens from an authority on loopback, and
``verify --since`` noticing the rewrites that re-sealed hashes hide from ``verify``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import rfc8785
from sqlalchemy import MetaData, delete, func, select, update

from archiver.retention.purge import purge
from archiver.search.indexing import rebuild_index
from archiver.store.archive import Archive
from archiver.store.audit import event_payload
from archiver.store.canonical import hash_with
from archiver.store.checkpoints import (
    CheckpointError,
    leaf_hash,
    make_checkpoint,
    merkle_root,
    read_checkpoint,
)
from archiver.store.models import AuditEvent, AuditHead, Blob, Checkpoint, Item, ItemVersion
from archiver.store.versions import version_sha256
from archiver.verify import verify_archive
from tests.support.pdftext import pdf_text
from tests.support.retention import Captured, captured, set_today  # noqa: F401
from tests.support.tsa import TsaServer

LATE = date(2030, 1, 1)


def _rfc6962(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 as written: split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


def test_merkle_root_is_rfc6962() -> None:
    for n in range(0, 19):
        leaves = [leaf_hash(i, 1, f"{i:064x}") for i in range(1, n + 1)]
        assert merkle_root(leaves) == _rfc6962(leaves).hex()
    # A leaf is SHA-256(0x00 || JCS([item_id, seq, sha256])).
    assert leaf_hash(7, 2, "ab") == hashlib.sha256(b'\x00[7,2,"ab"]').digest()


def test_checkpoint_file_is_jcs_and_names_every_head(captured: Captured,  # noqa: F811
                                                     tmp_path: Path) -> None:
    archive = captured.archive
    out = tmp_path / "cp.json"
    result = make_checkpoint(archive, actor="test", out=out)
    data = out.read_bytes()
    assert rfc8785.dumps(json.loads(data)) == data
    assert hashlib.sha256(data).hexdigest() == result.summary.sha256
    assert result.token_path is None and not result.summary.timestamped
    loaded = read_checkpoint(out)
    with archive.sessions() as s:
        heads = [tuple(r) for r in s.execute(
            select(Item.id, Item.current_seq, Item.current_sha256).order_by(Item.id))]
        head = s.scalar(select(AuditHead))
        row = s.scalar(select(Checkpoint))
        event = s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert loaded.heads == heads and result.summary.item_count == len(heads) > 0
    assert loaded.audit["last_sha256"] != head.last_sha256  # the checkpoint's own event follows
    assert event is not None and event.action == "archive.checkpoint"
    assert loaded.audit["last_event_id"] == event.id - 1
    assert row is not None and row.document.encode() == data
    # An edited file is refused with one line.
    doc = json.loads(data)
    doc["items"]["heads"][0][2] = "0" * 64
    out.write_bytes(rfc8785.dumps(doc))
    with pytest.raises(CheckpointError, match="do not give the stated Merkle root"):
        read_checkpoint(out)


def test_timestamped_checkpoint_checks_with_openssl_and_verify(
        captured: Captured, settings_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    archive = captured.archive
    with TsaServer() as tsa:
        archive.settings = replace(archive.settings, tsa_url=tsa.url, tsa_ca_file=tsa.ca_pem)
        env = {**os.environ, **settings_env, "ARCHIVER_TSA_URL": tsa.url,
               "ARCHIVER_TSA_CA_FILE": str(tsa.ca_pem)}
        out = tmp_path / "cp.json"
        done = subprocess.run([sys.executable, "-m", "archiver.cli", "checkpoint", "--out",
                               str(out)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "timestamped (RFC 3161)" in done.stdout
        token = out.with_name("cp.json.tsr")
        sha = hashlib.sha256(out.read_bytes()).hexdigest()
        checked = subprocess.run(["openssl", "ts", "-verify", "-digest", sha, "-in", str(token),
                                  "-token_in", "-CAfile", str(tsa.ca_pem)],
                                 capture_output=True, text=True, timeout=60)
        assert "Verification: OK" in checked.stdout, checked.stderr

        done = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--since",
                               str(out)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "timestamped" in done.stdout and "CN=Test TSA" in done.stdout

        # The authority down: the checkpoint is kept without a token, one line, exit 1.
        tsa.fail_with = 503
        done = subprocess.run([sys.executable, "-m", "archiver.cli", "checkpoint"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"error: not timestamped: time-stamping authority {tsa.url}: HTTP 503"]
        with archive.sessions() as s:
            rows = list(s.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        assert [r.tsa_token is not None for r in rows] == [True, False]

        # A token that no longer holds is reported by verify.
        bad = bytearray(rows[0].tsa_token or b"")
        bad[-5] ^= 0x01
        with archive.transaction() as s:
            s.execute(update(Checkpoint).where(Checkpoint.id == rows[0].id)
                      .values(tsa_token=bytes(bad)))
        report = verify_archive(archive)
        assert [(p.kind, p.reason) for p in report.problems] == [
            ("checkpoint", "time-stamp token: the signature does not hold")]
        token.write_bytes(bytes(bad))
        report = verify_archive(archive, since=read_checkpoint(out))
        assert ("since", "timestamp") in {(p.kind, p.id) for p in report.problems}


# -- the four rewrites ---------------------------------------------------------------------------


def _reseal_audit(archive: Archive) -> None:
    """Re-seal the whole audit chain as it now stands, and its head."""
    with archive.transaction() as s:
        prev = None
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        for event in events:
            event.prev_sha256 = prev
            event.sha256 = hash_with(event_payload(event), event.hash_scheme)
            prev = event.sha256
        head = s.scalar(select(AuditHead))
        assert head is not None
        head.event_count, head.last_sha256 = len(events), prev
        head.last_event_id = events[-1].id if events else None


def _leaf_item(archive: Archive) -> int:
    """A comment nothing else refers to, with its newest version's id."""
    with archive.sessions() as s:
        parents = select(Item.parent_id).where(Item.parent_id.is_not(None))
        item_id = s.scalar(select(Item.id).where(Item.kind == "comment", Item.id.not_in(parents))
                           .order_by(Item.id.desc()))
    assert item_id is not None
    return item_id


def rewrite_version(archive: Archive) -> str:
    """(a) A version's text and its raw blob rewritten, every hash re-sealed, the audit chain
    re-sealed with the checkpoint's own event gone."""
    item_id = _leaf_item(archive)
    with archive.transaction() as s:
        v = s.scalar(select(ItemVersion).where(ItemVersion.item_id == item_id)
                     .order_by(ItemVersion.seq.desc()).limit(1))
        assert v is not None
        raw = json.dumps({"message": "nothing to see here"}).encode()
        sha = archive.store.put(raw)
        s.merge(Blob(sha256=sha, size=len(raw), media_type="application/json",
                     created_at=v.captured_at))
        v.text, v.record_sha256 = "nothing to see here", sha
        v.sha256 = version_sha256(v)
        s.execute(update(Item).where(Item.id == item_id).values(current_sha256=v.sha256))
        s.execute(delete(AuditEvent).where(AuditEvent.action == "archive.checkpoint"))
    _reseal_audit(archive)
    return f"item {item_id} v"


def delete_item(archive: Archive) -> str:
    """(b) An item deleted with its versions and everything naming it."""
    item_id = _leaf_item(archive)
    tables = MetaData()
    tables.reflect(archive.engine)
    with archive.transaction() as s:
        version_ids = list(s.scalars(select(ItemVersion.id).where(ItemVersion.item_id == item_id)))
        for table in tables.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table.name == "item_versions" and table.name != "item_versions":
                    s.execute(delete(table).where(fk.parent.in_(version_ids)))
        for table in tables.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table.name == "items" and table.name not in ("items",):
                    s.execute(delete(table).where(fk.parent == item_id))
        s.execute(delete(Item).where(Item.id == item_id))
    return f"item {item_id} (at v"


def delete_newest_version(archive: Archive) -> str:
    """(c) An item's newest version deleted and the item pointed at the one before."""
    with archive.sessions() as s:
        item_id = s.scalar(select(Item.id).where(Item.current_seq > 1).order_by(Item.id))
    assert item_id is not None, "the sample has an item with two versions"
    with archive.transaction() as s:
        item = s.get(Item, item_id)
        assert item is not None
        s.execute(delete(ItemVersion).where(ItemVersion.item_id == item_id,
                                            ItemVersion.seq == item.current_seq))
        before = s.scalar(select(ItemVersion).where(ItemVersion.item_id == item_id,
                                                    ItemVersion.seq == item.current_seq - 1))
        assert before is not None
        item.current_seq, item.current_sha256 = before.seq, before.sha256
        item.content_sha256 = before.content_sha256
    return f"item {item_id}: v"


def delete_newest_audit_events(archive: Archive) -> str:
    """(d) The newest audit events deleted, from the checkpoint's head on, and the head row
    adjusted to the event before."""
    with archive.sessions() as s:
        cut = s.scalar(select(Checkpoint.audit_last_event_id))
    assert cut is not None
    with archive.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id >= cut))
        last = s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        count = s.scalar(select(func.count()).select_from(AuditEvent))
        s.execute(update(AuditHead).values(event_count=count, last_event_id=last.id,
                                           last_sha256=last.sha256))
    # SQLite may hand the next event the deleted id: "gone" or "differs", either names it.
    return f"audit event {cut}"


def _second_version(captured: Captured) -> None:  # noqa: F811
    captured.server.apply_second_state()
    from archiver.capture.account import capture_account
    from tests.support.retention import TOKEN_ENV

    assert capture_account(captured.archive, captured.account,
                           {TOKEN_ENV: captured.server.token},
                           sleep=lambda _s: None).status == "succeeded"


@pytest.mark.parametrize("rewrite", [rewrite_version, delete_item, delete_newest_version,
                                     delete_newest_audit_events],
                         ids=["a-rewrite", "b-delete-item", "c-delete-version", "d-audit-head"])
def test_verify_since_reports_each_rewrite_verify_misses(
        captured: Captured, tmp_path: Path, settings_env: dict[str, str],  # noqa: F811
        rewrite: Callable[[Archive], str]) -> None:
    archive = captured.archive
    _second_version(captured)
    out = tmp_path / "cp.json"
    make_checkpoint(archive, actor="test", out=out)
    assert verify_archive(archive, since=read_checkpoint(out)).ok

    expected = rewrite(archive)
    rebuild_index(archive)  # the index is derived: whoever rewrites the database rebuilds it
    before = verify_archive(archive)
    assert before.ok, before.problems  # what the database alone shows

    done = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--since", str(out)],
                          env={**os.environ, **settings_env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout
    damaged = [line for line in done.stdout.splitlines() if line.startswith("DAMAGED since ")]
    assert any(expected in line for line in damaged), done.stdout


def test_purge_after_a_checkpoint_still_extends_it(captured: Captured,  # noqa: F811
                                                   tmp_path: Path) -> None:
    archive = captured.archive
    out = tmp_path / "cp.json"
    make_checkpoint(archive, actor="test", out=out)
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "purge")
    assert result.destroyed > 0
    report = verify_archive(archive, since=read_checkpoint(out))
    assert report.ok, report.problems
    assert report.since is not None and report.since["destroyed_since"] == result.destroyed

    # A purge the audit chain does not record is not accepted.
    with archive.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.action == "retention.purge.start"))
    _reseal_audit(archive)
    report = verify_archive(archive, since=read_checkpoint(out))
    assert any("no purge after it records disposition" in p.reason for p in report.problems)


def test_destruction_certificate_names_the_checkpoint(captured: Captured,  # noqa: F811
                                                      tmp_path: Path) -> None:
    archive = captured.archive
    taken = make_checkpoint(archive, actor="test").summary
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path)
    cert = json.loads(Path(result.certificate_path or "").read_bytes())
    assert cert["checkpoint"]["sha256"] == taken.sha256
    pdf = pdf_text(Path(result.certificate_pdf_path or "").read_bytes())
    assert taken.sha256 in pdf.replace("\n", "")
