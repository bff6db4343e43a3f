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
* a story (:mod:`archiver.connectors.stories`) that left its listing once its 24 hours were over
  gets a version with platform status ``expired`` (audited ``item.expired``): expiry is not
  deletion, so it is never looked up or recorded as removed. One that left sooner is only counted
  as no longer listed.

Crash safety: records are written in batches, each batch one transaction (blobs are written to
the content-addressed store before the transaction commits, so a committed version never points
at a missing blob). A run killed anywhere leaves whole batches only; the next run reads the
account again, finds the committed items unchanged and writes what was lost, and marks the
killed run ``interrupted``. A run stopped by an error or Ctrl-C inside the process is closed at
once (``failed`` or ``interrupted``, with the reason): no run stays ``running``.

One item never stops the others: a record is made storable first (:mod:`archiver.store.storable`:
safe text, the exact value kept in its record blob); one that cannot be stored is left out, put on
the audit log (``capture.item_failed``) with its reason, and the run ends ``partial``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.capture.prefetch import Prefetched
from archiver.capture.results import CaptureResult, Phase, PhaseCallback, ProgressCallback
from archiver.capture.warc import WarcRecorder, recover_spools
from archiver.capture.writer import record_writer
from archiver.connectors.base import Connector
from archiver.connectors.errors import ConnectorError
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ListingComplete,
    ListingWindow,
    Present,
    Record,
)
from archiver.connectors.stories import EXPIRED, STORIES_SCOPE, STORY_LIFETIME
from archiver.search.indexing import CHUNK as INDEX_BATCH  # index a whole commit's worth at a time
from archiver.search.indexing import catch_up_index, index_items
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob, store_blobs
from archiver.store.canonical import canonical_json, safe_text
from archiver.store.heads import item_id_of, item_ref, lock_removable, read_heads, unseen_by_scope
from archiver.store.models import Account, CaptureRun
from archiver.store.storable import UnstorableRecord, error_reason, storable_record
from archiver.store.versions import record_fingerprint
from archiver.store.vocabulary import RunStatus, RunTrigger
from archiver.store.writer import PendingVersion, record_content

