"""Comment monitoring's subscriber to "versions stored": the rules run on every new or changed
item in the transaction that stores it, so a flag commits with the version it is about.

A rule set that cannot run (a broken rule file loaded by hand, a database error in the flags'
tables) must never cost the archive the records themselves: the flagging runs in a savepoint,
and its failure is logged loudly and audited while the versions still commit. The items stay
unchecked, so the notices job's catch-up (:func:`archiver.monitoring.flags.flag_unchecked`)
runs the rules on them once they can run.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from archiver.errors import ArchiverError
from archiver.monitoring.flags import flag_items
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import CaptureRun
from archiver.store.vocabulary import RunTrigger
from archiver.store.writer import Duty, Subscriber, VersionsStored

log = logging.getLogger(__name__)


class MonitoringSubscriber(Subscriber):
    """Runs the active monitoring rules on every item stored with a new version (the marks in
    :mod:`archiver.monitoring.flags` keep a status change alone, such as a removal, from being
    flagged again)."""

    duty = Duty.MONITORING

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def versions_stored(self, event: VersionsStored, *, head_fields_written: bool) -> None:
        ids = event.item_ids
        if not ids:
            return
        session = event.session
        run = session.get(CaptureRun, event.run_id)
        # A webhook delivery's flags say so: reviewers see what arrived in real time.
        origin = "webhook" if run is not None and run.trigger == RunTrigger.WEBHOOK else "capture"
        try:
            with session.begin_nested():
                flag_items(session, self.archive, ids, origin=origin)
        except (ArchiverError, SQLAlchemyError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.error("monitoring rules did not run on %d stored items of run %d: %s "
                      "(the notices job checks them later)", len(ids), event.run_id, reason)
            record_event(session, action="review.flagging_failed", occurred_at=event.at,
                         target_type="capture_run", target_id=event.run_id,
                         details={"items": len(ids), "reason": reason[:500]})
