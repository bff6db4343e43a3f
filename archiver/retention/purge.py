"""Disposition: the dry run, and the approved purge that destroys and leaves tombstones.

An approved purge is a :class:`~archiver.store.models.Disposition` with a frozen list of items
(chosen
by one set-based INSERT ... SELECT when it starts). It is never approved as of a day after
today in the agency's zone: that would destroy records before their disposition date (a dry run
may look ahead). Items are then destroyed in batches, one transaction each; a batch takes the
protection lock and re-checks holds and open requests first (something may have been held
since the list was made: it is skipped, never destroyed), and nobody can add protection until
the batch commits. After the batches, the destroyed items are taken out of the captures' WARC
files (:mod:`archiver.retention.warc_purge`), then blobs no kept version still uses are deleted
from the store
(a lock refusal is recorded, not fatal), and the certificate is written from the tombstones, so
it covers exactly what was destroyed.

A purge killed anywhere is finished by running it again: a running disposition is always
resumed (its list, not a new one), destroyed items are never touched twice, and every step after
the batches is idempotent. ``checkpoint`` is called after each step, so tests can stop it there;
inside each batch it is also called as ``("checked", batch number)`` once holds and requests are
read and before anything is destroyed, with the batch's transaction (and its locks) open.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, true, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError, BlobLocked, BlobNotFound, ConfigError
from archiver.retention import certificate as cert
from archiver.retention import transfer
from archiver.retention.assign import active_schedule
from archiver.retention.holds import held_item_ids
from archiver.retention.protection import (
    lock_protection,
    protected_by_requests,
    unscoped_requests,
)
from archiver.retention.report import RetentionReport, eligible_ids_query, retention_report
from archiver.retention.schedule import DispositionAction, Schedule, Series
from archiver.retention.tombstones import payload_from_values
from archiver.retention.warc_purge import purge_warcs
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob
from archiver.store.canonical import hash_record, iso_utc
from archiver.store.checkpoints import latest_checkpoint
from archiver.store.db import insert_ignore, table_of
from archiver.store.item_json import (
    ITEM_COLUMNS,
    ITEM_KEYS,
    ItemJson,
    item_record,
    version_record,
)
from archiver.store.models import (
    Account,
    Blob,
    DisposedBlob,
    Disposition,
    DispositionItem,
    Item,
    ItemVersion,
    Tombstone,
    UTCDateTime,
)
from archiver.store.threads import roots_of, thread_key
from archiver.store.vocabulary import BlobDisposal, DispositionItemState, DispositionStatus

BATCH = 5000  # items per transaction: each batch also costs an index commit and a sync
# Blobs per existence check and delete_many call: each check scans the versions once.
BLOB_BATCH = 5000
Checkpoint = Callable[[str, int], None]


@dataclass
class PurgeResult:
    disposition_id: int
    as_of: str
    approved_by: str
    resumed: bool
    destroyed: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    blobs_deleted: int = 0
    blobs_kept: int = 0
    blobs_locked: list[dict[str, str | None]] = field(default_factory=list)
    certificate_sha256: str | None = None
    certificate_path: str | None = None
    certificate_pdf_path: str | None = None
    transfer: dict[str, Any] | None = None
    warc: dict[str, Any] | None = None  # what the WARC files lost (archiver.retention.warc_purge)

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


def dry_run(archive: Archive, as_of: date) -> RetentionReport:
    """What an approved purge on ``as_of`` would destroy (nothing is changed)."""
    return retention_report(archive, as_of)


def purge(archive: Archive, as_of: date, *, approved_by: str, out_dir: Path | None = None,
          batch: int = BATCH, checkpoint: Checkpoint | None = None) -> PurgeResult:
    """Destroy everything eligible on ``as_of`` (or finish a purge that was cut short)."""
    if not approved_by.strip():
        raise ArchiverError("a purge needs --approved-by: the person approving the destruction")
    today = archive.clock().astimezone(archive.settings.tz).date()
    if as_of > today:
        raise ArchiverError(f"--as-of {as_of.isoformat()} is after today ({today.isoformat()} in "
                            f"{archive.settings.timezone}): an approved purge never destroys "
                            "ahead of time (a dry run, without --approve, may look ahead)")
    folder = out_dir or archive.settings.home / "dispositions"
    step = checkpoint or (lambda _name, _n: None)
    disposition_id, resumed = _start(archive, as_of, approved_by)
    with archive.sessions() as s:
        d = s.get(Disposition, disposition_id)
        assert d is not None
        schedule = active_schedule(s)
    if schedule is None or schedule.sha256 != d.schedule_sha256:
        raise ConfigError("the retention schedule changed while disposition "
                          f"{disposition_id} was running: restore it to finish the purge")
    result = PurgeResult(disposition_id, d.as_of.isoformat(), d.approved_by, resumed)
    stage = transfer.staging_dir(folder, disposition_id)
    done = 0
    after = 0  # every pending item up to here was destroyed or skipped: never scan it again
    while True:
        with archive.transaction() as s:
            ids = list(s.scalars(select(DispositionItem.item_id).where(
                DispositionItem.disposition_id == disposition_id,
                DispositionItem.item_id > after,
                DispositionItem.state == DispositionItemState.PENDING)
                .order_by(DispositionItem.item_id).limit(batch)))
            if not ids:
                break
            destroyed = _destroy_batch(archive, s, d, schedule, ids, stage,
                                       partial(step, "checked", done + 1))
        after = ids[-1]
        archive.index.delete(destroyed)
        done += 1
        step("batch", done)
    # Before the blobs: the WARC rewrite reads nothing they hold, and a held file stays whole.
    result.warc = purge_warcs(archive, disposition_id, step).as_json()
    _delete_blobs(archive, disposition_id, step)
    _finish(archive, d, schedule, folder, stage, result)
    return result


def _start(archive: Archive, as_of: date, approved_by: str) -> tuple[int, bool]:
    now = archive.clock()
    with archive.transaction() as s:
        running = s.scalar(select(Disposition)
                           .where(Disposition.status == DispositionStatus.RUNNING)
                           .order_by(Disposition.id).with_for_update())
        if running is not None:
            record_event(s, action="retention.purge.resume", occurred_at=now, actor=approved_by,
                         target_type="disposition", target_id=running.id,
                         details={"as_of": running.as_of.isoformat(),
                                  "approved_by": running.approved_by})
            return running.id, True
        schedule = active_schedule(s)
        if schedule is None:
            raise ConfigError("no retention schedule is loaded: run 'archiver init'")
        blocking = unscoped_requests(s)
        if blocking:
            raise ArchiverError("disposition blocked: " + blocking[0].reason + (
                f" (and {len(blocking) - 1} more such requests)" if len(blocking) > 1 else ""))
        d = Disposition(as_of=as_of, approved_by=approved_by, started_at=now,
                        status=DispositionStatus.RUNNING,
                        item_count=0, schedule_sha256=schedule.sha256)
        s.add(d)
        s.flush()
        chosen = eligible_ids_query(schedule, as_of).subquery()
        s.execute(insert(DispositionItem).from_select(
            ["disposition_id", "item_id", "state"],
            select(literal(d.id), chosen.c.id, literal(DispositionItemState.PENDING))))
        d.item_count = s.scalar(select(func.count()).select_from(DispositionItem).where(
            DispositionItem.disposition_id == d.id)) or 0
        record_event(s, action="retention.purge.start", occurred_at=now, actor=approved_by,
                     target_type="disposition", target_id=d.id,
                     details={"as_of": as_of.isoformat(), "approved_by": approved_by,
                              "planned_items": d.item_count, "schedule": schedule.name,
                              "schedule_sha256": schedule.sha256})
        return d.id, False


_ITEM_COLUMNS = (*ITEM_COLUMNS, Item.current_sha256)
_VERSION_COLUMNS = tuple(c for c in ItemVersion.__table__.c)
# All a tombstone needs of a version; the full row only for a transfer package.
_HASH_COLUMNS = (ItemVersion.item_id, ItemVersion.seq, ItemVersion.sha256,
                 ItemVersion.record_sha256, ItemVersion.evidence_sha256)


def _destroy_batch(archive: Archive, s: Session, d: Disposition, schedule: Schedule,
                   ids: list[int], stage: Path, checked: Callable[[], None]) -> list[int]:
    now = archive.clock()
    # Lock first, read protection after: a hold or request made from here on waits for this
    # batch to commit. The item rows are locked before reading too, so a capture still adding
    # a hold link to one of them (it holds that row) is committed and seen.
    lock_protection(s, f"purge {d.id}", now)
    rows = {i.id: i for i in s.execute(select(*_ITEM_COLUMNS).where(Item.id.in_(ids))
                                       .with_for_update())}
    blocking = unscoped_requests(s)
    held = held_item_ids(s, ids)
    requested = set(ids) if blocking else protected_by_requests(s, ids)
    checked()
    request_reason = (f"blocked: {blocking[0].reason}" if blocking
                      else "in an open records request")
    for reason, skipped in (("under a legal hold", held),
                            (request_reason, requested - held)):
        if skipped:
            s.execute(update(DispositionItem).where(
                DispositionItem.disposition_id == d.id,
                DispositionItem.item_id.in_(sorted(skipped)))
                .values(state=DispositionItemState.SKIPPED, reason=reason))
    go = [i for i in ids if i not in held and i not in requested]
    if not go:
        return []
    # Plain rows, not ORM objects: a batch reads thousands of items and versions.
    items = {i: rows[i] for i in go}
    accounts = {a.id: a for a in s.execute(select(Account.id, Account.platform, Account.handle)
                                           .where(Account.id.in_({i.account_id
                                                                  for i in items.values()})))}
    transferring = any(_series(schedule, i).action == DispositionAction.TRANSFER
                       for i in items.values())
    versions: dict[int, list[Any]] = defaultdict(list)
    for v in s.execute(select(*(_VERSION_COLUMNS if transferring else _HASH_COLUMNS))
                       .where(ItemVersion.item_id.in_(go))
                       .order_by(ItemVersion.item_id, ItemVersion.seq)):
        versions[v.item_id].append(v)
    if transferring:
        _write_transfer(archive, s, schedule, items, accounts, versions, stage)
    tombstones: list[dict[str, Any]] = []
    for item_id in go:
        item = items[item_id]
        series = _series(schedule, item)
        # A version without a blob adds nothing: only the blob references are listed.
        hashes = sorted({h for v in versions[item_id] for h in (v.record_sha256, v.evidence_sha256)
                         if h})
        version_hashes = [{"seq": v.seq, "sha256": v.sha256} for v in versions[item_id]]
        tomb = dict(
            item_id=item.id, disposition_id=d.id, account_id=item.account_id,
            platform=accounts[item.account_id].platform, external_id=item.external_id,
            kind=item.kind, series_code=series.code,
            action=series.action or DispositionAction.DESTROY,
            authority=" ".join(filter(None, (series.authority.citation, series.authority.url))),
            published_at=item.published_at, first_captured_at=item.first_captured_at,
            last_seen_at=item.last_seen_at,
            disposition_date=item.disposition_date or d.as_of, destroyed_at=now,
            last_seq=item.current_seq, chain_head_sha256=item.current_sha256,
            version_hashes_json=json.dumps(version_hashes), blob_hashes_json=json.dumps(hashes))
        tomb["sha256"] = hash_record(payload_from_values(tomb, version_hashes, hashes))
        tombstones.append(tomb)
    # Core statements: the ORM's bulk paths cost more per row than the database does.
    s.execute(insert(table_of(Tombstone)), tombstones)
    _record_blobs(s, d.id, go, now)
    quiet = {"synchronize_session": False}  # no ORM objects of these rows are loaded
    s.execute(update(ItemVersion).where(ItemVersion.item_id.in_(go)).values(
        text=None, author_name=None, author_id=None, url=None, media_json="[]",
        record_sha256=None, evidence_sha256=None).execution_options(**quiet))
    s.execute(update(Item).where(Item.id.in_(go)).values(
        disposed_at=now, removal_evidence_sha256=None, indexed_seq=Item.current_seq)
        .execution_options(**quiet))
    s.execute(update(DispositionItem).where(DispositionItem.disposition_id == d.id,
                                            DispositionItem.item_id.in_(go))
              .values(state=DispositionItemState.DESTROYED).execution_options(**quiet))
    return go


def _record_blobs(s: Session, disposition_id: int, go: list[int], now: datetime) -> None:
    """Add the blobs these items' versions use to the disposition's list (set-based, before the
    versions let go of them); one already listed by an earlier batch stays as it is."""
    refs = union(*(select(column.label("sha256")).where(ItemVersion.item_id.in_(go),
                                                        column.is_not(None))
                   for column in (ItemVersion.record_sha256, ItemVersion.evidence_sha256))
                 ).subquery()
    # "WHERE true": SQLite would otherwise read ON CONFLICT as the join's ON.
    rows = select(literal(disposition_id), refs.c.sha256, literal(BlobDisposal.PENDING),
                  literal(now, UTCDateTime())).where(true())
    columns = ["disposition_id", "sha256", "status", "updated_at"]
    if s.get_bind().dialect.name == "postgresql":
        s.execute(pg_insert(DisposedBlob).from_select(columns, rows).on_conflict_do_nothing())
    else:
        s.execute(sqlite_insert(DisposedBlob).from_select(columns, rows)
                  .on_conflict_do_nothing())


def _series(schedule: Schedule, item: Any) -> Series:
    return schedule.series[item.series_code or schedule.default_series]


def _write_transfer(archive: Archive, s: Session, schedule: Schedule, items: dict[int, Any],
                    accounts: dict[int, Any], versions: dict[int, list[Any]],
                    stage: Path) -> None:
    """Each transferred item in the one shape (:mod:`archiver.store.item_json`) with all its
    versions, and the blobs they name, into the transfer package."""
    chosen = [i for i in items.values()
              if schedule.series[i.series_code or schedule.default_series].action
              == DispositionAction.TRANSFER]
    if not chosen:
        return
    roots = roots_of(s, {i.id: thread_key(i.account_id, i.external_id, i.scope) for i in chosen})
    records: list[ItemJson] = []
    blobs: dict[str, bytes] = {}
    for item in chosen:
        series = schedule.series[item.series_code or schedule.default_series]
        history = [version_record(v) for v in versions[item.id]]
        record = replace(item_record(item, accounts[item.account_id], roots[item.id]),
                         series=series.code).to_json(ITEM_KEYS, current=history[-1],
                                                     versions=history)
        record["series_title"] = series.title
        record["authority"] = series.authority.citation
        records.append(record)
        for v in versions[item.id]:
            for sha in (v.record_sha256, v.evidence_sha256):
                if sha and sha not in blobs:
                    try:
                        blobs[sha] = archive.store.get(sha)
                    except BlobNotFound:
                        continue
    transfer.write_payload(stage, records, blobs)


def _still_used(s: Session, hashes: list[str]) -> set[str]:
    wanted = set(hashes)
    # One pass over the versions for both references (there is no index on them to use).
    used = {h for row in s.execute(select(ItemVersion.record_sha256, ItemVersion.evidence_sha256)
                                   .where(or_(ItemVersion.record_sha256.in_(hashes),
                                              ItemVersion.evidence_sha256.in_(hashes))))
            for h in row if h in wanted}
    used |= set(s.scalars(select(Item.removal_evidence_sha256).where(
        Item.removal_evidence_sha256.in_(hashes))))
    return used


def _delete_blobs(archive: Archive, disposition_id: int, step: Checkpoint) -> None:
    """Delete pending blobs no kept record uses, then retry once those a lock refused before."""
    for status in (BlobDisposal.PENDING, BlobDisposal.LOCKED):
        after = ""
        while True:
            with archive.sessions() as s:
                hashes = list(s.scalars(select(DisposedBlob.sha256).where(
                    DisposedBlob.disposition_id == disposition_id,
                    DisposedBlob.status == status, DisposedBlob.sha256 > after)
                    .order_by(DisposedBlob.sha256).limit(BLOB_BATCH)))
                # Checked right before this chunk's deletion, so a record kept meanwhile counts.
                used = _still_used(s, hashes) if hashes else set()
            if not hashes:
                break
            after = hashes[-1]
            _delete_some(archive, disposition_id, hashes, used)
            step("blobs", len(hashes))


def _outcome(error: Exception | None) -> tuple[BlobDisposal, str | None]:
    if error is None:
        return BlobDisposal.DELETED, None
    if isinstance(error, BlobNotFound):
        return BlobDisposal.DELETED, "already gone"
    if isinstance(error, BlobLocked):
        return BlobDisposal.LOCKED, str(error)
    raise error  # the store failed: stop, the purge resumes from here when run again


def _delete_some(archive: Archive, disposition_id: int, hashes: list[str],
                 used: set[str]) -> None:
    outcome: dict[str, tuple[BlobDisposal, str | None]] = {
        sha: (BlobDisposal.KEPT, "still used by a record that is kept")
        for sha in hashes if sha in used}
    doomed = [sha for sha in hashes if sha not in used]
    for sha, error in archive.store.delete_many(doomed).items():
        outcome[sha] = _outcome(error)
    groups: dict[tuple[BlobDisposal, str | None], list[str]] = defaultdict(list)
    for sha, result in outcome.items():
        groups[result].append(sha)
    now = archive.clock()
    with archive.transaction() as s:
        for (status, detail), shas in groups.items():
            s.execute(update(DisposedBlob).where(
                DisposedBlob.disposition_id == disposition_id, DisposedBlob.sha256.in_(shas))
                .values(status=status, detail=detail, updated_at=now)
                .execution_options(synchronize_session=False))
        gone = (groups.get((BlobDisposal.DELETED, None), [])
                + groups.get((BlobDisposal.DELETED, "already gone"), []))
        if gone:
            s.execute(delete(Blob).where(Blob.sha256.in_(gone))
                      .execution_options(synchronize_session=False))


def _finish(archive: Archive, d: Disposition, schedule: Schedule, folder: Path, stage: Path,
            result: PurgeResult) -> None:
    # Counts and the few lists come from SQL; the tombstones are streamed into the certificate
    # (at 100k items, holding them all as rows and dicts was most of the purge's memory).
    mine = DispositionItem.disposition_id == d.id
    with archive.sessions() as s:
        states = dict(s.execute(select(DispositionItem.state, func.count()).where(mine)
                                .group_by(DispositionItem.state)).all())
        skipped = s.execute(select(DispositionItem.item_id, DispositionItem.reason).where(
            mine, DispositionItem.state == DispositionItemState.SKIPPED)
            .order_by(DispositionItem.item_id)).all()
        by_series = dict(s.execute(select(Tombstone.series_code, func.count()).where(
            Tombstone.disposition_id == d.id).group_by(Tombstone.series_code)).all())
        blob_counts = dict(s.execute(select(DisposedBlob.status, func.count()).where(
            DisposedBlob.disposition_id == d.id).group_by(DisposedBlob.status)).all())
        locked = s.execute(select(DisposedBlob.sha256, DisposedBlob.detail).where(
            DisposedBlob.disposition_id == d.id, DisposedBlob.status == BlobDisposal.LOCKED)
            .order_by(DisposedBlob.sha256)).all()
        if result.resumed:
            # A run that was cut short may have destroyed a batch and died before taking it out
            # of the index. In an uninterrupted run every batch's index delete has succeeded.
            archive.index.delete(s.scalars(select(DispositionItem.item_id).where(
                mine, DispositionItem.state == DispositionItemState.DESTROYED)))
    result.destroyed = states.get(DispositionItemState.DESTROYED, 0)
    result.skipped = [{"item_id": i, "reason": r} for i, r in skipped]
    result.blobs_deleted = blob_counts.get(BlobDisposal.DELETED, 0)
    result.blobs_kept = blob_counts.get(BlobDisposal.KEPT, 0)
    result.blobs_locked = [{"sha256": h, "detail": det} for h, det in locked]
    result.transfer = transfer.finalise(
        stage, disposition_id=d.id, approved_by=d.approved_by,
        description=f"records transferred on disposition {d.id} as of {d.as_of}") or None
    now = archive.clock()
    head = _certificate_head(d, schedule, by_series, result, now)
    with archive.sessions() as s:
        latest = latest_checkpoint(s)
    # The newest checkpoint the archive kept: a witness, outside, of the chains this changed.
    head["checkpoint"] = None if latest is None else latest.as_json()
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"disposition-{d.id}-certificate.json"
    pdf_path = folder / f"disposition-{d.id}-certificate.pdf"
    partial = json_path.with_name(json_path.name + ".partial")
    # Streamed to the file (tens of MB at 100k items), then renamed: never half a certificate.
    with partial.open("wb") as fh:
        written = cert.write_certificate_json(fh, head, cert.certificate_items(archive, d.id,
                                                                               BATCH))
    partial.replace(json_path)
    sha = written.sha256
    from archiver.pdf.writer import document_info  # ReportLab is loaded only when a PDF is made

    about = document_info(archive, f"Certificate of the destruction of records under "
                          f"disposition {d.id}", at=now)
    from archiver.pdf.signing import sign_certificate

    pdf = sign_certificate(cert.certificate_pdf({**head, "items": written.first_items}, sha,
                                                about=about),
                           archive.settings, reason=f"Destruction of records, disposition {d.id}")
    pdf_path.write_bytes(pdf)
    with archive.transaction() as s:
        row = s.get(Disposition, d.id, with_for_update=True)
        assert row is not None
        stored, size = archive.store.put_file(json_path, media_type="application/json")
        if stored != sha:  # the file changed between writing and storing it
            raise ArchiverError(f"certificate {json_path} changed while it was being stored")
        insert_ignore(s, Blob, [{"sha256": sha, "size": size, "media_type": "application/json",
                                 "created_at": now}])
        pdf_sha = store_blob(s, archive.store, pdf, "application/pdf", now)
        if row.status != DispositionStatus.COMPLETED:
            row.status, row.finished_at = DispositionStatus.COMPLETED, now
            row.certificate_sha256, row.certificate_pdf_sha256 = sha, pdf_sha
            row.transfer_path = result.transfer["path"] if result.transfer else None
            record_event(s, action="retention.purge.completed", occurred_at=now,
                         actor=d.approved_by, target_type="disposition", target_id=d.id,
                         details={"certificate_sha256": sha, "certificate_pdf_sha256": pdf_sha,
                                  "certificate_path": str(json_path),
                                  "certificate_pdf_path": str(pdf_path),
                                  "destroyed": result.destroyed, "skipped": len(skipped),
                                  "blobs_deleted": result.blobs_deleted,
                                  "blobs_locked": len(result.blobs_locked),
                                  "warc": result.warc})
    result.certificate_sha256 = sha
    result.certificate_path, result.certificate_pdf_path = str(json_path), str(pdf_path)


def _certificate_head(d: Disposition, schedule: Schedule, by_series: dict[str, int],
                      result: PurgeResult, now: Any) -> dict[str, Any]:
    """Everything in the certificate but its ``items``."""
    return {
        "disposition_id": d.id, "as_of": d.as_of.isoformat(), "approved_by": d.approved_by,
        "approved_at": iso_utc(d.started_at), "completed_at": iso_utc(now),
        "schedule": schedule.name, "schedule_sha256": schedule.sha256,
        "item_count": sum(by_series.values()),
        "series": [{"code": code, "title": schedule.series[code].title,
                    "action": schedule.series[code].action,
                    "authority": schedule.series[code].authority.citation,
                    "authority_url": schedule.series[code].authority.url, "count": n}
                   for code, n in sorted(by_series.items())],
        "skipped": result.skipped,
        "blobs": {"deleted": result.blobs_deleted, "kept": result.blobs_kept,
                  "locked": result.blobs_locked},
        "transfer": result.transfer,
        "warc": result.warc,
    }
