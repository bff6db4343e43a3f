"""Media in packages: the sample page captured from the loopback Graph server (which serves its
media files as Facebook's CDN would), then both packages checked for every stored file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from archiver.exports.loadfiles import read_dat
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.redaction import Redactor, parse_item_redactions
from archiver.exports.selection import Scope
from archiver.store.archive import Archive
from archiver.store.models import ItemVersion, MediaFile, VersionMedia
from tests.support.pdftext import pdf_image_count, pdf_text
from tests.test_export_open_records import captured, register, unzip  # noqa: F401 - fixture


def stored_media(archive: Archive) -> dict[str, tuple[set[int], str]]:
    """sha256 -> (ids of the items showing it, media type) for every stored file."""
    found: dict[str, tuple[set[int], str]] = {}
    with archive.sessions() as s:
        for sha, item_id, kind in s.execute(
                select(MediaFile.sha256, ItemVersion.item_id, MediaFile.media_type)
                .join(VersionMedia, VersionMedia.media_file_id == MediaFile.id)
                .join(ItemVersion, ItemVersion.id == VersionMedia.version_id)
                .where(MediaFile.status == "stored")):
            found.setdefault(sha, (set(), kind))[0].add(item_id)
    return found


def test_both_packages_carry_every_stored_media_file(captured: Archive,  # noqa: F811
                                                     tmp_path: Path) -> None:
    media = stored_media(captured)
    assert len(media) == 6, media  # the sample's six attachments, downloaded over loopback
    blobs = {sha: captured.store.get(sha) for sha in media}

    register(captured)
    bag = unzip(export_open_records(captured, Scope(query="*"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "or.zip", actor="clerk")).path,
        tmp_path / "or")
    manifest = dict(reversed(line.split(maxsplit=1))
                    for line in (bag / "manifest-sha256.txt").read_text().splitlines())
    for sha, (item_ids, _kind) in media.items():
        for item_id in item_ids:
            (path,) = (bag / f"data/items/{item_id}/media").glob(f"{sha}.*")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
            assert path.read_bytes() == blobs[sha]
            assert manifest[str(path.relative_to(bag))] == sha
            # Content-addressed: the name is the hash and a plain extension, nothing else.
            stem, ext = path.name.split(".")
            assert stem == sha and ext.isalnum()
    threads = "".join(p.read_text(encoding="utf-8")
                      for p in (bag / "data/threads").glob("*.html"))
    images = [sha for sha, (_, kind) in media.items() if kind.startswith("image/")]
    assert images
    for sha in images:
        for item_id in media[sha][0]:
            assert f'<img src="../items/{item_id}/media/{sha}.png"' in threads
    pdfs = sorted((bag / "data/threads").glob("*.pdf"))
    text = "".join(pdf_text(p) for p in pdfs)
    for sha in media:
        assert sha in text  # every file is named by its hash in the PDF
    # Each image is drawn where an item showing it is printed.
    assert sum(pdf_image_count(p) for p in pdfs) >= sum(len(media[sha][0]) for sha in images)

    prod = unzip(export_production(captured, Scope(query="*"), ProductionOptions(
        bates_prefix="SPD", out=tmp_path / "prod.zip", actor="counsel")).path,
        tmp_path / "prod")
    prod_manifest = dict(reversed(line.split("  ", 1))
                         for line in (prod / "MANIFEST-SHA256.txt").read_text().splitlines())
    rows = list(read_dat(next(prod.glob("*.dat"))))
    listed: dict[str, str] = {}
    for row in rows:
        item_id = json.loads((prod / row["NATIVEPATH"].replace("\\", "/")).read_bytes())[
            "item_id"]
        paths = [p.replace("\\", "/") for p in row["MEDIAPATHS"].split("; ") if p]
        for rel in paths:
            sha = hashlib.sha256((prod / rel).read_bytes()).hexdigest()
            assert Path(rel).stem == sha and prod_manifest[rel] == sha
            assert rel.startswith(row["NATIVEPATH"].replace("\\", "/").removesuffix(".json"))
            listed[sha] = rel
        assert {Path(p).stem for p in paths} == {
            sha for sha, (ids, _) in media.items() if item_id in ids}
    assert set(listed) == set(media)
    prod_pdfs = sorted((prod / "IMAGES").rglob("*.pdf"))
    prod_pdf = "".join(pdf_text(p) for p in prod_pdfs)
    assert sum(pdf_image_count(p) for p in prod_pdfs) >= sum(len(media[sha][0])
                                                             for sha in images)
    for sha in media:
        assert sha in prod_pdf



def test_an_item_withheld_whole_takes_no_media_into_the_package(captured: Archive,  # noqa: F811
                                                                tmp_path: Path) -> None:
    media = stored_media(captured)
    withheld = min(item for ids, _ in media.values() for item in ids)
    register(captured)
    bag = unzip(export_open_records(captured, Scope(query="*"), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "or.zip", actor="clerk",
        redactor=Redactor(items=parse_item_redactions([f"{withheld}:K.S.A. 45-221(a)(10)"])),
    )).path, tmp_path / "or")
    assert not list((bag / f"data/items/{withheld}").glob("media/*"))
    # The others still carry theirs.
    others = {item for ids, _ in media.values() for item in ids} - {withheld}
    assert all(list((bag / f"data/items/{item}").glob("media/*")) for item in others)
