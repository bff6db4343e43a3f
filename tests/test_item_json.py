"""One JSON shape for an item: ``items show --json``, ``search --json``, a package's native
record, a transfer package and a destruction certificate say the same of the same item.

The sample page is captured from the loopback Graph server into a real archive (SQLite and
PostgreSQL); the outputs come from the command line, a real open-records package and a real
approved purge.
"""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import cli
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.requests import add_request, close_request
from archiver.exports.selection import Scope
from archiver.retention.purge import purge
from archiver.store.item_json import CERTIFICATE_KEYS, CONTENT, ITEM_KEYS, VersionJson
from archiver.store.models import Item
from tests.support.retention import Captured, captured, set_today  # noqa: F401

LATE = date(2030, 1, 1)
COMMENT = "2001_3001"  # a visitor's comment on the parade post (series COMMENTS: transferred)
# The contract's keys (DESIGN.md, CLI): every output that carries them keeps their meaning.
SEARCH_CONTRACT = {"item_id", "account_id", "platform", "external_id", "kind", "status", "author",
                   "created_at", "text", "url", "version_count", "parent_id"}
VERSION_CONTRACT = {"seq", "captured_at", "status", "text", "sha256"}
VERSION_KEYS = set(VersionJson.__required_keys__)


def _cli_json(env: dict[str, str], *args: str) -> Any:
    done = CliRunner().invoke(cli, [*args, "--json"], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def _native(package: Path, item_id: int) -> Any:
    with zipfile.ZipFile(package) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(f"/items/{item_id}/record.json")]
        return json.loads(zf.read(name))


def _same(expected: dict[str, Any], other: dict[str, Any], keys: set[str]) -> None:
    for key in sorted(keys):
        assert other[key] == expected[key], key


def test_every_output_uses_the_one_shape(captured: Captured,  # noqa: F811
                                         settings_env: dict[str, str], tmp_path: Path) -> None:
    archive = captured.archive
    with archive.sessions() as s:
        item_id = s.scalar(select(Item.id).where(Item.external_id == COMMENT))
    assert item_id is not None

    shown = _cli_json(settings_env, "items", "show", str(item_id))
    assert set(shown) == {*ITEM_KEYS, "versions", "removal_evidence", "dispositions", "review",
                          "warc_records"}
    assert shown["text"] and shown["author"] and shown["thread_id"] != item_id
    assert all(set(v) == VERSION_KEYS >= VERSION_CONTRACT for v in shown["versions"])
    assert shown["versions"][-1]["text"] == shown["text"]

    found = _cli_json(settings_env, "search", f"item_id:{item_id}")
    (row,) = found["results"]
    assert set(row) == {*ITEM_KEYS, "matched_versions"} >= SEARCH_CONTRACT
    _same(shown, row, set(ITEM_KEYS))

    add_request(archive, "KORA-1", received_on=date(2024, 6, 3), calendar=HolidayCalendar(),
                actor="clerk")
    package = tmp_path / "package.zip"
    export_open_records(archive, Scope(item_ids=(item_id,)),
                        OpenRecordsOptions(request_id="KORA-1", out=package, actor="clerk"))
    close_request(archive, "KORA-1", actor="clerk")
    native = _native(package, item_id)
    assert set(native) == {*ITEM_KEYS, "versions", "redacted"}
    _same(shown, native, set(ITEM_KEYS))
    assert len(native["versions"]) == len(shown["versions"])
    for mine, theirs in zip(shown["versions"], native["versions"], strict=True):
        assert set(theirs) == VERSION_KEYS | {"record", "raw", "evidence"}
        _same(mine, theirs, VERSION_KEYS)

    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out")
    certificate = json.loads(Path(result.certificate_path or "").read_text(encoding="utf-8"))
    (destroyed,) = [i for i in certificate["items"] if i["item_id"] == item_id]
    assert set(destroyed) == {*CERTIFICATE_KEYS, "authority", "tombstone_sha256"}
    assert not set(CONTENT) & set(destroyed)
    assert shown["text"] not in json.dumps(destroyed)
    _same(shown, destroyed, set(CERTIFICATE_KEYS))

    assert result.transfer is not None
    transferred = json.loads((Path(result.transfer["path"]) / "data" / "items" /
                              f"{item_id}.json").read_text(encoding="utf-8"))
    assert set(transferred) == {*ITEM_KEYS, "versions", "series_title", "authority"}
    _same(shown, transferred, {*ITEM_KEYS, "versions"})
    assert transferred["authority"] == destroyed["authority"]

    # Afterwards items show still names the item as the certificate did, without its content.
    after = _cli_json(settings_env, "items", "show", str(item_id))
    _same(destroyed, after, set(CERTIFICATE_KEYS))
    assert after["text"] is None and after["disposed_at"] is not None
