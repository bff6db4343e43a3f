"""Packages and certificates carry the latest checkpoint; productions and open-records packages
hold a certificate of authenticity naming every version's hashes."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import bagit
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.selection import Scope
from archiver.store.archive import Archive
from archiver.store.checkpoints import make_checkpoint
from archiver.store.models import ItemVersion
from tests.support.pdftext import pdf_text
from tests.test_export_open_records import captured, register, unzip  # noqa: F401
from tests.test_pdf_signing import agency_key


def test_open_records_bag_names_the_checkpoint_and_certifies_each_version(
        captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    register(captured)
    # Before any checkpoint the bag says so.
    first = tmp_path / "first.zip"
    export_open_records(captured, Scope(query="parade"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=first, actor="clerk"))
    info = bagit.Bag(str(unzip(first, tmp_path / "a"))).info
    assert info["Archiver-Checkpoint"].startswith("none yet")

    taken = make_checkpoint(captured, actor="test").summary
    out = tmp_path / "package.zip"
    result = export_open_records(captured, Scope(query="parade"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=out, actor="clerk"))
    bag_dir = unzip(out, tmp_path / "b")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert bag.info["Archiver-Checkpoint-SHA256"] == taken.sha256
    assert bag.info["Archiver-Checkpoint-Merkle-Root"] == taken.merkle_root
    assert bag.info["Archiver-Checkpoint-Audit-Head"] == taken.audit_last_sha256
    assert bag.info["Archiver-Checkpoint-Timestamped"] == "no"

    data = bag_dir / "data"
    cert = json.loads((data / "certificate-of-authenticity.json").read_bytes())
    assert cert["checkpoint"]["sha256"] == taken.sha256
    assert len(cert["items"]) == result.items
    with captured.sessions() as s:
        stored = {(v.item_id, v.seq): v for v in s.scalars(select(ItemVersion))}
    for item in cert["items"]:
        record = json.loads((data / f"items/{item['item_id']}/record.json").read_bytes())
        assert [v["sha256"] for v in item["versions"]] == [v["sha256"]
                                                           for v in record["versions"]]
        for v in item["versions"]:
            row = stored[(item["item_id"], v["seq"])]
            assert (v["sha256"], v["record_sha256"], v["hash_scheme"]) == (
                row.sha256, row.record_sha256, row.hash_scheme)
            assert "text" not in v and "author" not in v  # the package carries the content
    text = (data / "certificate-of-authenticity.txt").read_text(encoding="utf-8")
    pdf = pdf_text((data / "certificate-of-authenticity.pdf").read_bytes())
    for body in (text, pdf):
        assert "902(13)" in body and "28 U.S.C." in body
        assert "Custodian of records (name)" in body
        assert taken.sha256 in body.replace("\n", "")
    some = cert["items"][0]["versions"][0]["record_sha256"]
    assert some in text


def test_production_holds_the_certificate(captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    key, cert_pem = agency_key(tmp_path)
    captured.settings = replace(captured.settings, signing_key=key, signing_cert=cert_pem)
    taken = make_checkpoint(captured, actor="test").summary
    out = tmp_path / "prod.zip"
    result = export_production(captured, Scope(query="parade"), ProductionOptions(
        bates_prefix="SPD", out=out, actor="counsel"))
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        top = names[0].split("/")[0]
        cert = json.loads(zf.read(f"{top}/CERTIFICATE/certificate-of-authenticity.json"))
        manifest = zf.read(f"{top}/MANIFEST-SHA256.txt").decode()
        pdf = zf.read(f"{top}/CERTIFICATE/certificate-of-authenticity.pdf")
    # Signed with the agency's key (no authority configured: no timestamp).
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(
        trust_roots=[load_cert_from_pemder(str(cert_pem))]))
    assert status.intact and status.valid
    assert cert["checkpoint"]["sha256"] == taken.sha256
    assert len(cert["items"]) == result.items
    assert "CERTIFICATE/certificate-of-authenticity.json" in manifest
