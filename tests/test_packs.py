"""Small blobs in pack files: round trip, readable from the documented layout, damage found per
blob, deletes that leave no destroyed bytes, killed rewrites and migrations that resume, and
``archiver init`` upgrading a folder of single files in place."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.blobs.local import LocalBlobStore
from archiver.blobs.packs import INDEX, PACK_BELOW
from archiver.config import Settings
from archiver.errors import BlobLocked, StoreError
from archiver.initialise import initialise
from archiver.retention.purge import purge
from archiver.store.models import Blob
from archiver.verify import verify_archive
from tests.support.packs import flip_stored_byte, read_pack, store_and_hashes, unpack_to_file
from tests.support.retention import Captured, captured, set_today  # noqa: F401
from tests.test_purge import LATE

ROOT = Path(__file__).resolve().parent.parent


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payloads(n: int, tag: str = "p") -> list[bytes]:
    return [f'{{"id": "{tag}{i}", "message": "road closed at {i} Main St"}}'.encode()
            for i in range(n)]


def stored_bytes(root: Path) -> bytes:
    """Every byte of every file under the store's folder, for grepping."""
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def packed_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", pack_below=PACK_BELOW)


def test_round_trip_and_packs_any_reader_of_the_layout_checks(tmp_path: Path) -> None:
    store = packed_store(tmp_path)
    small = payloads(50)
    big = os.urandom(PACK_BELOW)  # at the threshold: a single file
    hashes = store.put_many([*small, big, small[0]], media_type="application/json")
    assert hashes == [sha(b) for b in [*small, big, small[0]]]
    assert store.put(b"one more") == sha(b"one more")
    (tmp_path / "f").write_bytes(b"from a file")
    assert store.put_file(tmp_path / "f") == (sha(b"from a file"), 11)
    for data in [*small, big, b"one more", b"from a file"]:
        assert store.exists(sha(data)) and store.get(sha(data)) == data
        with store.open(sha(data)) as fh:
            assert fh.read() == data
    assert store.path_for(sha(big)).is_file() and not store.path_for(sha(small[1])).exists()
    expected = sorted({sha(b) for b in [*small, big, b"one more", b"from a file"]})
    assert list(store.iter_hashes()) == expected
    checks = list(store.hash_many([*expected, "0" * 64, "../x"]))
    assert [c.digest for c in checks[:-2]] == expected
    assert checks[-2].error is not None and checks[-1].error is not None
    # A reader written from the documented byte layout alone re-checks every record.
    seen = {}
    for pack in sorted(store.packs.folder.glob("*.pack")):
        seen.update(read_pack(pack))
    assert seen == {sha(b): (b, "application/json") for b in small} | {
        sha(b): (b, None) for b in [b"one more", b"from a file"]}


def test_delete_rewrites_packs_and_leaves_no_destroyed_bytes(tmp_path: Path) -> None:
    store = packed_store(tmp_path)
    doomed, kept = payloads(30, "doomed"), payloads(30, "kept")
    mixed = [b for pair in zip(doomed, kept, strict=True) for b in pair]
    store.put_many(mixed)
    store.put_many(doomed[:5])  # already packed: not written twice
    held = kept[0]
    store.set_legal_hold(sha(held), True)
    outcome = store.delete_many([sha(b) for b in doomed] + [sha(held)])
    assert all(outcome[sha(b)] is None for b in doomed)
    assert isinstance(outcome[sha(held)], BlobLocked)
    everything = stored_bytes(store.root)
    for data in doomed:
        assert data not in everything and not store.exists(sha(data))
    for data in kept:
        assert store.get(sha(data)) == data
    assert all(c.digest == c.sha256 for c in store.hash_many([sha(b) for b in kept]))
    assert len(list(store.packs.folder.glob("*.pack"))) == 1  # the old pack is gone


