"""Open-records packages, end to end: sample page captured twice from the loopback Graph server
into a real archive (SQLite and PostgreSQL), exported, unzipped and validated with bagit."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.cli import cli
from archiver.errors import ArchiverError
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions
from archiver.exports.requests import add_request, close_request, protected_item_ids
from archiver.exports.selection import Scope
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import AuditEvent, Export, Item
from tests.support.graph import SleepRecorder

TOKEN_ENV = "ARCHIVER_TOKEN_EXPORT_TEST"
SCRIPT_COMMENT = "2002_3008"  # "<script>alert(1)</script> <b>lol</b> ..."
PHONE_COMMENT = "2004_3013"  # "... Call me at (217) 555-0147." (hidden in the second state)
DELETED_COMMENT = "2001_3003"
EDITED_POST = "104882335720091_2012"


@pytest.fixture
def captured(archive: Archive) -> Iterator[Archive]:
    """The sample page captured, changed (edit, hide, delete, new comment), captured again."""
    with GraphServer(load_sample(), page_size=5) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: server.token}
        assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"
        server.apply_second_state()
        assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"
    yield archive


def item_id(archive: Archive, external_id: str) -> int:
    with archive.sessions() as s:
        found = s.scalar(select(Item.id).where(Item.external_id == external_id))
    assert found is not None
    return found


def register(archive: Archive, request_id: str = "KORA-2024-17") -> None:
    add_request(archive, request_id, received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                actor="clerk", requester="A. Reporter")


def unzip(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
        zf.extractall(into)
    (top,) = {n.split("/")[0] for n in names}
    return into / top


def test_package_is_a_valid_bag_with_every_part(captured: Archive, tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "package.zip"
    result = export_open_records(
        captured, Scope(query="parade"),
        OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="clerk",
                           organization="Springfield PD"))
    bag_dir = unzip(out, tmp_path / "x")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises on any problem
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert (bag_dir / "tagmanifest-sha256.txt").exists()
    assert (bag_dir / "tagmanifest-sha512.txt").exists()
    assert bag.info["External-Identifier"] == "KORA-2024-17"
    assert bag.info["Source-Organization"] == "Springfield PD"
    assert "Payload-Oxum" in bag.info and "Bagging-Date" in bag.info

    data = bag_dir / "data"
    rows = list(csv.DictReader((data / "index.csv").open(encoding="utf-8")))
    assert len(rows) == result.items
    # Whole threads: the parade post brings every one of its comments, the deleted one too.
    post = item_id(captured, "104882335720091_2001")
    deleted = item_id(captured, DELETED_COMMENT)
    ids = {int(r["item_id"]) for r in rows}
    assert {post, deleted} <= ids
    assert {r["thread_id"] for r in rows} == {str(post)}
    for row in rows:
        record = json.loads((data / row["record"]).read_text(encoding="utf-8"))
        assert record["versions"][-1]["sha256"] == row["version_record_sha256"]
        assert all(v["raw"] for v in record["versions"])
    removed = json.loads((data / f"items/{deleted}/record.json").read_text())
    assert removed["status"] == "removed" and removed["versions"][-1]["evidence"]
    html = (data / f"threads/{post}.html").read_text(encoding="utf-8")
    assert "REMOVED" in html and "https://www.facebook.com/104882335720091/posts/2001" in html
    assert (data / f"threads/{post}.pdf").read_bytes().startswith(b"%PDF")
    assert (data / "index.html").exists()
    request = json.loads((data / "request.json").read_text())
    assert request["request"]["request_id"] == "KORA-2024-17"
    assert request["request"]["requester"] == "A. Reporter"
    assert request["scope"]["query"] == "parade"
    assert request["exported_by"] == "clerk"
    assert request["counts"]["items"] == result.items

    with captured.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "export.open_records")
                          ).one()
        export = s.scalars(select(Export)).one()
    assert json.loads(event.details_json)["sha256"] == result.sha256 == export.sha256
    import hashlib
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256


def test_visitor_markup_is_shown_as_text(captured: Archive, tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "p.zip"
    target = item_id(captured, SCRIPT_COMMENT)
    export_open_records(captured, Scope(item_ids=(target,)),
                        OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="c",
                                           pdf=False))
    data = unzip(out, tmp_path / "x") / "data"
    pages = [p.read_text(encoding="utf-8") for p in (data / "threads").glob("*.html")]
    pages.append((data / "index.html").read_text(encoding="utf-8"))
    thread = pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in thread
    assert "&lt;b&gt;lol&lt;/b&gt;" in thread
    assert "&amp;amp;" in thread  # the visitor's literal "&amp;" stays literal
    for page in pages:
        assert "<script" not in page.lower()
    assert not list((data / "threads").glob("*.pdf"))


def test_edit_hide_and_history_are_marked(captured: Archive, tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "p.zip"
    ids = (item_id(captured, EDITED_POST), item_id(captured, PHONE_COMMENT))
    export_open_records(captured, Scope(item_ids=ids),
                        OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="c"))
    data = unzip(out, tmp_path / "x") / "data"
    text = "".join(p.read_text(encoding="utf-8") for p in (data / "threads").glob("*.html"))
    assert "EDITED (2 versions)" in text
    assert "HIDDEN" in text
    assert "UPDATE: Oak St." in text and "version 1" in text and "version 2" in text


def test_redaction_marks_text_everywhere_and_logs_it(captured: Archive, tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "p.zip"
    phone = item_id(captured, PHONE_COMMENT)
    script = item_id(captured, SCRIPT_COMMENT)
    redactor = Redactor(rules=load_rules(),
                        items=parse_item_redactions([f"{script}:K.S.A. 45-221(a)(10)"]))
    result = export_open_records(
        captured, Scope(item_ids=(phone, script)),
        OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="c", redactor=redactor))
    assert result.redactions > 0
    data = unzip(out, tmp_path / "x") / "data"
    everything = "".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in data.rglob("*") if p.suffix in (".html", ".json", ".csv"))
    assert "555-0147" not in everything
    assert "alert(1)" not in everything
    assert "[REDACTED: telephone number]" in everything
    assert "[REDACTED: K.S.A. 45-221(a)(10)]" in everything
    log = list(csv.DictReader((data / "redactions.csv").open(encoding="utf-8")))
    phone_rows = [r for r in log if r["item_id"] == str(phone) and r["rule"] == "phone"]
    assert {r["field"] for r in phone_rows} >= {"text", "raw.message"}
    assert all(r["exemption"].startswith("K.S.A. 45-221(a)(30)") for r in phone_rows)
    assert any(r["item_id"] == str(script) and r["rule"] == "item" for r in log)
    # The archive itself is unchanged.
    with captured.sessions() as s:
        from archiver.store.models import ItemVersion
        texts = list(s.scalars(select(ItemVersion.text).where(ItemVersion.item_id == phone)))
    assert all("555-0147" in t for t in texts)


def test_empty_result_existing_file_and_failure(captured: Archive, tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "p.zip"
    options = OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="c", pdf=False)
    with pytest.raises(ArchiverError, match="empty package"):
        export_open_records(captured, Scope(query="zzzznothingmatches"), options)
    assert not out.exists()
    out.write_bytes(b"keep me")
    with pytest.raises(ArchiverError, match="--force"):
        export_open_records(captured, Scope(query="parade"), options)
    assert out.read_bytes() == b"keep me"

    def explode(n: int) -> None:
        raise RuntimeError("disk on fire")

    forced = OpenRecordsOptions(request_id="KORA-2024-17", out=out, actor="c", pdf=False,
                                force=True)
    with pytest.raises(RuntimeError):
        export_open_records(captured, Scope(query="*"), forced, progress=explode)
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with captured.sessions() as s:
        assert s.scalars(select(Export)).all() == []
    result = export_open_records(captured, Scope(query="parade"), forced)
    assert zipfile.is_zipfile(out) and result.items > 0


def test_unknown_request_is_refused(captured: Archive, tmp_path: Path) -> None:
    with pytest.raises(ArchiverError, match="no open-records request"):
        export_open_records(captured, Scope(query="*"), OpenRecordsOptions(
            request_id="nope", out=tmp_path / "p.zip", actor="c"))


def test_exported_items_are_protected_until_the_request_closes(
        captured: Archive, tmp_path: Path) -> None:
    register(captured)
    export_open_records(captured, Scope(query="parade"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "p.zip", actor="c", pdf=False))
    post = item_id(captured, "104882335720091_2001")
    with captured.sessions() as s:
        assert post in protected_item_ids(s)
    close_request(captured, "KORA-2024-17", actor="clerk")
    with captured.sessions() as s:
        assert protected_item_ids(s) == set()


def test_cli_open_records(captured: Archive, settings_env: dict[str, str],
                          tmp_path: Path) -> None:
    runner = CliRunner()
    env = {**settings_env, "ARCHIVER_ACTOR": "records clerk"}
    result = runner.invoke(cli, ["requests", "add", "R-1", "--received", "2024-05-06"], env=env)
    assert result.exit_code == 0, result.output
    out = tmp_path / "cli.zip"
    args = ["export", "open-records", "--request-id", "R-1", "--query", "*",
            "--status", "removed", "--out", str(out), "--redact", "--no-pdf", "--json"]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["items"] >= 1 and Path(report["path"]) == out
    again = runner.invoke(cli, args, env=env)
    assert again.exit_code != 0 and "--force" in str(again.exception)
    bad = runner.invoke(cli, ["export", "open-records", "--request-id", "R-1", "--out",
                              str(tmp_path / "y.zip")], env=env)
    assert bad.exit_code != 0 and "exactly one of" in str(bad.exception)
    with zipfile.ZipFile(out) as zf:
        request = json.loads(zf.read(next(n for n in zf.namelist()
                                          if n.endswith("data/request.json"))))
    assert request["exported_by"] == "records clerk"
    # Direct messages stay out of an open-records package unless the request asks for them,
    # and the package's scope says so.
    assert request["scope"]["filters"] == {"status": "removed", "without_kinds": ["message"]}
    assert io  # keep import used for readers of this file


def test_search_json_has_matched_versions(captured: Archive, settings_env: dict[str, str]
                                          ) -> None:
    from archiver.search.interface import SearchFilters
    from archiver.search.items import search_items

    outcome = search_items(captured, "Oak", SearchFilters())
    edited = item_id(captured, EDITED_POST)
    row = next(r for r in outcome.results if r["item_id"] == edited)
    assert row["matched_versions"] == [2]
    everything = search_items(captured, "*", SearchFilters(), limit=1000)
    assert all(r["matched_versions"] == list(range(1, r["version_count"] + 1))
               for r in everything.results)
    result = CliRunner().invoke(cli, ["search", "detour"], env=settings_env)
    assert result.exit_code == 0 and result.output.startswith("2 items in 1 thread\n"), \
        result.output
