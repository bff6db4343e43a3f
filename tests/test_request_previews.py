"""What the desk shows before it acts: the redaction preview lists exactly what the package's
redactions.csv will, a request's package covers its whole recorded scope, and scopes and their
previews keep to an account limit (sample page captured; SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.errors import ArchiverError
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions
from archiver.exports.redaction_preview import preview_redactions
from archiver.exports.requests import add_request, add_request_scope, package_scope
from archiver.retention.scope import ProtectionScope, check_within, matching_ids, preview_scope
from archiver.store.limits import EVERY_ACCOUNT, AccountLimit
from archiver.store.models import Item
from tests.support.retention import Captured, captured  # noqa: F401

PHONE_COMMENT = "2004_3013"


def test_the_preview_lists_what_the_package_will(captured: Captured,  # noqa: F811
                                                 tmp_path: Path) -> None:
    archive = captured.archive
    add_request(archive, "KORA-P", received_on=date(2024, 6, 3), calendar=HolidayCalendar(),
                actor="clerk", scope=ProtectionScope(everything=True))
    with archive.sessions() as s:
        withheld = s.scalar(select(Item.id).where(Item.kind == "comment").order_by(Item.id))
    redactor = Redactor(rules=load_rules(),
                        items=parse_item_redactions([f"{withheld}: under review"]))
    scope = package_scope(archive, "KORA-P")
    preview = preview_redactions(archive, scope, redactor, max_threads=1000)
    assert preview.complete and preview.items_read > 0

    out = tmp_path / "package.zip"
    export_open_records(archive, scope, OpenRecordsOptions("KORA-P", out, actor="clerk",
                                                           redactor=redactor, pdf=False))
    with zipfile.ZipFile(out) as z:
        logged = list(csv.DictReader(io.StringIO(
            z.read("open-records-KORA-P/data/redactions.csv").decode("utf-8"))))
    as_csv = sorted((str(r.redaction.item_id), str(r.redaction.version or ""),
                     r.redaction.field, r.redaction.rule, r.redaction.exemption,
                     str(r.redaction.count)) for r in preview.redactions)
    assert as_csv == sorted(tuple(row.values()) for row in logged)
    phone = [r for r in preview.redactions
             if r.redaction.rule == "phone" and r.redaction.field == "text"]
    assert phone and all("[REDACTED: telephone number]" in (r.result or "") for r in phone)
    assert any(r.redaction.item_id == withheld and r.result == "[REDACTED: under review]"
               for r in preview.redactions)
    assert dict(preview.by_exemption)["under review"] >= 1

    short = preview_redactions(archive, scope, redactor, max_threads=1)
    assert short.threads_read == 1 and not short.complete


def test_a_package_covers_every_query_of_the_request(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    calendar = HolidayCalendar()
    add_request(archive, "KORA-Q", received_on=date(2024, 6, 3), calendar=calendar,
                actor="clerk", scope=ProtectionScope(query="parade"))
    one = package_scope(archive, "KORA-Q")
    assert one.query == "parade" and not one.item_ids
    add_request_scope(archive, "KORA-Q", ProtectionScope(query="closure"), calendar=calendar,
                      actor="clerk")
    both = package_scope(archive, "KORA-Q")
    expected = set(matching_ids(archive, "parade", ProtectionScope().filters())) | set(
        matching_ids(archive, "closure", ProtectionScope().filters()))
    assert both.query is None and set(both.item_ids) == expected
    elsewhere = AccountLimit.only([captured.account.id + 1])
    with pytest.raises(ArchiverError, match="nothing matched the request's scope"):
        package_scope(archive, "KORA-Q", elsewhere)
    assert package_scope(archive, "KORA-Q", AccountLimit.only([captured.account.id])
                         ).item_ids == both.item_ids


def test_scopes_and_previews_keep_to_the_account_limit(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    mine = AccountLimit.only([captured.account.id])
    other = AccountLimit.only([captured.account.id + 1])
    everything = ProtectionScope(everything=True)
    check_within(everything, EVERY_ACCOUNT, "hold")
    with pytest.raises(ArchiverError, match=r"you may only hold items of your own accounts: "
                                            rf"choose one \(account {captured.account.id}\)"):
        check_within(everything, mine, "hold")
    own = ProtectionScope(account_id=captured.account.id)
    check_within(own, mine, "hold")
    all_items = preview_scope(archive, own, EVERY_ACCOUNT, first=3)
    assert all_items.count > 3 and len(all_items.items) == 3
    assert [r["item_id"] for r in all_items.items] == sorted(
        (r["item_id"] for r in all_items.items), reverse=True)
    assert preview_scope(archive, own, mine).count == all_items.count
    assert preview_scope(archive, own, other).count == 0
    assert mine.covers(mine) and EVERY_ACCOUNT.covers(mine) and not mine.covers(EVERY_ACCOUNT)
    assert not mine.covers(other)
