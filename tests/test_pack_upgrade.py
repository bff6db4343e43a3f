"""Packs of format 1 (WARC records) in an existing store, indexed in the former schema: read as
they are, converted to format 2 by ``archiver init`` (resumable when killed), ``verify``
passing before and after; and damage to a format 2 record header reported for exactly that
blob."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from archiver.blobs.local import LocalBlobStore
from archiver.blobs.pack_format import HEAD
from archiver.blobs.packs import INDEX, PACK_BELOW
from archiver.config import Settings
from archiver.initialise import initialise
from archiver.verify import verify_archive
from tests.support.packs import read_pack, store_and_hashes, to_format_1
from tests.support.retention import Captured, captured  # noqa: F401
from tests.test_packs import _kill_when

ROOT = Path(__file__).resolve().parent.parent


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_init_converts_format_1_packs_and_verify_passes_before_and_after(
        captured: Captured, settings: Settings) -> None:  # noqa: F811
    archive = captured.archive
    store, shas = store_and_hashes(archive)
    before = {h: store.get(h) for h in shas}
    assert to_format_1(store, old_index=True) > 0
    assert not list(store.packs.folder.glob("*.pack"))
    assert {h: store.get(h) for h in shas} == before  # format 1 packs are read as they are
    assert verify_archive(archive).ok
    initialise(settings)
    assert not list(store.packs.folder.glob("*.warc"))
    converted: dict[str, tuple[bytes, str | None]] = {}
    for pack in store.packs.folder.glob("*.pack"):
        converted.update(read_pack(pack))
    assert {h: data for h, (data, _) in converted.items()} == {
        h: data for h, data in before.items() if len(data) < PACK_BELOW}
    report = verify_archive(archive)
    assert report.ok, report.problems
    assert report.blobs == len(shas)


KILLED_UPGRADE = """
import sys
from pathlib import Path
from archiver.blobs.local import LocalBlobStore
LocalBlobStore(Path(sys.argv[1]), pack_below=65536).upgrade()
"""


def test_killed_conversion_resumes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", pack_below=PACK_BELOW)
    small = [f'{{"id": {i}, "message": "road closed at {i} Main St"}}'.encode()
             for i in range(400)]
    for at in range(0, len(small), 2):  # 200 packs to convert, one fsync each
        store.put_many(small[at:at + 2], media_type="application/json")
    assert to_format_1(store) == 200
    proc = subprocess.Popen([sys.executable, "-c", KILLED_UPGRADE, str(store.root)], cwd=ROOT)
    killed = _kill_when(proc, store.packs.folder / INDEX,
                        "SELECT 1 FROM pack WHERE name LIKE '%.pack' LIMIT 1 OFFSET 20")
    assert killed, "the conversion finished before it could be killed"
    reopened = LocalBlobStore(tmp_path / "blobs", pack_below=PACK_BELOW)
    hashes = sorted(sha(b) for b in small)
    assert list(reopened.iter_hashes()) == hashes  # nothing lost part-way
    assert all(c.digest == c.sha256 and c.error is None for c in reopened.hash_many(hashes))
    reopened.upgrade()  # finishes the journalled conversions, converts the rest
    assert not list(reopened.packs.folder.glob("*.warc"))
    assert all(c.digest == c.sha256 and c.error is None for c in reopened.hash_many(hashes))
    for data in small:
        assert reopened.get(sha(data)) == data
    assert reopened.upgrade() == {"packs_recovered": 0, "packs_converted": 0, "files_packed": 0}


def test_damaged_record_header_is_reported_for_exactly_that_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", pack_below=PACK_BELOW)
    small = [f'{{"id": {i}}}'.encode() for i in range(50)]
    store.put_many(small)
    hashes = sorted(sha(b) for b in small)
    victim = hashes[20]
    where = store.packs.locate(victim)
    assert where is not None
    name, record = where
    path = store.packs.folder / name
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[record.start - HEAD + 5] ^= 0x01  # a bit of the hash the record header names
    path.write_bytes(bytes(data))
    bad = [c for c in store.hash_many(hashes) if c.error is not None or c.digest != c.sha256]
    assert [c.sha256 for c in bad] == [victim]
    assert "record header" in str(bad[0].error)
