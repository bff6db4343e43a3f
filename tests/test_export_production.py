"""Litigation productions: the DAT parsed back and checked row by row against the archive."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.archive import Archive
from archiver.errors import ArchiverError
from archiver.exports.loadfiles import read_dat
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.selection import Scope
from archiver.models import Account, AuditEvent, Item, ItemVersion
from tests.test_export_open_records import captured, item_id, unzip  # noqa: F401 - fixture

PREFIX = "SPD"


def produce(archive: Archive, scope: Scope, out: Path) -> Path:
    export_production(archive, scope, ProductionOptions(bates_prefix=PREFIX, out=out,
                                                        actor="counsel"))
    return out


def test_dat_rows_match_the_archive(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    out = produce(captured, Scope(query="parade OR detour"), tmp_path / "prod.zip")
    root = unzip(out, tmp_path / "x")
    raw = (root / f"{PREFIX}.dat").read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(read_dat(root / f"{PREFIX}.dat"))
    assert rows, "no rows"
    numbers = [int(r["BEGBATES"].split("-")[1]) for r in rows]
    assert numbers == list(range(1, len(rows) + 1))  # continuous from 1
    by_bates = {r["BEGBATES"]: r for r in rows}
    with captured.sessions() as s:
        for row in rows:
            assert row["BEGBATES"] == row["ENDBATES"]
            native = root / row["NATIVEPATH"].replace("\\", "/")
            text = root / row["TEXTPATH"].replace("\\", "/")
            data = native.read_bytes()
            assert hashlib.md5(data).hexdigest() == row["MD5HASH"]  # noqa: S324 - load-file field
            assert hashlib.sha1(data).hexdigest() == row["SHA1HASH"]  # noqa: S324
            assert hashlib.sha256(data).hexdigest() == row["SHA256HASH"]
            assert text.read_text(encoding="utf-8").startswith("Item: ")
            import json
            record = json.loads(data)
            item = s.get(Item, record["item_id"])
            assert item is not None
            account = s.get(Account, item.account_id)
            assert account is not None
            current = s.scalars(select(ItemVersion).where(
                ItemVersion.item_id == item.id, ItemVersion.seq == item.current_seq)).one()
            assert row["CUSTODIAN"] == account.handle
            assert row["PLATFORM"] == account.platform
            assert row["KIND"] == item.kind
            assert row["STATUS"] == item.status
            assert row["AUTHOR"] == (current.author_name or "")
            assert row["URL"] == (current.url or "")
            assert row["DATECREATED"] == (current.created_at.isoformat()
                                          if current.created_at else "")
            assert row["DATECAPTURED"] == item.first_captured_at.isoformat()
            # Families: the post heads its thread; the parent's Bates is in the same family.
            family = [r for r in rows if r["BEGATTACH"] == row["BEGATTACH"]]
            assert family[0]["BEGBATES"] == row["BEGATTACH"]
            assert family[-1]["BEGBATES"] == row["ENDATTACH"]
            if item.parent_id is not None:
                parent = by_bates[row["PARENTBATES"]]
                assert json.loads((root / parent["NATIVEPATH"].replace("\\", "/"))
                                  .read_bytes())["item_id"] == item.parent_id
            else:
                assert row["PARENTBATES"] == ""
    opt = (root / f"{PREFIX}.opt").read_text(encoding="utf-8").splitlines()
    assert len(opt) == len(rows)
    for line, row in zip(opt, rows, strict=True):
        key, volume, path, brk, _, _, pages = line.split(",")
        assert key == row["BEGBATES"] and brk == "Y" and int(pages) >= 1
        assert (root / path.replace("\\", "/")).read_bytes().startswith(b"%PDF")
    manifest = (root / "MANIFEST-SHA256.txt").read_text().splitlines()
    for line in manifest:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
    assert len(manifest) == sum(1 for p in root.rglob("*") if p.is_file()) - 1
    versions = (root / "CUSTODY/versions.csv").read_text(encoding="utf-8")
    events = (root / "CUSTODY/events.csv").read_text(encoding="utf-8")
    deleted = item_id(captured, "2001_3003")
    assert f",{deleted}," in versions and "item.removed" in events
    assert "capture.succeeded" in events


def test_bates_numbers_are_never_reused(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    first = export_production(captured, Scope(query="parade"), ProductionOptions(
        bates_prefix=PREFIX, out=tmp_path / "a.zip", actor="c"))
    second = export_production(captured, Scope(query="parade"), ProductionOptions(
        bates_prefix=PREFIX, out=tmp_path / "b.zip", actor="c"))
    assert first.bates_first == "SPD-0000001"
    n = first.items
    assert second.bates_first == f"SPD-{n + 1:07d}"
    assert second.bates_last == f"SPD-{2 * n:07d}"
    other = export_production(captured, Scope(query="parade"), ProductionOptions(
        bates_prefix="OTHER", out=tmp_path / "c.zip", actor="c"))
    assert other.bates_first == "OTHER-0000001"
    with captured.sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "export.production")
                           ).all()
    assert len(events) == 3


def test_failed_production_uses_no_numbers(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    def explode(n: int) -> None:
        raise RuntimeError("power cut")

    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "a.zip"
    with pytest.raises(RuntimeError):
        export_production(captured, Scope(query="*"), ProductionOptions(
            bates_prefix=PREFIX, out=out, actor="c"), progress=explode)
    assert not out.exists() and list(folder.iterdir()) == []
    result = export_production(captured, Scope(query="parade"), ProductionOptions(
        bates_prefix=PREFIX, out=out, actor="c"))
    assert result.bates_first == "SPD-0000001"
    with zipfile.ZipFile(out) as zf:
        assert any(n.endswith("SPD.dat") for n in zf.namelist())


def test_bad_input(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ArchiverError, match="empty production"):
        export_production(captured, Scope(query="zzzznothing"), ProductionOptions(
            bates_prefix=PREFIX, out=tmp_path / "a.zip", actor="c"))
    with pytest.raises(ArchiverError, match="bates-prefix"):
        export_production(captured, Scope(query="*"), ProductionOptions(
            bates_prefix="../x", out=tmp_path / "a.zip", actor="c"))
    with pytest.raises(ArchiverError, match="no hold"):
        export_production(captured, Scope(hold="missing"), ProductionOptions(
            bates_prefix=PREFIX, out=tmp_path / "a.zip", actor="c"))
