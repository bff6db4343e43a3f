"""Capture: read an account through its connector and apply the capture rules to the archive.

The rules (part of the command line's contract):

* an unchanged item gets no new version, only ``last_seen``;
* a change of text, media, status or author makes a new version;
* a hidden item is a version with status ``hidden`` and the platform's own word kept;
* an item is removed only when a *complete* listing of its scope lacked it **and** the
  connector's direct look-up answered :class:`~archiver.connectors.records.Gone`; the answer is
  kept as an
  evidence blob. Removals are decided only after the whole read succeeded, so a failed, partial
  or rate-limited read marks nothing removed.

Crash safety: records are written in batches, each batch one transaction (blobs are written to
the content-addressed store before the transaction commits, so a committed version never points
at a missing blob). A run killed anywhere leaves whole batches only; the next run reads the
account again, finds the committed items unchanged and writes what was lost, and marks the
killed run ``interrupted``. A run stopped by an error or Ctrl-C inside the process is closed at
once (``failed`` or ``interrupted``, with the reason): no run stays ``running``.

One item never stops the others: a record is made storable first (:mod:`archiver.store.storable`:
safe text, the exact value kept in its raw blob); one that cannot be stored is left out, put on
the audit log (``capture.item_failed``) with its reason, and the run ends ``partial``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from archiver.capture.prefetch import Prefetched
from archiver.capture.results import CaptureResult, Phase, PhaseCallback, ProgressCallback
from archiver.connectors.base import Connector
from archiver.connectors.errors import ConnectorError
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemKind,
    ItemRef,
    ItemStatus,
    ListingComplete,
    ListingWindow,
    Present,
    Record,
)
from archiver.retention.assign import CaptureAssigner, needs_thread_activity
from archiver.retention.hooks import on_items_stored
from archiver.search.indexing import CHUNK as INDEX_BATCH  # index a whole commit's worth at a time
from archiver.search.indexing import catch_up_index, index_items
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob, store_blobs
from archiver.store.canonical import canonical_json, safe_text
from archiver.store.db import table_of
from archiver.store.models import Account, CaptureRun, Item, ItemVersion
from archiver.store.storable import UnstorableRecord, error_reason, storable_record
from archiver.store.versions import content_fingerprint, record_fingerprint, version_row
from archiver.store.vocabulary import RunStatus, RunTrigger

# Larger batches mean fewer commits and store syncs (each costs a disk flush); 2000 records
# of a few KB each stay small in memory.
BATCH_SIZE = 2000
JSON_MEDIA_TYPE = "application/json"
log = logging.getLogger(__name__)
# Failed items named in a run's one-line error (all of them are on the audit log).
FAILURE_EXAMPLES = 3


@dataclass(frozen=True)
class _Head:
    """An item's chain head as capture needs it (id, latest version, its hashes)."""

    id: int
    current_seq: int
    current_sha256: str
    content_sha256: str
    first_captured_at: datetime | None = None
    removed_detected_at: datetime | None = None


@dataclass
class _RunState:
    run: CaptureRun
    result: CaptureResult
    completed_scopes: list[str] = field(default_factory=list)
    window_scopes: list[str] = field(default_factory=list)
    unindexed: list[int] = field(default_factory=list)
    failure_examples: list[str] = field(default_factory=list)
    closed: bool = False


