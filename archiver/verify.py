"""``archiver verify``: prove that nothing in the archive was altered.

Three independent checks, each reporting every damaged record by id:

* every blob is re-read from the store and re-hashed (content addressing: its name is its hash);
* every item's versions are re-hashed and their chain re-walked (sequence numbers without gaps,
  each ``prev_sha256`` equal to the version before, the item's chain head equal to the last);
* the audit log's hash chain is re-walked against its head row.

Everything streams, so memory does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from archiver.archive import Archive
from archiver.audit import AuditProblem, check_chain
from archiver.canonical import hash_record
from archiver.errors import BlobNotFound, StoreError
from archiver.models import Blob, Item, ItemVersion
from archiver.retention.tombstones import (
    check_destroyed_version,
    check_tombstones,
    destroyed_chains,
)
from archiver.versions import version_payload

CHUNK = 1 << 20
HASH_THREADS = 4


@dataclass(frozen=True)
class Problem:
    """One damaged record: what it is, its id, and what is wrong."""

    kind: str  # blob | version | item | tombstone | audit
    id: str
    reason: str


@dataclass
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    blobs: int = 0
    bytes_hashed: int = 0
    items: int = 0
    versions: int = 0
    audit_events: int = 0
    seconds: float = 0.0
    blob_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


Progress = Callable[[str, int], None]


def verify_archive(archive: Archive, progress: Progress | None = None) -> VerifyReport:
    """Run every check and return the report (it never stops at the first problem)."""
    started = time.perf_counter()
    report = VerifyReport()
    _check_blobs(archive, report, progress)
    _check_versions(archive, report, progress)
    _check_blob_references(archive, report)
    _check_audit(archive, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _check_blobs(archive: Archive, report: VerifyReport, progress: Progress | None) -> None:
    """Re-hash every recorded blob. Reading is I/O (and hashlib frees the GIL on large
    buffers), so a few threads keep the disk or the S3 connection busy; results are
    handled in order, so the report is the same as a sequential walk."""
    started = time.perf_counter()
    with archive.sessions() as s, ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        rows = s.execute(
            select(Blob.sha256, Blob.size).order_by(Blob.sha256).execution_options(yield_per=2000)
        )
        while batch := rows.fetchmany(2000):
            for (sha, size), outcome in zip(
                batch, pool.map(lambda row: _try_hash(archive, row[0]), batch), strict=True
            ):
                report.blobs += 1
                if isinstance(outcome, str):
                    report.problems.append(Problem("blob", sha, outcome))
                    continue
                digest, length = outcome
                report.bytes_hashed += length
                if digest != sha:
                    report.problems.append(Problem("blob", sha, f"content hashes to {digest}"))
                elif length != size:
                    report.problems.append(
                        Problem("blob", sha, f"size {length}, recorded {size}")
                    )
            if progress:
                progress("blobs", len(batch))
    report.blob_seconds = round(time.perf_counter() - started, 3)


def _try_hash(archive: Archive, sha: str) -> tuple[str, int] | str:
    """The blob's hash and length, or why it could not be read."""
    try:
        return _hash_blob(archive, sha)
    except BlobNotFound:
        return "missing from the blob store"
    except StoreError as exc:
        return f"unreadable: {exc}"


def _hash_blob(archive: Archive, sha: str) -> tuple[str, int]:
    h = hashlib.sha256()
    length = 0
    with archive.store.open(sha) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            length += len(chunk)
    return h.hexdigest(), length


def _versions_by_item(archive: Archive) -> Iterator[tuple[int, list[ItemVersion]]]:
    with archive.sessions() as s:
        rows = s.scalars(
            select(ItemVersion)
            .order_by(ItemVersion.item_id, ItemVersion.seq)
            .execution_options(yield_per=5000)
        )
        current: list[ItemVersion] = []
        for v in rows:
            if current and current[0].item_id != v.item_id:
                yield current[0].item_id, current
                current = []
            current.append(v)
        if current:
            yield current[0].item_id, current


def _check_versions(archive: Archive, report: VerifyReport, progress: Progress | None) -> None:
    """Merge-join items and their versions, both streamed in id order."""
    versions = _versions_by_item(archive)
    pending = next(versions, None)
    with archive.sessions() as s:
        # Purged items: destroyed versions are checked against their tombstone (see
        # archiver.retention.tombstones), and every tombstone's own hash is re-checked.
        destroyed = destroyed_chains(s)
        for tombstone_id, reason in check_tombstones(s):
            report.problems.append(Problem("tombstone", str(tombstone_id), reason))
        items = s.execute(
            select(Item.id, Item.current_seq, Item.current_sha256)
            .order_by(Item.id)
            .execution_options(yield_per=5000)
        )
        for item_id, current_seq, current_sha in items:
            report.items += 1
            while pending is not None and pending[0] < item_id:
                report.problems.append(
                    Problem("version", str(pending[1][0].id), "version of an unknown item")
                )
                pending = next(versions, None)
            chain: list[ItemVersion] = []
            if pending is not None and pending[0] == item_id:
                chain = pending[1]
                pending = next(versions, None)
            prev: str | None = None
            expected_seq = 1
            for v in chain:
                report.versions += 1
                if v.seq != expected_seq:
                    report.problems.append(Problem(
                        "version", str(v.id),
                        f"item {item_id}: version {expected_seq} is missing (found {v.seq})",
                    ))
                if v.prev_sha256 != prev:
                    report.problems.append(Problem(
                        "version", str(v.id),
                        f"item {item_id} v{v.seq}: chain broken (previous hash differs)",
                    ))
                tomb = destroyed.get(item_id)
                if tomb is not None and v.seq <= tomb.last_seq:
                    why = check_destroyed_version(v, tomb)
                    if why is not None:
                        report.problems.append(Problem("version", str(v.id), why))
                elif hash_record(version_payload(v)) != v.sha256:
                    report.problems.append(Problem(
                        "version", str(v.id), f"item {item_id} v{v.seq}: hash mismatch (altered)"
                    ))
                prev = v.sha256
                expected_seq = v.seq + 1
            if not chain:
                report.problems.append(Problem("item", str(item_id), "has no versions"))
            elif chain[-1].seq != current_seq or chain[-1].sha256 != current_sha:
                report.problems.append(Problem(
                    "item", str(item_id),
                    f"chain head is v{current_seq} but the last stored version is "
                    f"v{chain[-1].seq}: versions were deleted or altered",
                ))
            if progress:
                progress("items", 1)
        while pending is not None:
            report.problems.append(
                Problem("version", str(pending[1][0].id), "version of an unknown item")
            )
            pending = next(versions, None)


def _check_blob_references(archive: Archive, report: VerifyReport) -> None:
    """Every blob a version names must be recorded (the blob check then proves its content)."""
    with archive.sessions() as s:
        for column in (ItemVersion.raw_sha256, ItemVersion.evidence_sha256):
            rows = s.execute(
                select(ItemVersion.id, column)
                .outerjoin(Blob, Blob.sha256 == column)
                .where(column.is_not(None), Blob.sha256.is_(None))
                .order_by(ItemVersion.id)
            )
            for version_id, sha in rows:
                report.problems.append(Problem(
                    "version", str(version_id), f"refers to blob {sha}, which is not recorded"
                ))


def _check_audit(archive: Archive, report: VerifyReport) -> None:
    with archive.sessions() as s:
        for entry in check_chain(s):
            if isinstance(entry, AuditProblem):
                ident = "head" if entry.event_id is None else str(entry.event_id)
                report.problems.append(Problem("audit", ident, entry.reason))
            else:
                report.audit_events = entry
