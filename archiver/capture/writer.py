"""The one place the record store's writer is built, with every duty subscribed.

Every item version the archive stores goes through :class:`~archiver.store.writer.RecordWriter`,
and a writer cannot be built without a subscriber for each :class:`~archiver.store.writer.Duty`,
so every path that stores versions (capture from the command line, the scheduler and the demo,
webhooks, tests) passes through :func:`record_writer`. It lives in the capture room because it
is the lowest room that may name all of the subscribers' rooms: retention (series, disposition
dates, holds and records requests) and monitoring (the comment rules).
"""

from __future__ import annotations

from archiver.monitoring.subscriber import MonitoringSubscriber
from archiver.retention.subscribers import ProtectionSubscriber, RetentionSubscriber
from archiver.store.archive import Archive
from archiver.store.writer import RecordWriter


def record_writer(archive: Archive) -> RecordWriter:
    """The record store's writer with retention, protection and monitoring subscribed, in that
    order (an item destroyed earlier is live again before holds and rules look at it)."""
    return RecordWriter([RetentionSubscriber(archive.settings.tz), ProtectionSubscriber(archive),
                         MonitoringSubscriber(archive)])
