"""Verify's walk over pack files: every record found whatever the read size and the chunks asked
for, records cut by a read's end read on, and damage (a payload, a length, a cut-short pack)
reported for exactly the blob it hit, with nothing raised and nothing else failed."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from archiver.blobs.interface import BlobTally
from archiver.blobs.local import LocalBlobStore
from archiver.blobs.pack_format import HEAD, scan_pack
from archiver.blobs.pack_walk import PackWalk
from archiver.blobs.packs import PACK_BELOW
from tests.support.packs import damage_record_length, flip_stored_byte


def _store(tmp_path: Path, count: int = 600) -> tuple[LocalBlobStore, dict[str, int]]:
    """A store of ``count`` blobs of mixed sizes in several packs of about 0.5 MB each."""
    rng = random.Random(7)
    blobs = [rng.randbytes(rng.choice((40, 300, 1500, 6000))) for _ in range(count)]
    store = LocalBlobStore(tmp_path / "blobs", pack_below=PACK_BELOW)
    for at in range(0, count, 200):
        store.put_many(blobs[at:at + 200], media_type="application/json")
    return store, {hashlib.sha256(b).hexdigest(): len(b) for b in blobs}


def _packs(store: LocalBlobStore) -> list[Path]:
    return sorted(store.packs.folder.glob("*.pack"))


def _walk(store: LocalBlobStore, truth: dict[str, int], chunk: int,
          read_min: int) -> tuple[dict[str, int], dict[str, tuple[str, int]]]:
    walk = PackWalk(_packs(store), read_min=read_min)
    good: dict[str, int] = {}
    wrong: dict[str, tuple[str, int]] = {}
    ordered = sorted(truth)
    for at in range(0, len(ordered), chunk):
        part = ordered[at:at + chunk]
        met = walk.walk_to(part[-1])
        # Each call meets exactly the records after the last call's hash, up to its own.
        assert set(met.good) | set(met.wrong) <= set(part)
        good.update(met.good)
        wrong.update(met.wrong)
    return good, wrong


@pytest.mark.parametrize("read_min", [64, 1000, 4096, 256 * 1024])
@pytest.mark.parametrize("chunk", [1, 7, 100, 600])
def test_every_record_is_met_whatever_the_read_size_and_the_chunks(
        tmp_path: Path, read_min: int, chunk: int) -> None:
    store, truth = _store(tmp_path)
    assert len(_packs(store)) >= 3
    assert max(p.stat().st_size for p in _packs(store)) > 256 * 1024  # reads end mid-record
    good, wrong = _walk(store, truth, chunk, read_min)
    assert good == truth
    assert wrong == {}


def test_a_damaged_payload_is_filed_as_wrong_and_the_walk_goes_on(tmp_path: Path) -> None:
    store, truth = _store(tmp_path)
    victim = sorted(truth)[300]
    flip_stored_byte(store, victim)
    good, wrong = _walk(store, truth, 100, 1000)
    assert set(wrong) == {victim}
    assert wrong[victim][1] == truth[victim] and wrong[victim][0] != victim
    assert good == {raw: size for raw, size in truth.items() if raw != victim}


def _record_offset(store: LocalBlobStore, sha256: str) -> tuple[Path, int]:
    where = store.packs.locate(sha256)
    assert where is not None
    name, record = where
    return store.packs.folder / name, record.start - HEAD


def test_a_pack_cut_short_stops_its_walk_and_verify_names_what_was_cut(tmp_path: Path) -> None:
    store, truth = _store(tmp_path)
    victim = sorted(truth)[250]
    path, start = _record_offset(store, victim)
    lost = _records_from(path, start)  # the victim and every record after it in its pack
    assert victim in lost and len(lost) > 1
    os.chmod(path, 0o644)
    with open(path, "r+b") as pack:
        pack.truncate(start + HEAD + truth[victim] // 2)
    good, wrong = _walk(store, truth, 100, 1000)
    assert wrong == {}
    assert good == {raw: size for raw, size in truth.items() if raw not in lost}
    failed = list(store.check_many(
        sorted(truth.items()), BlobTally()))
    assert [check.sha256 for check, _ in failed] == sorted(lost)
    assert all("cut short" in str(check.error) for check, _ in failed)


def _records_from(path: Path, offset: int) -> set[str]:
    """The hashes of the records of the pack ``path`` that start at or after ``offset``."""
    return {record.sha256 for record in scan_pack(path.read_bytes(), path.name)
            if record.record_start >= offset}


@pytest.mark.parametrize("change", [9, -9])
def test_a_damaged_record_length_is_reported_for_that_blob_alone(tmp_path: Path,
                                                                 change: int) -> None:
    store, truth = _store(tmp_path)
    victim = sorted(truth)[123]
    damage_record_length(store, victim, change)
    good, _ = _walk(store, truth, 100, 1000)
    assert victim not in good  # the walk loses its place in that pack from here on
    failed = list(store.check_many(
        sorted(truth.items()), BlobTally()))
    assert [check.sha256 for check, _ in failed] == [victim]
    check, size = failed[0]
    assert check.digest == victim and size == truth[victim]
    assert "names another hash or length" in str(check.error)
