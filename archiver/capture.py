"""Capture: read an account through its connector and apply the capture rules to the archive.

The rules (DESIGN.md, contract):

* an unchanged item gets no new version, only ``last_seen``;
* a change of text, media, status or author makes a new version;
* a hidden item is a version with status ``hidden`` and the platform's own word kept;
* an item is removed only when a *complete* listing of its scope lacked it **and** the
  connector's direct look-up answered :class:`~connectors.records.Gone`; the answer is kept as an
  evidence blob. Removals are decided only after the whole read succeeded, so a failed, partial
  or rate-limited read marks nothing removed.

Crash safety: records are written in batches, each batch one transaction (blobs are written to
the content-addressed store before the transaction commits, so a committed version never points
at a missing blob). A run killed anywhere leaves whole batches only; the next run reads the
account again, finds the committed items unchanged and writes what was lost, and marks the
killed run ``interrupted``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiver.accounts import token_for
from archiver.archive import Archive
from archiver.audit import record_event
from archiver.blob_records import store_blob
from archiver.canonical import canonical_json
from archiver.errors import ConfigError
from archiver.indexing import index_items
from archiver.models import Account, CaptureRun, Item, ItemVersion
from archiver.versions import content_fingerprint, media_json, seal
from connectors.base import Connector, ConnectorConfig
from connectors.errors import ConnectorError
from connectors.records import ROOT_SCOPE, Gone, ItemRef, ListingComplete, Present, Record

BATCH_SIZE = 500
JSON_MEDIA_TYPE = "application/json"


@dataclass
class CaptureResult:
    """What one run did; ``status`` is ``succeeded`` or ``failed``."""

    run_id: int
    account_id: int
    status: str
    seen: int = 0
    new_items: int = 0
    new_versions: int = 0
    removed: int = 0
    unconfirmed: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return data


@dataclass
class _RunState:
    run: CaptureRun
    result: CaptureResult
    completed_scopes: list[str] = field(default_factory=list)


ProgressCallback = Callable[[int], None]


class Capture:
    """Applies the capture rules for one account. Create one per run."""

    def __init__(
        self,
        archive: Archive,
        account: Account,
        connector: Connector,
        *,
        trigger: str = "manual",
        progress: ProgressCallback | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.archive = archive
        self.account = account
        self.connector = connector
        self.trigger = trigger
        self.progress = progress
        self.batch_size = batch_size

    # -- the run --------------------------------------------------------------------------
    def run(self, scopes: list[str] | None = None) -> CaptureResult:
        """Read the account (or only ``scopes``), store what changed, detect removals."""
        state = self._start()
        batch: list[Record] = []
        try:
            for event in self.connector.read(scopes):
                if isinstance(event, ListingComplete):
                    self._flush(state, batch)
                    state.completed_scopes.append(event.scope)
                    continue
                batch.append(event)
                if len(batch) >= self.batch_size:
                    self._flush(state, batch)
            self._flush(state, batch)
        except ConnectorError as exc:
            # What was read before the failure is real and is kept; nothing is marked removed.
            self._flush(state, batch)
            return self._finish(state, "failed", self._describe(exc))
        self._detect_removals(state)
        return self._finish(state, "succeeded", None)

    def _describe(self, exc: ConnectorError) -> str:
        return f"account {self.account.id} ({self.account.handle}): {exc}"

    def _start(self) -> _RunState:
        now = self.archive.clock()
        with self.archive.transaction() as s:
            self._close_interrupted_runs(s, now)
            run = CaptureRun(
                account_id=self.account.id, started_at=now, status="running",
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
            run_id=run.id, account_id=self.account.id, status="running", started_at=now
        )
        # Items a crashed run stored but never indexed are indexed now.
        index_items(self.archive, account_id=self.account.id)
        return _RunState(run=run, result=result)

    def _close_interrupted_runs(self, s: Session, now: datetime) -> None:
        stale = s.scalars(
            select(CaptureRun).where(
                CaptureRun.account_id == self.account.id, CaptureRun.status == "running"
            )
        ).all()
        for run in stale:
            run.status = "interrupted"
            run.finished_at = now
            run.error = "the capture process stopped before finishing (killed or crashed)"
            record_event(
                s, action="capture.interrupted", occurred_at=now, target_type="capture_run",
                target_id=run.id, details={"account_id": self.account.id},
            )

    def _finish(self, state: _RunState, status: str, error: str | None) -> CaptureResult:
        now = self.archive.clock()
        result = state.result
        stats = self.connector.stats
        result.status = status
        result.error = error
        result.finished_at = now
        result.requests, result.retries = stats.requests, stats.retries
        result.rate_limited = stats.rate_limited
        with self.archive.transaction() as s:
            run = s.get(CaptureRun, state.run.id)
            assert run is not None
            run.status = status
            run.error = error
            run.finished_at = now
            for name in ("seen", "new_items", "new_versions", "removed", "unconfirmed",
                         "requests", "retries", "rate_limited"):
                setattr(run, name, getattr(result, name))
            record_event(
                s, action=f"capture.{status}", occurred_at=now, target_type="capture_run",
                target_id=run.id, details=result.as_json(),
            )
        return result

    # -- storing records ------------------------------------------------------------------
    def _flush(self, state: _RunState, batch: list[Record]) -> None:
        if not batch:
            return
        records = list({r.external_id: r for r in batch}.values())  # last word wins
        batch.clear()
        changed: list[int] = []
        with self.archive.transaction() as s:
            self._store_records(s, state, records, changed)
        index_items(self.archive, item_ids=changed)
        state.result.seen += len(records)
        if self.progress:
            self.progress(len(records))

    def _store_records(
        self, s: Session, state: _RunState, records: list[Record], changed: list[int]
    ) -> None:
        now = self.archive.clock()
        ids = [r.external_id for r in records]
        existing = {
            item.external_id: item
            for item in s.scalars(
                select(Item).where(Item.account_id == self.account.id, Item.external_id.in_(ids))
            )
        }
        unchanged: list[int] = []
        pending: list[tuple[Item, Record, str, str]] = []
        for record in records:
            media = media_json([{"url": m.url, "media_type": m.media_type} for m in record.media])
            fingerprint = content_fingerprint(
                text=record.text, status=record.status, platform_status=record.platform_status,
                author_name=record.author_name, author_id=record.author_id, media=media,
            )
            item = existing.get(record.external_id)
            if item is not None and item.content_sha256 == fingerprint:
                unchanged.append(item.id)
                continue
            if item is None:
                item = Item(
                    account_id=self.account.id, external_id=record.external_id,
                    kind=record.kind, scope=record.scope,
                    parent_external_id=record.parent_external_id, status=record.status,
                    first_captured_at=now, last_seen_at=now, current_seq=0,
                    current_sha256="", content_sha256=fingerprint,
                )
                s.add(item)
                existing[record.external_id] = item
                state.result.new_items += 1
            pending.append((item, record, fingerprint, media))
        s.flush()  # new items get their ids
        self._link_parents(s, [p[0] for p in pending], existing)
        for item, record, fingerprint, media in pending:
            raw_sha = store_blob(s, self.archive.store, canonical_json(record.raw),
                                 JSON_MEDIA_TYPE, now)
            self._append_version(
                s, state, item, now, status=record.status,
                platform_status=record.platform_status, text=record.text,
                author_name=record.author_name, author_id=record.author_id,
                created_at=record.created_at, updated_at=record.updated_at, url=record.url,
                media_json=media, raw_sha256=raw_sha, evidence_sha256=None, fingerprint=fingerprint,
            )
            item.last_seen_at = now
            item.last_seen_run_id = state.run.id
            changed.append(item.id)
        if unchanged:
            s.execute(
                update(Item).where(Item.id.in_(unchanged))
                .values(last_seen_at=now, last_seen_run_id=state.run.id)
            )

    def _link_parents(self, s: Session, items: list[Item], known: dict[str, Item]) -> None:
        wanted = {i.parent_external_id for i in items if i.parent_external_id and not i.parent_id}
        missing = [ext for ext in wanted if ext not in known]
        if missing:
            for parent in s.scalars(
                select(Item).where(Item.account_id == self.account.id,
                                   Item.external_id.in_(missing))
            ):
                known[parent.external_id] = parent
        for item in items:
            parent = known.get(item.parent_external_id or "")
            if item.parent_id is None and parent is not None and parent.id != item.id:
                item.parent_id = parent.id

    def _append_version(
        self, s: Session, state: _RunState, item: Item, now: datetime, *, fingerprint: str,
        **fields: object,
    ) -> ItemVersion:
        version = ItemVersion(
            item_id=item.id, seq=item.current_seq + 1, capture_run_id=state.run.id,
            captured_at=now, content_sha256=fingerprint,
            prev_sha256=item.current_sha256 or None, sha256="", **fields,
        )
        seal(version)
        s.add(version)
        item.current_seq = version.seq
        item.current_sha256 = version.sha256
        item.content_sha256 = fingerprint
        item.status = version.status
        state.result.new_versions += 1
        return version

    # -- removals -------------------------------------------------------------------------
    def _detect_removals(self, state: _RunState) -> None:
        """Look up every item a complete listing lacked; record the ones confirmed gone."""
        for scope in state.completed_scopes:
            for item_id in self._missing_from(scope, state.run.id):
                gone_post = self._confirm_removal(state, item_id)
                if gone_post is not None:
                    # A deleted post takes its comments with it; each is still looked up.
                    for child_id in self._missing_from(gone_post, state.run.id):
                        self._confirm_removal(state, child_id)

    def _missing_from(self, scope: str, run_id: int) -> list[int]:
        with self.archive.sessions() as s:
            seen_elsewhere = Item.last_seen_run_id.is_(None) | (Item.last_seen_run_id != run_id)
            return list(
                s.scalars(
                    select(Item.id).where(
                        Item.account_id == self.account.id, Item.scope == scope,
                        Item.status != "removed", seen_elsewhere,
                    ).order_by(Item.id)
                )
            )

    def _confirm_removal(self, state: _RunState, item_id: int) -> str | None:
        """Look the item up; on Gone write the removal version. Returns a removed post's id."""
        with self.archive.sessions() as s:
            item = s.get(Item, item_id)
            assert item is not None
            ref = ItemRef(item.external_id, item.kind, item.scope, item.parent_external_id)
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
            if item.status == "removed":
                return None
            last = s.scalars(
                select(ItemVersion).where(ItemVersion.item_id == item.id,
                                          ItemVersion.seq == item.current_seq)
            ).one()
            evidence_sha = store_blob(s, self.archive.store, canonical_json(answer.evidence),
                                      JSON_MEDIA_TYPE, now)
            fingerprint = content_fingerprint(
                text=last.text, status="removed", platform_status=None,
                author_name=last.author_name, author_id=last.author_id, media=last.media_json,
            )
            self._append_version(
                s, state, item, now, fingerprint=fingerprint, status="removed",
                platform_status=None, text=last.text, author_name=last.author_name,
                author_id=last.author_id, created_at=last.created_at,
                updated_at=last.updated_at, url=last.url, media_json=last.media_json,
                raw_sha256=last.raw_sha256, evidence_sha256=evidence_sha,
            )
            item.removed_detected_at = now
            item.removal_evidence_sha256 = evidence_sha
            record_event(
                s, action="item.removed", occurred_at=now, target_type="item",
                target_id=item.id, details={"run_id": state.run.id,
                                            "evidence_sha256": evidence_sha},
            )
            state.result.removed += 1
            removed_post = item.external_id if item.scope == ROOT_SCOPE else None
        index_items(self.archive, item_ids=[item_id])
        return removed_post



