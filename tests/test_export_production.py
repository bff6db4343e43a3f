"""Litigation productions: the DAT parsed back and checked row by row against the archive."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.errors import ArchiverError
from archiver.exports.loadfiles import read_dat
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.selection import Scope
from archiver.store.archive import Archive
from archiver.store.models import Account, AuditEvent, Export, Item, ItemVersion
from tests.test_export_open_records import captured, item_id, unzip  # noqa: F401 - fixture

PREFIX = "SPD"


def produce(archive: Archive, scope: Scope, out: Path) -> Path:
    export_production(archive, scope, ProductionOptions(bates_prefix=PREFIX, out=out,
                                                        actor="counsel"))
    return out


def test_dat_rows_match_the_archive(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    out = produce(captured, Scope(query="parade OR detour"), tmp_path / "prod.zip")
    root = unzip(out, tmp_path / "x")
    raw = (root / f"{PREFIX}-PROD001.dat").read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(read_dat(root / f"{PREFIX}-PROD001.dat"))
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
    opt = (root / f"{PREFIX}-PROD001.opt").read_text(encoding="utf-8").splitlines()
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
        assert any(n.endswith("SPD-PROD001.dat") for n in zf.namelist())


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


def _top_and_volumes(path: Path) -> tuple[str, set[str], set[str]]:
    """The ZIP's top folder, the OPT volumes, and every file path as a loader would place it."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        (top,) = {n.split("/")[0] for n in names}
        (opt,) = [n for n in names if n.endswith(".opt")]
        volumes = {line.split(",")[1] for line in zf.read(opt).decode().splitlines()}
    return top, volumes, set(names)


def test_productions_and_volumes_are_numbered(captured: Archive,  # noqa: F811
                                              tmp_path: Path) -> None:
    made = [export_production(captured, Scope(query="parade"), ProductionOptions(
                bates_prefix=prefix, out=tmp_path / f"{n}.zip", actor="c"))
            for n, prefix in enumerate((PREFIX, PREFIX, "OTHER"))]
    (top1, vol1, files1), (top2, vol2, files2), (top3, vol3, files3) = (
        _top_and_volumes(m.path) for m in made)
    assert (top1, top2, top3) == ("SPD-PROD001", "SPD-PROD002", "OTHER-PROD001")
    assert (vol1, vol2, vol3) == ({"SPD-VOL001"}, {"SPD-VOL002"}, {"OTHER-VOL001"})
    # Loaded side by side, no file and no volume of one production lands on another's.
    assert not files1 & files2 and not files1 & files3 and not files2 & files3
    assert [m.production for m in made] == ["SPD-PROD001", "SPD-PROD002", "OTHER-PROD001"]
    with captured.sessions() as s:
        rows = s.scalars(select(Export).order_by(Export.id)).all()
        assert [(r.bates_prefix, r.production_number) for r in rows] == [
            (PREFIX, 1), (PREFIX, 2), ("OTHER", 1)]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "export.production")
                          .order_by(AuditEvent.id)).all()[1]
    details = json.loads(event.details_json)
    assert (details["production"], details["volume"]) == ("SPD-PROD002", "SPD-VOL002")


def test_production_numbers_migration_numbers_earlier_productions(db_url: str) -> None:
    """Productions made before production numbers existed get 1, 2... by age; the next one
    continues after them."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from archiver.store import db

    engine = db.make_engine(db_url)
    try:
        config = db.alembic_config(engine)
        before = ScriptDirectory.from_config(config).get_revision("0008").down_revision
        assert isinstance(before, str)
        command.upgrade(config, before)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bates_counters (prefix, next_number) "
                              "VALUES ('SPD', 31), ('NEW', 1)"))
            for n, (prefix, first, last) in enumerate(
                    [("SPD", 1, 10), ("SPD", 11, 30), (None, None, None)]):
                conn.execute(text(
                    "INSERT INTO exports (kind, actor, created_at, file_name, sha256, size, "
                    "item_count, redactions, filters_json, bates_prefix, bates_first, "
                    "bates_last) VALUES (:kind, 'c', '2024-05-06 10:00:00', :name, :sha, 1, 1, "
                    "0, '{}', :prefix, :first, :last)"),
                    {"kind": "production" if prefix else "open_records", "name": f"{n}.zip",
                     "sha": f"{n}" * 64, "prefix": prefix, "first": first, "last": last})
        command.upgrade(config, "head")
        with engine.connect() as conn:
            numbers = conn.execute(text(
                "SELECT file_name, production_number FROM exports ORDER BY id")).all()
            counters = dict(conn.execute(text(
                "SELECT prefix, next_production FROM bates_counters")).all())
    finally:
        engine.dispose()
    assert [tuple(r) for r in numbers] == [("0.zip", 1), ("1.zip", 2), ("2.zip", None)]
    assert counters == {"SPD": 3, "NEW": 1}
