"""Real-time capture: Facebook/Instagram webhook changes become versions at once.

Each account's changes (:class:`~archiver.connectors.graph_webhooks.Change`, one per comment or
post event) are applied through :meth:`archiver.capture.run.Capture.apply`, so the capture
rules are exactly the scheduled ones: a record becomes a version only when something changed,
under the account's capture lock. A reported removal is put on the audit log against the item
and then confirmed by the connector's look-up before the status changes (a webhook alone is
never proof).

Order: Meta delivers at least once, retries for hours and does not keep order, so a change may
come twice or after a later one. Each change's time is its entry's ``time`` (or the value's
``created_time``, whichever is later), kept as the version's ``updated_at``. A change older than
the state archived for its item (that time for a webhook version; the start of the run that read
the platform for a scheduled one, or that last saw the item unchanged) never overwrites it, and
a change identical to it adds nothing: both are put on the audit log as
``webhook.change_ignored`` with the reason, and a delivery with nothing new runs no capture.
Times compare Meta's clock with ours: keep the server's clock synchronised (NTP).

What a payload means (which item, added, edited, hidden, unhidden or removed) is read by
:mod:`archiver.connectors.graph_webhooks`, with Meta's formats; here the changes are routed to
capture. Visitor text is hostile: it is only stored, never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from archiver.capture.lock import capture_lock, new_owner
from archiver.capture.results import CaptureResult
from archiver.capture.run import Capture
from archiver.connectors.graph_webhooks import Action, Change
from archiver.connectors.records import ItemStatus, Record
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.canonical import iso_utc, safe_text
from archiver.store.models import Account, CaptureRun, Item, ItemVersion
from archiver.store.storable import UnstorableRecord, storable_record
from archiver.store.versions import record_fingerprint
from archiver.store.vocabulary import RunTrigger

log = logging.getLogger(__name__)

# Seconds a webhook waits for a running capture of the account before asking Meta to redeliver.
LOCK_WAIT_S = 20.0
WEBHOOK_TRIGGER = RunTrigger.WEBHOOK
OLDER = "older than the archived state"
IDENTICAL = "identical to the archived state"


@dataclass
class RealtimeResult:
    """What one webhook delivery did."""

    changes: int = 0
    ignored: int = 0
    runs: list[CaptureResult] = field(default_factory=list)


def _latest(*times: datetime | None) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def apply_changes(
    archive: Archive,
    changes: Sequence[Change],
    environ: Mapping[str, str],
    *,
    body_sha256: str | None = None,
    lock_wait: float = LOCK_WAIT_S,
    sleep: Callable[[float], None] | None = None,
) -> RealtimeResult:
    """Apply parsed changes account by account; ``CaptureLocked`` if a capture holds one too long.

    Changes for accounts the archive does not capture are counted as ignored (and logged), and
    so are changes older than or identical to the archived state (and audited).
    """
    from archiver.capture.sources import connector_for

    result = RealtimeResult()
    grouped: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        grouped.setdefault((change.platform, change.account_external_id), []).append(change)
    for (platform, external_id), group in grouped.items():
        account = _account(archive, platform, external_id)
        if account is None:
            log.warning("webhook for unknown or inactive %s account %s ignored", platform,
                        external_id)
            result.ignored += len(group)
            continue
        with capture_lock(archive, account.id, owner=new_owner("webhook"), wait=lock_wait,
                          sleep=sleep):
            _audit_removals(archive, account, group, body_sha256)
            records = _keep_hidden_on_edit(archive, account, group)
            records, ignored = _drop_outdated(archive, account, group, records, body_sha256)
            removals = [c.external_id for c in group if c.action is Action.REMOVED]
            result.ignored += ignored
            result.changes += len(group) - ignored
            if not records and not removals:
                continue
            # Without a token records still go in; removals stay unconfirmed.
            with connector_for(account, environ, without_token=_warn, sleep=sleep) as connector:
                run = Capture(archive, account, connector, trigger=WEBHOOK_TRIGGER).apply(
                    records, removals)
        result.runs.append(run)
    return result


def _warn(reason: str) -> None:
    log.warning("%s", reason)


def _account(archive: Archive, platform: str, external_id: str) -> Account | None:
    with archive.sessions() as s:
        return s.scalar(select(Account).where(
            Account.platform == platform, Account.external_id == external_id,
            Account.active.is_(True)))


def _keep_hidden_on_edit(
    archive: Archive, account: Account, group: Sequence[Change]
) -> list[Record]:
    """An edit event does not say whether the comment is hidden: an archived hide stands."""
    records = [c.record for c in group if c.record is not None]
    edited = {c.external_id for c in group if c.action is Action.EDITED}
    if not edited:
        return records
    with archive.sessions() as s:
        hidden = set(s.scalars(select(Item.external_id).where(
            Item.account_id == account.id, Item.external_id.in_(edited),
            Item.status == ItemStatus.HIDDEN)))
    return [replace(r, status=ItemStatus.HIDDEN, platform_status="hidden")
            if r.external_id in hidden and r.external_id in edited else r for r in records]


def _audit_removals(
    archive: Archive, account: Account, group: Sequence[Change], body_sha256: str | None
) -> None:
    """Put every reported removal on the record before anything is looked up."""
    removals = [c for c in group if c.action is Action.REMOVED]
    if not removals:
        return
    now = archive.clock()
    with archive.transaction() as s:
        for change in removals:
            item_id = s.scalar(select(Item.id).where(
                Item.account_id == account.id, Item.external_id == change.external_id))
            record_event(
                s, action="webhook.remove_reported", occurred_at=now, actor="webhook",
                target_type="item" if item_id is not None else f"{account.platform}_object",
                target_id=item_id if item_id is not None else change.external_id,
                details={"account_id": account.id, "external_id": change.external_id,
                         "webhook_body_sha256": body_sha256},
            )


@dataclass(frozen=True)
class _Archived:
    """An item's archived state as a webhook change is compared with it."""

    item_id: int
    content_sha256: str
    as_of: datetime | None