def test_flipped_byte_in_a_pack_is_reported_for_exactly_that_blob(
        captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    assert isinstance(archive.store, LocalBlobStore)
    with archive.sessions() as s:
        shas = list(s.scalars(select(Blob.sha256).order_by(Blob.sha256)))
    packed = [h for h in shas if archive.store.packs.locate(h) is not None]
    assert len(packed) > 3
    victim = packed[len(packed) // 2]
    flip_stored_byte(archive.store, victim)
    report = verify_archive(archive)
    assert [(p.kind, p.id) for p in report.problems] == [("blob", victim)]
    assert report.problems[0].reason.startswith("content hashes to ")


def test_purge_leaves_no_destroyed_bytes_in_any_pack(captured: Captured,  # noqa: F811
                                                    tmp_path: Path) -> None:
    archive = captured.archive
    assert isinstance(archive.store, LocalBlobStore)
    with archive.sessions() as s:
        before = {h: archive.store.get(h) for h in s.scalars(select(Blob.sha256))}
    set_today(archive, LATE)
    result = purge(archive, LATE, approved_by="R. Manager", out_dir=tmp_path / "out", batch=7)
    assert result.destroyed > 0 and result.blobs_deleted > 0
    with archive.sessions() as s:
        remaining = set(s.scalars(select(Blob.sha256)))
    destroyed = [data for h, data in before.items() if h not in remaining]
    assert destroyed
    everything = stored_bytes(archive.store.root)
    assert not [d for d in destroyed if len(d) > 40 and d in everything]
    for h in remaining & set(before):
        assert archive.store.get(h) == before[h]
    assert verify_archive(archive).ok


KILLED_DELETE = """
import sys
from pathlib import Path
from archiver.blobs.local import LocalBlobStore
store = LocalBlobStore(Path(sys.argv[1]), pack_below=65536)
store.delete_many(sys.argv[2:])
"""


def _kill_when(proc: subprocess.Popen[bytes], index: Path, query: str) -> bool:
    """SIGKILL ``proc`` as soon as ``query`` on the pack index returns a row; True if killed
    before it finished on its own."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(index, timeout=5) as con:
                if con.execute(query).fetchone():
                    proc.send_signal(signal.SIGKILL)
                    break
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.002)
    return proc.wait(timeout=60) == -signal.SIGKILL


def test_killed_rewrite_resumes_and_destroys_everything_it_was_asked_to(
        tmp_path: Path) -> None:
    store = packed_store(tmp_path)
    doomed, kept = payloads(150, "doomed"), payloads(150, "kept")
    for d, k in zip(doomed, kept, strict=True):  # 150 packs to rewrite, one fsync each
        store.put_many([d, k])
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DELETE, str(store.root),
                             *(sha(b) for b in doomed)], cwd=ROOT)
    killed = _kill_when(proc, store.packs.folder / INDEX,
                        "SELECT 1 FROM rewrite LIMIT 1 OFFSET 20")
    assert killed, "the rewrite finished before it could be killed"
    reopened = packed_store(tmp_path)
    assert reopened.packs.finish_rewrites() > 0
    everything = stored_bytes(store.root)
    for data in doomed:
        assert data not in everything
    for data in kept:
        assert reopened.get(sha(data)) == data
    assert len(list(reopened.packs.folder.glob("*.pack"))) == len(kept)
    # Asked again, the store finds them already gone.
    assert all(isinstance(e, Exception) for e in reopened.delete_many([sha(doomed[0])]).values())


KILLED_UPGRADE = """
import sys
from pathlib import Path
from archiver.blobs import migrate
from archiver.blobs.local import LocalBlobStore
migrate.BATCH_FILES = 500
LocalBlobStore(Path(sys.argv[1]), pack_below=65536).upgrade()
"""


def test_killed_migration_of_single_files_resumes(tmp_path: Path) -> None:
    old = LocalBlobStore(tmp_path / "blobs")  # the old layout: one file per blob
    small = payloads(3000)
    big = os.urandom(PACK_BELOW + 1)
    old.put_many([*small, big])
    before = list(old.iter_hashes())
    proc = subprocess.Popen([sys.executable, "-c", KILLED_UPGRADE, str(old.root)], cwd=ROOT)
    killed = _kill_when(proc, old.root / "packs" / INDEX, "SELECT 1 FROM pack LIMIT 1 OFFSET 1")
    assert killed, "the migration finished before it could be killed"
    store = packed_store(tmp_path)
    assert list(store.iter_hashes()) == before  # nothing lost part-way
    assert store.upgrade()["files_packed"] > 0
    assert list(store.iter_hashes()) == before
    for data in small:
        assert not store.path_for(sha(data)).exists() and store.get(sha(data)) == data
    assert store.path_for(sha(big)).is_file()
    assert all(c.digest == c.sha256 for c in store.hash_many(before))
    assert store.upgrade() == {"packs_recovered": 0, "packs_converted": 0, "files_packed": 0}


def test_init_packs_an_old_layout_archive_and_verify_passes_before_and_after(
        captured: Captured, settings: Settings) -> None:  # noqa: F811
    archive = captured.archive
    store, shas = store_and_hashes(archive)
    for h in shas:  # back to one file per blob, as an archive made before packs has
        if store.packs.locate(h) is not None:
            unpack_to_file(store, h)
    assert not list(store.packs.folder.glob("*.pack"))
    assert verify_archive(archive).ok
    initialise(settings)
    assert all(store.packs.locate(h) is not None or store.path_for(h).stat().st_size
               >= PACK_BELOW for h in shas)
    assert not [h for h in shas if store.packs.locate(h) and store.path_for(h).exists()]
    report = verify_archive(archive)
    assert report.ok, report.problems
    assert report.blobs == len(shas)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_orphan_pack_is_not_indexed(tmp_path: Path, damage: str) -> None:
    store = packed_store(tmp_path)
    store.put(b"fine")
    orphan = store.packs.folder / "pack-20260101T000000-0000000000000000.pack"
    whole = next(store.packs.folder.glob("pack-*.pack")).read_bytes()
    orphan.write_bytes(whole[:-3] if damage == "truncated" else b"not a pack\n")
    with pytest.raises(StoreError, match="pack pack-20260101T000000"):
        store.packs.recover()


CONCURRENT_WRITER = """
import sys
from pathlib import Path
from archiver.blobs.local import LocalBlobStore
store = LocalBlobStore(Path(sys.argv[1]), pack_below=65536)
tag = sys.argv[2]
shared = [f'{{"shared": {i}}}'.encode() for i in range(600)]
own = [f'{{"{tag}": {i}}}'.encode() for i in range(600)]
for at in range(0, 600, 20):
    store.put_many(shared[at:at + 20] + own[at:at + 20])
"""


def test_concurrent_writers_each_write_whole_packs(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(root), tag],
                              cwd=ROOT) for tag in ("capture", "webhook")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store = packed_store(tmp_path)
    assert store.packs.recover() == 0  # every pack was indexed by its writer
    expected = {sha(f'{{"{tag}": {i}}}'.encode())
                for tag in ("shared", "capture", "webhook") for i in range(600)}
    assert set(store.iter_hashes()) == expected
    assert all(c.digest == c.sha256 for c in store.hash_many(sorted(expected)))
    for pack in store.packs.folder.glob("*.pack"):
        assert read_pack(pack)
    # A blob both writers packed at once is in two packs; deleting it removes both copies.
    gone = b'{"shared": 7}'
    assert store.delete_many([sha(gone)]) == {sha(gone): None}
    assert gone not in stored_bytes(root)


def test_a_damaged_pack_still_loses_its_doomed_blobs_when_nothing_in_it_is_kept(
        tmp_path: Path) -> None:
    store = packed_store(tmp_path)
    doomed, kept = payloads(5, "doomed"), payloads(5, "kept")
    store.put_many(doomed)
    store.put_many(kept)
    for batch in (doomed, kept):
        name, _ = store.packs.locate(sha(batch[0])) or ("", None)
        path = store.packs.folder / name
        path.chmod(0o644)
        path.write_bytes(path.read_bytes()[:-3])  # cut short: it no longer scans
    assert store.delete_many([sha(b) for b in doomed]) == {sha(b): None for b in doomed}
    assert not [b for b in doomed if b in stored_bytes(store.root)]
    with pytest.raises(StoreError, match="cannot rewrite pack"):  # the rest cannot be copied
        store.delete_many([sha(kept[0])])
