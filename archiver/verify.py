"""``archiver verify``: prove that nothing in the archive was altered.

Three independent checks, each reporting every damaged record by id:

* every blob is re-read from the store and re-hashed (content addressing: its name is its hash);
* every item's versions are re-hashed and their chain re-walked (sequence numbers without gaps,
  each ``prev_sha256`` equal to the version before, the item's chain head equal to the last);
* the audit log's hash chain is re-walked against its head row;
* every record of every stored WARC file is read back and its payload re-hashed against the
  digest recorded when it was written (:func:`_check_warcs`);
* the search index is compared with the database (:mod:`archiver.search.index_drift`): an item the
  index lacks or holds at an older version cannot be found, one it holds after its destruction
  can, and either is reported (``index`` problems, one per kind of difference);
* every kept checkpoint still has the hash of its bytes, and its RFC 3161 token, if any, holds
  (``checkpoint`` problems);
* with ``since`` (a checkpoint file kept outside the archive), the archive must still extend it
  (:mod:`archiver.store.extends`): what the database alone cannot show, since someone who can
  write to it can re-seal every hash (``since`` problems).

Every run leaves its result in the audit log (``archive.verify``: counts, problems by kind, the
first problems), so the records desk can show when the archive was last verified and what was
found (:func:`last_verify`).

Everything streams, so memory does not grow with the archive (the index comparison keeps 16
bytes per indexed item).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from archiver.blobs.interface import BlobTally
from archiver.errors import BlobNotFound, StoreError
from archiver.retention.tombstones import (
    check_destroyed_version,
    check_tombstones,
    destroyed_chains,
)
from archiver.search.index_drift import compare_index
from archiver.store.archive import Archive
from archiver.store.audit import SYSTEM_ACTOR, AuditProblem, check_chain, record_event
from archiver.store.canonical import hash_with, sha256_hex
from archiver.store.checkpoints import LoadedCheckpoint, tsa_anchors
from archiver.store.extends import ExtendsReport, check_audit, check_items, check_purges
from archiver.store.models import (
    AuditEvent,
    Blob,
    Checkpoint,
    Item,
    ItemVersion,
    WarcFile,
    WarcRecord,
)
from archiver.store.timestamps import TimestampError, check_token
from archiver.store.versions import HASHED_FIELDS, version_payload
from archiver.store.vocabulary import WarcStatus
from archiver.store.warcs import payload_digest, read_records

PROGRESS_EVERY = 2000  # blobs per progress call
VERIFY_ACTION = "archive.verify"
# Problems named in the audit event; the rest are counted by kind (a damaged store can have
# millions, and the event is one row).
PROBLEMS_RECORDED = 50
# What the version checks read: the hashed fields, the row id and the stored hash.
_VERSION_COLUMNS = ("id", "sha256", "hash_scheme", *HASHED_FIELDS)


@dataclass(frozen=True)
class Problem:
    """One damaged record: what it is, its id, and what is wrong."""

    kind: str  # blob | version | item | tombstone | audit | index | warc | checkpoint | since
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
    warc_records: int = 0
    indexed: int = 0  # items in the search index
    checkpoints: int = 0
    seconds: float = 0.0
    blob_seconds: float = 0.0
    # With ``since``: the checkpoint's hash, items checked, destroyed by a purge since, and what
    # its RFC 3161 token says (None: no token beside the file).
    since: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


Progress = Callable[[str, int], None]


def verify_archive(archive: Archive, progress: Progress | None = None, *,
                   actor: str = SYSTEM_ACTOR, since: LoadedCheckpoint | None = None
                   ) -> VerifyReport:
    """Run every check, record the result as an ``archive.verify`` audit event naming
    ``actor``, and return the report (it never stops at the first problem). ``since``: also
    prove that the archive still extends that checkpoint."""
    started = time.perf_counter()
    report = VerifyReport()
    _check_blobs(archive, report, progress)
    _check_versions(archive, report, progress)
    _check_blob_references(archive, report)
    _check_warcs(archive, report)
    _check_audit(archive, report)
    _check_index(archive, report)
    _check_checkpoints(archive, report)
    if since is not None:
        _check_since(archive, since, report)
    report.seconds = round(time.perf_counter() - started, 3)
    _record(archive, report, actor)
    return report


def _summary(report: VerifyReport) -> dict[str, Any]:
    by_kind: dict[str, int] = {}
    for p in report.problems:
        by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
    data = {k: v for k, v in report.as_json().items() if k != "problems"}
    return {**data, "problems": len(report.problems), "problems_by_kind": by_kind,
            "first_problems": [asdict(p) for p in report.problems[:PROBLEMS_RECORDED]]}


def _record(archive: Archive, report: VerifyReport, actor: str) -> None:
    with archive.transaction() as s:
        record_event(s, action=VERIFY_ACTION, occurred_at=archive.clock(), actor=actor,
                     target_type="archive", details=_summary(report))


@dataclass(frozen=True)
class VerifyRecord:
    """A past ``verify`` run as the audit log keeps it."""

    event_id: int
    occurred_at: datetime
    actor: str
    summary: dict[str, Any]  # counts, ok, problems, problems_by_kind, first_problems

    @property
    def ok(self) -> bool:
        return bool(self.summary.get("ok"))

    @property
    def problems(self) -> int:
        return int(self.summary.get("problems", 0))

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "occurred_at": self.occurred_at.isoformat(),
                "actor": self.actor, **self.summary}


def last_verify(archive: Archive) -> VerifyRecord | None:
    """The newest recorded ``verify`` run (None: the archive was never verified)."""
    with archive.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == VERIFY_ACTION)
                         .order_by(AuditEvent.id.desc()).limit(1))
        if event is None:
            return None
        return VerifyRecord(event_id=event.id, occurred_at=event.occurred_at, actor=event.actor,
                            summary=json.loads(event.details_json))


def _check_blobs(archive: Archive, report: VerifyReport, progress: Progress | None) -> None:
    """Re-hash every recorded blob through the store's batch check (:meth:`check_many`), which
    hears of every blob in hash order and names each one that fails."""
    started = time.perf_counter()
    pending = 0

    def heard(count: int) -> None:
        nonlocal pending
        pending += count
        if progress and pending >= PROGRESS_EVERY:
            progress("blobs", pending)
            pending = 0

    tally = BlobTally(progress=heard)
    with archive.sessions() as s:
        # On the session's Core connection: plain tuples, no ORM result processing.
        rows = s.connection().execute(
            select(Blob.sha256, Blob.size).order_by(Blob.sha256).execution_options(yield_per=2000)
        )
        blobs = ((sha, size) for sha, size in rows)
        for check, size in archive.store.check_many(blobs, tally):
            if check.error is not None and check.digest is not None:
                # Its bytes were read and hashed; what holds them is damaged (a pack record's
                # header that no longer matches the index).
                reason = f"damaged record: {check.error}"
                if check.digest != check.sha256:
                    reason += f"; content hashes to {check.digest}"
                report.problems.append(Problem("blob", check.sha256, reason))
            elif check.error is not None or check.digest is None:
                report.problems.append(Problem("blob", check.sha256, _unreadable(check.error)))
            elif check.digest != check.sha256:
                report.problems.append(
                    Problem("blob", check.sha256, f"content hashes to {check.digest}"))
            else:
                report.problems.append(
                    Problem("blob", check.sha256, f"size {check.length}, recorded {size}"))
    if progress and pending:
        progress("blobs", pending)
    report.blobs += tally.blobs
    report.bytes_hashed += tally.bytes
    report.blob_seconds = round(time.perf_counter() - started, 3)


def _unreadable(error: StoreError | None) -> str:
    if isinstance(error, BlobNotFound):
        return "missing from the blob store"
    return f"unreadable: {error}"


def _versions_by_item(archive: Archive) -> Iterator[tuple[int, list[Row[Any]]]]:
    # Core rows, not ORM objects: identity-map bookkeeping for every version would cost more
    # than hashing it. A row has every column the checks read, by name.
    table = ItemVersion.__table__
    with archive.sessions() as s:
        rows = s.connection().execute(
            select(*(table.c[name] for name in _VERSION_COLUMNS))
            .order_by(ItemVersion.item_id, ItemVersion.seq)
            .execution_options(yield_per=5000)
        )
        current: list[Row[Any]] = []
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
        items = s.connection().execute(
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
            chain: list[Row[Any]] = []
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
                # A plain dict: version_payload's lookups on it are C calls, on a RowMapping
                # they are Python ones.
                elif hash_with(version_payload(dict(zip(_VERSION_COLUMNS, v, strict=True))),
                               v.hash_scheme) != v.sha256:
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
        for column in (ItemVersion.record_sha256, ItemVersion.evidence_sha256):
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


def _check_warcs(archive: Archive, report: VerifyReport) -> None:
    """Read every stored WARC file record by record: each record recorded at an offset must be
    there, with its WARC-Record-ID, and its payload must hash to the recorded digest."""
    with archive.sessions() as s:
        files = s.execute(select(WarcFile.id, WarcFile.sha256).where(
            WarcFile.status == WarcStatus.STORED, WarcFile.sha256.is_not(None))
            .order_by(WarcFile.id)).all()
    for file_id, sha in files:
        if sha is None:
            continue
        with archive.sessions() as s:
            recorded = {r.file_offset: r for r in s.execute(
                select(WarcRecord.id, WarcRecord.record_id, WarcRecord.file_offset,
                       WarcRecord.payload_digest)
                .where(WarcRecord.warc_file_id == file_id, WarcRecord.file_offset.is_not(None)))}
        for problem in _warc_problems(archive, file_id, sha, recorded, report):
            report.problems.append(problem)


def _warc_problems(archive: Archive, file_id: int, sha: str, recorded: dict[int, Any],
                   report: VerifyReport) -> Iterator[Problem]:
    found: set[int] = set()
    try:
        with archive.store.open(sha) as stream:
            for record in read_records(stream):
                want = recorded.get(record.offset)
                if want is None:
                    continue
                found.add(record.offset)
                report.warc_records += 1
                where = f"{file_id}:{want.record_id}"
                if record.header("WARC-Record-ID") != want.record_id:
                    yield Problem("warc", where, f"offset {record.offset} holds another record")
                elif want.payload_digest and \
                        payload_digest(record.payload) != want.payload_digest:
                    yield Problem("warc", where, "payload does not match its recorded digest "
                                                 f"{want.payload_digest}")
    except StoreError as exc:
        yield Problem("warc", str(file_id), _unreadable(exc))
        return
    except Exception as exc:  # noqa: BLE001 - a damaged file is a finding, not a crash
        yield Problem("warc", str(file_id), f"unreadable WARC file ({type(exc).__name__})")
    for offset in sorted(set(recorded) - found):
        yield Problem("warc", f"{file_id}:{recorded[offset].record_id}",
                      f"no record at its recorded offset {offset}")


def _check_audit(archive: Archive, report: VerifyReport) -> None:
    with archive.sessions() as s:
        for entry in check_chain(s):
            if isinstance(entry, AuditProblem):
                ident = "head" if entry.event_id is None else str(entry.event_id)
                report.problems.append(Problem("audit", ident, entry.reason))
            else:
                report.audit_events = entry


SHOWN_IDS = 10  # item ids named per kind of index difference


def _check_index(archive: Archive, report: VerifyReport) -> None:
    drift = compare_index(archive)
    report.indexed = drift.index_items
    fix = "`archiver init` or the next capture brings the index up to date"
    for kind, ids, what in (
        ("missing", drift.missing, "in the database are missing from the search index"),
        ("stale", drift.stale, "are in the search index at another version than the database's"),
        ("extra", drift.extra, "are in the search index but not (or no longer) in the database"),
    ):
        if ids:
            shown = ", ".join(str(i) for i in ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS
                                                                 else "")
            report.problems.append(Problem(
                "index", kind, f"{len(ids)} items {what} (item ids {shown}); {fix}"))
    for status, (stored, indexed) in sorted(drift.statuses.items()):
        report.problems.append(Problem(
            "index", f"status {status}",
            f"{stored} {status} items in the database, {indexed} in the search index"))


def _check_checkpoints(archive: Archive, report: VerifyReport) -> None:
    anchors = tsa_anchors(archive)
    with archive.sessions() as s:
        rows = s.execute(select(Checkpoint.id, Checkpoint.sha256, Checkpoint.document,
                                Checkpoint.tsa_token).order_by(Checkpoint.id))
        for row_id, sha, document, token in rows:
            report.checkpoints += 1
            if sha256_hex(document.encode("utf-8")) != sha:
                report.problems.append(Problem("checkpoint", str(row_id),
                                               "its document does not hash to its sha256"))
            if token is not None:
                try:
                    check_token(token, sha, anchors)
                except TimestampError as exc:
                    report.problems.append(Problem("checkpoint", str(row_id), str(exc)))


def _check_since(archive: Archive, checkpoint: LoadedCheckpoint, report: VerifyReport) -> None:
    extends = ExtendsReport()
    timestamp: dict[str, Any] | None = None
    if checkpoint.token is not None:
        try:
            info = check_token(checkpoint.token, checkpoint.sha256, tsa_anchors(archive))
            timestamp = {"gen_time": info.gen_time.isoformat(), "signer": info.signer,
                         "serial": info.serial}
        except TimestampError as exc:
            report.problems.append(Problem("since", "timestamp", str(exc)))
    with archive.sessions() as s:
        for check in (check_items(s, checkpoint, extends), check_purges(s, checkpoint, extends),
                      check_audit(s, checkpoint)):
            for d in check:
                report.problems.append(Problem("since", f"{d.kind} {d.id}", d.reason))
    report.since = {"checkpoint_sha256": checkpoint.sha256,
                    "created_at": checkpoint.document["created_at"],
                    "items": extends.items, "destroyed_since": extends.destroyed_since,
                    "timestamp": timestamp}