class Capture:
    """Applies the capture rules for one account. Create one per run."""

    def __init__(
        self,
        archive: Archive,
        account: Account,
        connector: Connector,
        *,
        trigger: RunTrigger = RunTrigger.MANUAL,
        progress: ProgressCallback | None = None,
        on_phase: PhaseCallback | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.archive = archive
        self.account = account
        self.connector = connector
        self.trigger = trigger
        self.progress = progress
        self.on_phase = on_phase
        self._current: tuple[Phase, int | None] | None = None
        self.batch_size = batch_size
        self.assigner = CaptureAssigner(archive.settings.tz)

    # -- the run --------------------------------------------------------------------------
    def run(self, scopes: list[str] | None = None) -> CaptureResult:
        """Read the account (or only ``scopes``), store what changed, detect removals."""
        state = self._start()
        with self._closed_on_error(state):
            return self._run(state, scopes)

    def _run(self, state: _RunState, scopes: list[str] | None) -> CaptureResult:
        batch: list[Record] = []
        self._phase(Phase.STORING)
        try:
            # The next pages are read while this batch is stored (archiver.capture.prefetch).
            with Prefetched(self.connector.read(scopes)) as events:
                for event in events:
                    if isinstance(event, ListingComplete):
                        # Used only once the whole read has succeeded and every batch is
                        # stored, so a listing's end needs no flush of its own.
                        state.completed_scopes.append(event.scope)
                        continue
                    if isinstance(event, ListingWindow):
                        state.window_scopes.append(event.scope)
                        continue
                    batch.append(event)
                    if len(batch) >= self.batch_size:
                        self._advance(self._flush(state, batch))
            self._advance(self._flush(state, batch))
        except ConnectorError as exc:
            # What was read before the failure is real and is kept; nothing is marked removed.
            self._advance(self._flush(state, batch))
            return self._finish(state, RunStatus.FAILED, self._describe(exc))
        self._detect_removals(state)
        return self._finish(state, RunStatus.SUCCEEDED, None)

    def apply(self, records: Sequence[Record], removals: Sequence[str] = ()) -> CaptureResult:
        """Store records read elsewhere (webhooks) and confirm reported removals by look-up.

        The same rules as :meth:`run`: records become versions only when something changed, and a
        reported removal changes the status only when the connector's look-up answers Gone.
        """
        state = self._start()
        with self._closed_on_error(state):
            return self._apply(state, records, removals)

    def _apply(
        self, state: _RunState, records: Sequence[Record], removals: Sequence[str]
    ) -> CaptureResult:
        batch = list(records)
        try:
            self._flush(state, batch)
            for external_id in removals:
                with self.archive.sessions() as s:
                    item_id = s.scalar(select(Item.id).where(
                        Item.account_id == self.account.id, Item.external_id == external_id))
                if item_id is not None:
                    self._confirm_removal(state, item_id)
        except ConnectorError as exc:
            return self._finish(state, RunStatus.FAILED, self._describe(exc))
        return self._finish(state, RunStatus.SUCCEEDED, None)

    def _phase(self, phase: Phase, total: int | None = None) -> None:
        self._current = (phase, total)
        if self.on_phase:
            self.on_phase(phase, total)

    def _advance(self, steps: int) -> None:
        if self.progress and steps:
            self.progress(steps)

    def _describe(self, exc: ConnectorError | str) -> str:
        return self.connector.scrub(f"account {self.account.id} ({self.account.handle}): {exc}")

    @contextmanager
    def _closed_on_error(self, state: _RunState) -> Iterator[None]:
        """Close the run (failed, or interrupted on Ctrl-C) when anything unexpected stops it,
        then let the error go on: a run never stays ``running`` after its process gave up."""
        try:
            yield
        except BaseException as exc:
            if not state.closed:
                status = (RunStatus.FAILED if isinstance(exc, Exception)
                          else RunStatus.INTERRUPTED)
                try:
                    self._finish(state, status, self._describe(f"stopped by {error_reason(exc)}"),
                                 index=False)
                except Exception:
                    # The database itself is gone: the next run marks this one interrupted.
                    log.exception("capture run %s could not be closed", state.run.id)
            raise

    def _start(self) -> _RunState:
        now = self.archive.clock()
        with self.archive.transaction() as s:
            self._close_interrupted_runs(s, now)
            run = CaptureRun(
                account_id=self.account.id, started_at=now, status=RunStatus.RUNNING,
                trigger=self.trigger, seen=0, new_items=0, new_versions=0, removed=0,
                unconfirmed=0, requests=0, retries=0, rate_limited=0,
            )
            s.add(run)
            s.flush()
            record_event(
                s, action="capture.start", occurred_at=now, target_type="account",
                target_id=self.account.id, details={"run_id": run.id, "trigger": self.trigger},
            )
        result = CaptureResult(
            run_id=run.id, account_id=self.account.id, status=RunStatus.RUNNING, started_at=now
        )
        state = _RunState(run=run, result=result)
        with self._closed_on_error(state):
            # Whatever a crashed run (of any account) stored but never indexed is indexed now.
            catch_up_index(self.archive, account_id=self.account.id)
        return state

    def _close_interrupted_runs(self, s: Session, now: datetime) -> None:
        stale = s.scalars(
            select(CaptureRun).where(
                CaptureRun.account_id == self.account.id, CaptureRun.status == RunStatus.RUNNING
            )
        ).all()
        for run in stale:
            run.status = RunStatus.INTERRUPTED
            run.finished_at = now
            run.error = "the capture process stopped before finishing (killed or crashed)"
            record_event(
                s, action="capture.interrupted", occurred_at=now, target_type="capture_run",
                target_id=run.id, details={"account_id": self.account.id},
            )

    def _finish(
        self, state: _RunState, status: RunStatus, error: str | None, *, index: bool = True
    ) -> CaptureResult:
        if index:
            self._index_pending(state)
        now = self.archive.clock()
        result = state.result
        if result.failed_items:
            summary = self._describe(
                f"{result.failed_items} item(s) could not be stored (on the audit log as "
                f"capture.item_failed), e.g. {'; '.join(state.failure_examples)}")
            status = RunStatus.PARTIAL if status == RunStatus.SUCCEEDED else status
            error = summary if error is None else f"{error}; {summary}"
        stats = self.connector.stats
        result.status = status
        result.error = error
        result.finished_at = now
        result.requests, result.retries = stats.requests, stats.retries
        result.rate_limited = stats.rate_limited
        result.notes = list(stats.notes)
        with self.archive.transaction() as s:
            run = s.get(CaptureRun, state.run.id)
            assert run is not None
            run.status = status
            run.error = error
            run.finished_at = now
            for name in ("seen", "new_items", "new_versions", "removed", "unconfirmed",
                         "requests", "retries", "rate_limited", "secrets_scrubbed"):
                setattr(run, name, getattr(result, name))
            record_event(
                s, action=f"capture.{status}", occurred_at=now, target_type="capture_run",
                target_id=run.id, details=result.as_json(),
            )
        state.closed = True
        return result

    # -- storing records ------------------------------------------------------------------
    def _flush(self, state: _RunState, batch: list[Record]) -> int:
        """Store ``batch`` (emptied) in one transaction; returns how many records it held."""
        if not batch:
            return 0
        # Last word wins; no secret gets past this point, whoever built the record.
        records = [self.connector.scrub_record(r)
                   for r in {r.external_id: r for r in batch}.values()]
        batch.clear()
        state.result.secrets_scrubbed += sum(r.secrets_scrubbed for r in records)
        storable, failed = self._storable(state, records)
        changed: list[int] = []
        with self.archive.transaction() as s:
            if storable:
                self._store_records(s, state, storable, changed)
            self._record_failures(s, state, failed)
        state.unindexed.extend(changed)
        if len(state.unindexed) >= INDEX_BATCH:
            self._index_pending(state)
        state.result.seen += len(records)
        return len(records)

    def _storable(
        self, state: _RunState, records: list[Record]
    ) -> tuple[list[Record], list[tuple[str, str]]]:
        """The records that can be stored (made safe), and (external id, reason) for the rest."""
        storable: list[Record] = []
        failed: list[tuple[str, str]] = []
        for record in records:
            try:
                safe, replaced = storable_record(record)
            except UnstorableRecord as exc:
                failed.append((record.external_id, str(exc)))
                continue
            state.result.text_replaced += replaced
            storable.append(safe)
        return storable, failed

    def _record_failures(
        self, s: Session, state: _RunState, failed: list[tuple[str, str]]
    ) -> None:
        """Every item left out goes on the audit log with its reason; the run counts them."""
        now = self.archive.clock()
        for external_id, reason in failed:
            shown = safe_text(str(external_id))
            record_event(
                s, action="capture.item_failed", occurred_at=now, target_type="capture_run",
                target_id=state.run.id,
                details={"account_id": self.account.id, "external_id": shown, "reason": reason},
            )
            state.result.failed_items += 1
            if len(state.failure_examples) < FAILURE_EXAMPLES:
                short = shown if len(shown) <= 40 else shown[:39] + "\u2026"
                state.failure_examples.append(f"{short}: {reason}")

    def _index_pending(self, state: _RunState) -> None:
        """Index what was stored since the last call. Index commits are costly, so they come in
        large batches; ``indexed_seq`` makes a batch lost to a crash get indexed next time."""
        if state.unindexed:
            resume, count = self._current, len(state.unindexed)
            self._phase(Phase.INDEXING, count)  # shown before the commit, which sits still
            index_items(self.archive, item_ids=state.unindexed)
            state.unindexed = []
            self._advance(count)
            if resume is not None:
                self._phase(*resume)

    def _store_records(
        self, s: Session, state: _RunState, records: list[Record], changed: list[int]
    ) -> None:
        """Store one batch with set-based statements: one read of the chain heads, one insert
        of new items, one of versions, one update of heads (capture's hot path). Series and
        disposition dates ride along in those rows when the schedule allows it."""
        now = self.archive.clock()
        run_id = state.run.id
        heads: dict[str, _Head] = {
            row.external_id: _Head(row.id, row.current_seq, row.current_sha256,
                                   row.content_sha256, row.first_captured_at,
                                   row.removed_detected_at)
            for row in s.execute(
                select(Item.id, Item.external_id, Item.current_seq, Item.current_sha256,
                       Item.content_sha256, Item.first_captured_at, Item.removed_detected_at)
                .where(Item.account_id == self.account.id,
                       Item.external_id.in_([r.external_id for r in records]))
            )
        }
        unchanged: list[int] = []
        pending: list[tuple[Record, str, str]] = []
        for record in records:
            fingerprint, media = record_fingerprint(record)
            head = heads.get(record.external_id)
            if head is not None and head.content_sha256 == fingerprint:
                unchanged.append(head.id)
            else:
                pending.append((record, fingerprint, media))
        if unchanged:
            s.execute(
                update(Item).where(Item.id.in_(unchanged))
                .values(last_seen_at=now, last_seen_run_id=run_id)
            )
        if not pending:
            return
        schedule = self.assigner.schedule(s)
        plan = None if schedule is None or needs_thread_activity(schedule) else schedule
        new = [record for record, _, _ in pending if record.external_id not in heads]
        if new:
            self._insert_items(s, new, heads, now, run_id)
            state.result.new_items += len(new)
        raws = [self._blob(state, canonical_json(r.raw)) for r, _, _ in pending]
        raw_hashes = store_blobs(
            s, self.archive.store, [raw for raw, _ in raws], JSON_MEDIA_TYPE, now,
        )
        versions: list[dict[str, object]] = []
        head_updates: list[dict[str, object]] = []
        for (record, fingerprint, media), raw_sha, (_, late) in zip(
                pending, raw_hashes, raws, strict=True):
            head = heads[record.external_id]
            version = version_row(
                item_id=head.id, seq=head.current_seq + 1, prev_sha256=head.current_sha256,
                capture_run_id=run_id, captured_at=now, status=record.status,
                platform_status=record.platform_status, text=record.text,
                author_name=record.author_name, author_id=record.author_id,
                created_at=record.created_at, updated_at=record.updated_at, url=record.url,
                media_json=media, raw_sha256=raw_sha, evidence_sha256=None,
                content_sha256=fingerprint, secrets_scrubbed=record.secrets_scrubbed + late,
            )
            versions.append(version)
            update_row: dict[str, object] = {
                "b_id": head.id, "current_seq": version["seq"],
                "current_sha256": version["sha256"], "content_sha256": fingerprint,
                "status": record.status, "last_seen_at": now, "last_seen_run_id": run_id,
            }
            if plan is not None:
                # A destroyed item that shows new content is a live record again.
                update_row["disposed_at"] = None
                update_row.update(self.assigner.fields(
                    plan, self.account, record.kind, published=record.created_at,
                    captured=head.first_captured_at or now, removed=head.removed_detected_at))
            head_updates.append(update_row)
        items = table_of(Item)
        s.execute(insert(table_of(ItemVersion)), versions)
        # One key set per batch (``plan`` is fixed for it), so one executemany.
        s.execute(items.update().where(items.c.id == bindparam("b_id")), head_updates)
        state.result.new_versions += len(versions)
        stored = [cast(int, u["b_id"]) for u in head_updates]  # b_id is head.id, an int
        changed.extend(stored)
        on_items_stored(s, self.archive, stored, assigned=plan is not None)

    def _blob(self, state: _RunState, data: bytes) -> tuple[bytes, int]:
        """A JSON blob as it may be stored: the last check that no secret reaches the store,
        whatever path its bytes took (what it still finds is counted)."""
        data, late = self.connector.scrubber.data(data)
        state.result.secrets_scrubbed += late
        return data, late

    def _insert_items(
        self, s: Session, records: list[Record], heads: dict[str, _Head], now: datetime,
        run_id: int,
    ) -> None:
        """Insert new items (chain heads empty until their first version) and link parents.
        Series and dates come with the head update that follows.

        A plain executemany and one read of the new ids: a RETURNING insert that must keep
        parameter order falls back to one statement per row on SQLite."""
        parents = {r.parent_external_id for r in records if r.parent_external_id}
        unknown = [p for p in parents if p not in heads]
        known = {ext: head.id for ext, head in heads.items()}
        if unknown:
            for ext, item_id in s.execute(
                select(Item.external_id, Item.id)
                .where(Item.account_id == self.account.id, Item.external_id.in_(unknown))
            ):
                known[ext] = item_id
        rows: list[dict[str, object]] = []
        for r in records:
            row: dict[str, object] = {
                "account_id": self.account.id, "external_id": r.external_id, "kind": r.kind,
                "scope": r.scope, "parent_external_id": r.parent_external_id,
                "parent_id": known.get(r.parent_external_id or ""), "status": r.status,
                "first_captured_at": now, "last_seen_at": now, "last_seen_run_id": run_id,
                "current_seq": 0, "current_sha256": "", "content_sha256": "",
            }
            rows.append(row)
        s.execute(insert(table_of(Item)), rows)
        ids: dict[str, int] = {ext: item_id for ext, item_id in s.execute(
            select(Item.external_id, Item.id)
            .where(Item.account_id == self.account.id,
                   Item.external_id.in_([r.external_id for r in records])))}
        for record in records:
            heads[record.external_id] = _Head(ids[record.external_id], 0, "", "", now, None)
            known[record.external_id] = ids[record.external_id]
        # Parents that arrived in this same batch (a new post and its new comments).
        late = [
            {"b_id": known[str(row["external_id"])],
             "parent_id": known[str(row["parent_external_id"])]}
            for row in rows
            if row["parent_id"] is None and row["parent_external_id"] in known
            and known[str(row["parent_external_id"])] != known[str(row["external_id"])]
        ]
        if late:
            items = table_of(Item)
            s.execute(items.update().where(items.c.id == bindparam("b_id")), late)

    # -- removals -------------------------------------------------------------------------
    def _detect_removals(self, state: _RunState) -> None:
        """Look up every item a complete listing lacked; record the ones confirmed gone."""
        self._index_pending(state)
        missing = self._missing(state.run.id)
        for scope in state.window_scopes:
            state.result.no_longer_listed += len(missing.get(scope, ()))
        completed = set(state.completed_scopes)
        lookups = sum(len(missing.get(scope, ())) for scope in completed)
        if lookups:
            self._phase(Phase.REMOVALS, lookups)
        for scope in state.completed_scopes:
            for item_id in missing.pop(scope, ()):
                gone_post = self._confirm_removal(state, item_id)
                self._advance(1)
                if gone_post is not None:
                    # A deleted post takes its comments with it; each is still looked up.
                    children = missing.pop(gone_post, [])
                    if children and gone_post not in completed:
                        lookups += len(children)
                        self._phase(Phase.REMOVALS, lookups)
                    for child_id in children:
                        self._confirm_removal(state, child_id)
                        self._advance(1)

    def _missing(self, run_id: int) -> dict[str, list[int]]:
        """Items of the account not seen by this run and not yet removed, by scope (one read:
        a scope per post would be a query per post)."""
        by_scope: dict[str, list[int]] = {}
        with self.archive.sessions() as s:
            seen_elsewhere = Item.last_seen_run_id.is_(None) | (Item.last_seen_run_id != run_id)
            for item_id, scope in s.execute(
                select(Item.id, Item.scope).where(
                    Item.account_id == self.account.id, Item.status != ItemStatus.REMOVED,
                    seen_elsewhere,
                ).order_by(Item.id)
            ):
                by_scope.setdefault(scope, []).append(item_id)
        return by_scope

    def _confirm_removal(self, state: _RunState, item_id: int) -> str | None:
        """Look the item up; on Gone write the removal version. Returns a removed post's id."""
        with self.archive.sessions() as s:
            item = s.get(Item, item_id)
            assert item is not None
            ref = ItemRef(item.external_id, ItemKind(item.kind), item.scope,
                          item.parent_external_id)
        answer = self.connector.lookup(ref)
        if isinstance(answer, Present):
            if answer.record is not None:
                batch = [answer.record]
                self._flush(state, batch)
            return None
        if not isinstance(answer, Gone):
            state.result.unconfirmed += 1
            return None
        now = self.archive.clock()
        with self.archive.transaction() as s:
            item = s.get(Item, item_id, with_for_update=True)
            assert item is not None
            if item.status == ItemStatus.REMOVED:
                return None
            last = s.scalars(
                select(ItemVersion).where(ItemVersion.item_id == item.id,
                                          ItemVersion.seq == item.current_seq)
            ).one()
            evidence, scrubbed = self.connector.scrub_json(answer.evidence)
            state.result.secrets_scrubbed += scrubbed
            data, late = self._blob(state, canonical_json(evidence))
            evidence_sha = store_blob(s, self.archive.store, data, JSON_MEDIA_TYPE, now)
            fingerprint = content_fingerprint(
                text=last.text, status=ItemStatus.REMOVED, platform_status=None,
                author_name=last.author_name, author_id=last.author_id, media=last.media_json,
            )
            version = version_row(
                item_id=item.id, seq=item.current_seq + 1, prev_sha256=item.current_sha256,
                capture_run_id=state.run.id, captured_at=now, status=ItemStatus.REMOVED,
                platform_status=None, text=last.text, author_name=last.author_name,
                author_id=last.author_id, created_at=last.created_at,
                updated_at=last.updated_at, url=last.url, media_json=last.media_json,
                raw_sha256=last.raw_sha256, evidence_sha256=evidence_sha,
                content_sha256=fingerprint, secrets_scrubbed=scrubbed + late,
            )
            s.execute(insert(table_of(ItemVersion)), [version])
            state.result.new_versions += 1
            item.current_seq = version["seq"]
            item.current_sha256 = version["sha256"]
            item.content_sha256 = fingerprint
            item.status = ItemStatus.REMOVED
            item.removed_detected_at = now
            item.removal_evidence_sha256 = evidence_sha
            record_event(
                s, action="item.removed", occurred_at=now, target_type="item",
                target_id=item.id, details={"run_id": state.run.id,
                                            "evidence_sha256": evidence_sha},
            )
            state.result.removed += 1
            on_items_stored(s, self.archive, [item.id])
            removed_post = item.external_id if item.scope == ROOT_SCOPE else None
        index_items(self.archive, item_ids=[item_id])
        return removed_post
