"""Rewrites of packs: how :class:`archiver.blobs.packs.PackFolder` deletes blobs and converts
format 1 packs, resumably.

A rewrite copies a pack's surviving records to a new pack (format 2), switches the index to it
and removes the old pack with every version of it. Its journal (``rewrite`` and ``doomed`` rows
in the index, and for a backend whose index is only a cache also an entry beside the packs:
:meth:`PackBackend.journal_put`) is committed before any pack is touched, so :func:`finish`
completes a rewrite a killed run left, even in a process that has never seen the cache it was
journalled in. Which rows a pack has comes from the pack's own record headers: the index keeps no
by-pack order, to stay small. The caller holds the backend's lock around every function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archiver.blobs.pack_backend import Journal
from archiver.blobs.pack_format import Record, copy_records, is_v2, scan_pack
from archiver.errors import BlobLocked, StoreError

if TYPE_CHECKING:
    from archiver.blobs.packs import PackFolder


def delete(folder: PackFolder, hashes: Sequence[str]) -> dict[str, BlobLocked | None]:
    """See :meth:`PackFolder.delete`."""
    finish(folder)
    located = folder.all_locations(hashes)
    if not located:
        return {}
    refused: dict[str, BlobLocked | None] = {}
    for name in sorted({n for _, _, n in located}):
        reason = folder.backend.refusal(name)
        if reason is not None:
            refused.update({sha: BlobLocked(f"{reason}; blob {sha} not deleted")
                            for sha, _, n in located if n == name})
    located = [loc for loc in located if loc[0] not in refused]
    packs = {(p, n) for _, p, n in located}
    _journal(folder, {pack_id: Journal(name, folder.new_name(), tuple(
        sorted(sha for sha, p, _ in located if p == pack_id))) for pack_id, name in packs})
    finish(folder)
    return {**{sha: None for sha, _, _ in located}, **refused}


def convert(folder: PackFolder) -> int:
    """See :meth:`PackFolder.convert`."""
    finish(folder)
    old = [(pack_id, name) for pack_id, name in folder.db().execute(
        "SELECT id, name FROM pack") if not is_v2(name)]
    if not old:
        return 0
    _journal(folder, {pack_id: Journal(name, folder.new_name(), ()) for pack_id, name in old})
    finish(folder)
    return len(old)


def _journal(folder: PackFolder, jobs: dict[int, Journal]) -> None:
    """Journal rewrites of the packs ``jobs`` (by pack id): beside the packs, then the index."""
    folder.backend.journal_put(list(jobs.values()))
    with folder.transaction() as con:
        con.executemany("INSERT OR IGNORE INTO doomed (sha, pack) VALUES (?, ?)",
                        [(bytes.fromhex(sha), pack_id)
                         for pack_id, job in jobs.items() for sha in job.doomed])
        con.executemany(
            "INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
            [(pack_id, job.old_name, job.new_name) for pack_id, job in jobs.items()])


def _import_journal(folder: PackFolder) -> None:
    """Take into the index the journal entries kept beside the packs that it lacks (the cache
    was lost, or another process journalled them)."""
    for job in folder.backend.journal_list():
        con = folder.db()
        if con.execute("SELECT 1 FROM rewrite WHERE old_name = ?", (job.old_name,)).fetchone():
            continue
        row = con.execute("SELECT id FROM pack WHERE name = ?", (job.old_name,)).fetchone()
        if row is None and job.old_name in folder.backend.names():
            folder.index_pack(job.old_name)
            row = con.execute("SELECT id FROM pack WHERE name = ?", (job.old_name,)).fetchone()
        with folder.transaction() as w:
            if row is None:  # the old pack is gone already: only the entry is left
                w.execute("INSERT INTO pack (name) VALUES (?)", (job.old_name,))
                row = w.execute("SELECT id FROM pack WHERE name = ?", (job.old_name,)).fetchone()
            w.executemany("INSERT OR IGNORE INTO doomed (sha, pack) VALUES (?, ?)",
                          [(bytes.fromhex(sha), row[0]) for sha in job.doomed])
            w.execute("INSERT OR IGNORE INTO rewrite (pack, old_name, new_name) VALUES (?,?,?)",
                      (row[0], job.old_name, job.new_name))


def finish(folder: PackFolder) -> int:
    """Complete every journalled rewrite (a killed run's included); returns how many."""
    _import_journal(folder)
    if not folder.exists_index():
        return 0
    con = folder.db()
    jobs = con.execute("SELECT pack, old_name, new_name FROM rewrite ORDER BY pack").fetchall()
    for pack_id, old_name, new_name in jobs:
        still = con.execute("SELECT 1 FROM pack WHERE id = ?", (pack_id,)).fetchone()
        if still is not None:
            _rewrite(folder, pack_id, old_name, new_name)
        # Switched (now or by a killed run): the old pack's bytes go, then its journal.
        folder.backend.remove(old_name)
        with folder.transaction() as w:
            w.execute("DELETE FROM rewrite WHERE pack = ?", (pack_id,))
        folder.backend.journal_drop(old_name)
    return len(jobs)


def _rewrite(folder: PackFolder, pack_id: int, old_name: str, new_name: str) -> None:
    """Copy the pack's surviving records to ``new_name`` (format 2, carrying the old pack's
    holds) and switch the index to it."""
    con = folder.db()
    doomed = {sha.hex() for (sha,) in con.execute("SELECT sha FROM doomed WHERE pack = ?",
                                                  (pack_id,))}
    try:
        old = folder.backend.read_all(old_name)
        records = {rec.sha256: rec for rec in scan_pack(old, old_name)}
    except StoreError as exc:  # BlobNotFound (the pack is gone) included
        # Gone or damaged: its doomed blobs still go if nothing in it is to be kept (a scan of
        # the whole index, on this rare path only).
        listed = {sha.hex() for (sha,) in con.execute(
            "SELECT sha FROM entry WHERE pack = ?", (pack_id,))}
        if listed - doomed:
            raise StoreError(f"cannot rewrite pack {old_name} in {folder.url}: {exc}") from None
        old, records = b"", {}
        doomed |= listed
    indexed = folder.in_pack(pack_id, list(records))
    keep = [rec for sha, rec in records.items() if sha in indexed and sha not in doomed]
    moved: list[Record] = []
    if keep:
        data, moved = copy_records(old, keep, old_name)
        folder.backend.seal(new_name, data, like=old_name, new_blobs=False)
    with folder.transaction() as w:
        if moved:
            new_id, _ = folder.index_records(w, new_name, moved)
            copied = len(folder.in_pack(new_id, [rec.sha256 for rec in moved]))
            if copied != len(keep):  # never switch to a pack that lost a kept blob
                raise StoreError(f"rewriting pack {old_name}: {len(keep)} blobs to keep, "
                                 f"{copied} copied; nothing switched")
        w.executemany("DELETE FROM entry WHERE sha = ? AND pack = ?",
                      [(bytes.fromhex(sha), pack_id) for sha in {*records, *doomed}])
        w.execute("DELETE FROM doomed WHERE pack = ?", (pack_id,))
        w.execute("DELETE FROM pack WHERE id = ?", (pack_id,))