# Larger batches mean fewer commits and store syncs (each costs a disk flush); 2000 records
# of a few KB each stay small in memory.
BATCH_SIZE = 2000
JSON_MEDIA_TYPE = "application/json"
log = logging.getLogger(__name__)
# Failed items named in a run's one-line error (all of them are on the audit log).
FAILURE_EXAMPLES = 3


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
        recorder: WarcRecorder | None = None,
    ) -> None:
        self.archive = archive
        # Keeps the run's exchanges as WARC records; the one the connector was given.
        self.recorder = recorder
        self.account = account
        self.connector = connector
        self.trigger = trigger
        self.progress = progress
        self.on_phase = on_phase
        self._current: tuple[Phase, int | None] | None = None
        self.batch_size = batch_size
        # Built with every duty subscribed: each version stored is assigned, tested against
        # holds and records requests, and checked by the monitoring rules in its transaction.
        self.writer = record_writer(archive)

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
            with Prefetched(self.connector.events(scopes)) as events:
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
                    item_id = item_id_of(s, self.account.id, external_id)
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
            if self.recorder is not None:
                recover_spools(self.archive, self.account.id)
                self.recorder.begin(run.id)
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
        """Apply the rules to one batch and hand the outcome to the writer: an unchanged record
        only marks its item seen, a new or changed one becomes a version (its record as parsed
        a JSON blob, its WARC record named). One read of the chain heads; the writer's
        statements are set-based too."""
        now = self.archive.clock()
        heads = read_heads(s, self.account.id, [r.external_id for r in records])
        unchanged: list[int] = []
        pending: list[tuple[Record, str, str]] = []
        for record in records:
            fingerprint, media = record_fingerprint(record)
            head = heads.get(record.external_id)
            if head is not None and head.content_sha256 == fingerprint:
                unchanged.append(head.id)
            else:
                pending.append((record, fingerprint, media))
        if self.recorder is not None:
            self.recorder.flush(s)  # the records the versions name are on disk and recorded
        raws = [self._blob(state, canonical_json(r.raw)) for r, _, _ in pending]
        record_hashes = store_blobs(s, self.archive.store, [raw for raw, _ in raws],
                                 JSON_MEDIA_TYPE, now) if raws else []
        changes = [
            PendingVersion(record, record_content(
                record, fingerprint=fingerprint, media_json=media, record_sha256=record_sha,
                secrets_scrubbed=record.secrets_scrubbed + late),
                self._warc_row(record.source))
            for (record, fingerprint, media), record_sha, (_, late) in zip(
                pending, record_hashes, raws, strict=True)
        ]
        stored = self.writer.store(s, self.account, state.run.id, now, seen=unchanged,
                                   changes=changes, heads=heads)
        if stored is not None:
            state.result.new_items += len(stored.new_ids)
            state.result.new_versions += len(stored.versions)
            changed.extend(stored.item_ids)

    def _warc_row(self, source: str | None) -> int | None:
        return self.recorder.row_of(source) if self.recorder is not None else None

    def _blob(self, state: _RunState, data: bytes) -> tuple[bytes, int]:
        """A JSON blob as it may be stored: the last check that no secret reaches the store,
        whatever path its bytes took (what it still finds is counted)."""
        data, late = self.connector.scrubber.data(data)
        state.result.secrets_scrubbed += late
        return data, late

    # -- removals -------------------------------------------------------------------------
    def _detect_removals(self, state: _RunState) -> None:
        """Look up every item a complete listing lacked; record the ones confirmed gone."""
        self._index_pending(state)
        missing = self._missing(state.run.id)
        for scope in state.window_scopes:
            unlisted = missing.get(scope, [])
            if scope == STORIES_SCOPE:
                unlisted = self._expire_stories(state, unlisted)
            state.result.no_longer_listed += len(unlisted)
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

    def _expire_stories(self, state: _RunState, item_ids: Sequence[int]) -> list[int]:
        """Record as expired the stories whose 24 hours are over; return the ones that left
        their listing sooner (no conclusion drawn: they are counted as no longer listed)."""
        now = self.archive.clock()
        early: list[int] = []
        expired: list[int] = []
        for item_id in item_ids:
            with self.archive.transaction() as s:
                target = lock_removable(s, item_id)
                if target is None or target.latest.platform_status == EXPIRED:
                    continue
                shown = target.latest.created_at or target.head.first_captured_at
                if shown is None or shown + STORY_LIFETIME > now:
                    early.append(item_id)
                    continue
                self.writer.expire(s, self.account, state.run.id, now, target,
                                   platform_status=EXPIRED)
            expired.append(item_id)
        state.result.expired += len(expired)
        state.result.new_versions += len(expired)
        if expired:
            index_items(self.archive, item_ids=expired)
        return early

    def _missing(self, run_id: int) -> dict[str, list[int]]:
        """Items of the account not seen by this run and not yet removed, by scope."""
        with self.archive.sessions() as s:
            return unseen_by_scope(s, self.account.id, run_id)

    def _confirm_removal(self, state: _RunState, item_id: int) -> str | None:
        """Look the item up; on Gone store the removal version. Returns a removed post's id."""
        with self.archive.sessions() as s:
            ref = item_ref(s, item_id)
        answer = self.connector.lookup(ref)
        if isinstance(answer, Present):
            if answer.record is not None:
                batch = [self.connector.sourced(answer.record)]
                self._flush(state, batch)
            return None
        if not isinstance(answer, Gone):
            state.result.unconfirmed += 1
            return None
        now = self.archive.clock()
        with self.archive.transaction() as s:
            target = lock_removable(s, item_id)
            if target is None:
                return None
            evidence, scrubbed = self.connector.scrub_json(answer.evidence)
            state.result.secrets_scrubbed += scrubbed
            data, late = self._blob(state, canonical_json(evidence))
            evidence_sha = store_blob(s, self.archive.store, data, JSON_MEDIA_TYPE, now)
            if self.recorder is not None:
                self.recorder.flush(s)
            self.writer.remove(s, self.account, state.run.id, now, target,
                               evidence_sha256=evidence_sha, secrets_scrubbed=scrubbed + late,
                               warc_record_id=self._warc_row(self.connector.sources.last))
        state.result.new_versions += 1
        state.result.removed += 1
        index_items(self.archive, item_ids=[item_id])
        return ref.external_id if ref.scope == ROOT_SCOPE else None