def _drop_outdated(
    archive: Archive, account: Account, group: Sequence[Change], records: Sequence[Record],
    body_sha256: str | None,
) -> tuple[list[Record], int]:
    """The records that are news, and how many changes were ignored (each audited with why).

    Of several changes to one item in a delivery the latest counts (the last one on a tie).
    """
    latest: dict[str, tuple[Change, Record]] = {}
    for change, record in zip([c for c in group if c.record is not None], records, strict=True):
        held = latest.get(record.external_id)
        if held is None or not _earlier(change.event_time, held[0].event_time):
            latest[record.external_id] = (change, record)
    archived = _archived_states(archive, account, list(latest))
    news: list[Record] = []
    ignored: list[tuple[Change, _Archived, str]] = []
    for external_id, (change, record) in latest.items():
        state = archived.get(external_id)
        reason = None if state is None else _why_not_news(change, record, state)
        if reason is None or state is None:
            news.append(record)
        else:
            ignored.append((change, state, reason))
    if ignored:
        now = archive.clock()
        with archive.transaction() as s:
            for change, state, reason in ignored:
                record_event(
                    s, action="webhook.change_ignored", occurred_at=now, actor="webhook",
                    target_type="item", target_id=state.item_id,
                    details={"account_id": account.id,
                             "external_id": safe_text(change.external_id),
                             "verb": change.verb, "reason": reason,
                             "event_time": _iso(change.event_time),
                             "archived_as_of": _iso(state.as_of),
                             "webhook_body_sha256": body_sha256},
                )
    return news, len(ignored)


def _earlier(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and a < b


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None


def _why_not_news(change: Change, record: Record, state: _Archived) -> str | None:
    if _earlier(change.event_time, state.as_of):
        return OLDER
    try:
        safe, _ = storable_record(record)
    except UnstorableRecord:
        return None  # capture records why it cannot be stored
    return IDENTICAL if record_fingerprint(safe)[0] == state.content_sha256 else None


def _archived_states(
    archive: Archive, account: Account, external_ids: Sequence[str]
) -> dict[str, _Archived]:
    """Each archived item's content fingerprint and the platform time its state is known at:
    the latest of its head version's own times, the start of the run that wrote it when that
    run read the platform (a webhook run's removal is a look-up too), and the start of the
    non-webhook run that last saw it."""
    if not external_ids:
        return {}
    head_run, seen_run = aliased(CaptureRun), aliased(CaptureRun)
    states: dict[str, _Archived] = {}
    with archive.sessions() as s:
        rows = s.execute(
            select(Item.id, Item.external_id, Item.content_sha256, ItemVersion.created_at,
                   ItemVersion.updated_at, ItemVersion.status, head_run.started_at,
                   head_run.trigger, seen_run.started_at, seen_run.trigger)
            .join(ItemVersion, (ItemVersion.item_id == Item.id)
                  & (ItemVersion.seq == Item.current_seq))
            .outerjoin(head_run, head_run.id == ItemVersion.capture_run_id)
            .outerjoin(seen_run, seen_run.id == Item.last_seen_run_id)
            .where(Item.account_id == account.id, Item.external_id.in_(external_ids))
        )
        for (item_id, external_id, content, created, updated, status, head_started,
             head_trigger, seen_started, seen_trigger) in rows:
            read = head_trigger != WEBHOOK_TRIGGER or status == ItemStatus.REMOVED
            as_of = _latest(created, updated, head_started if read else None,
                            seen_started if seen_trigger != WEBHOOK_TRIGGER else None)
            states[external_id] = _Archived(item_id, content, as_of)
    return states