def capture_account(
    archive: Archive,
    account: Account,
    environ: Mapping[str, str],
    *,
    trigger: str = "manual",
    scopes: list[str] | None = None,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] | None = None,
) -> CaptureResult:
    """One run for one account: token from its variable, connector from its platform."""
    from connectors import get_connector_class

    try:
        token = token_for(account, environ)
    except ConfigError as exc:
        # Checked before any request; the failure is still a recorded run, loud in the report.
        return _failed_without_run(archive, account, str(exc), trigger)
    config = ConnectorConfig(
        account_external_id=account.external_id, api_base=account.api_base, token=token
    )
    options = {} if sleep is None else {"sleep": sleep}
    with get_connector_class(account.platform)(config, **options) as connector:
        return Capture(archive, account, connector, trigger=trigger, progress=progress).run(scopes)


def _failed_without_run(
    archive: Archive, account: Account, error: str, trigger: str
) -> CaptureResult:
    now = archive.clock()
    with archive.transaction() as s:
        run = CaptureRun(
            account_id=account.id, started_at=now, finished_at=now, status="failed",
            trigger=trigger, error=error, seen=0, new_items=0, new_versions=0, removed=0,
            unconfirmed=0, requests=0, retries=0, rate_limited=0,
        )
        s.add(run)
        s.flush()
        record_event(
            s, action="capture.failed", occurred_at=now, target_type="capture_run",
            target_id=run.id, details={"account_id": account.id, "error": error},
        )
    return CaptureResult(
        run_id=run.id, account_id=account.id, status="failed", error=error,
        started_at=now, finished_at=now,
    )
