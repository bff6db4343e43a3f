"""The closed sets of words the store's ``String`` columns hold, one :class:`~enum.StrEnum` each.

A member *is* its string (``RunStatus.FAILED == "failed"``), so the columns stay plain strings, a
member can be written or compared wherever the word could, and ``json.dumps`` prints the word.
What a platform's items are (kind, status, platform) belongs to the connectors:
:mod:`archiver.connectors.records`.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """How a capture run stands (``CaptureRun.status``, and what a capture reports)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some items could not be stored (each is on the audit log)
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process stopped before it finished
    LOCKED = "locked"  # reported only: another capture of the account held it, no run was made


class RunTrigger(StrEnum):
    """What started a capture run (``CaptureRun.trigger``)."""

    MANUAL = "manual"
    NIGHTLY = "nightly"
    SWEEP = "sweep"  # the scheduler's frequent comment sweep
    WEBHOOK = "webhook"


# Runs that read only part of an account (recent posts' comments, one notified change): a good
# one is not a good capture of the account.
PARTIAL_TRIGGERS = frozenset({RunTrigger.SWEEP, RunTrigger.WEBHOOK})
# Runs that ended without capturing everything they set out to: worth a person's attention.
UNFINISHED_RUNS = frozenset({RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.INTERRUPTED})


class RequestStatus(StrEnum):
    """An open-records request (``OpenRecordsRequest.status``): open ones protect their scope."""

    OPEN = "open"
    CLOSED = "closed"


class ExportKind(StrEnum):
    """What an export handed over (``Export.kind``)."""

    OPEN_RECORDS = "open_records"
    PRODUCTION = "production"


class DispositionStatus(StrEnum):
    """An approved purge (``Disposition.status``): running until its certificate is written."""

    RUNNING = "running"
    COMPLETED = "completed"


class DispositionItemState(StrEnum):
    """What became of an item a disposition planned to destroy (``DispositionItem.state``)."""

    PENDING = "pending"
    DESTROYED = "destroyed"
    SKIPPED = "skipped"  # held or protected when its batch came


class BlobDisposal(StrEnum):
    """What became of a blob a disposition set out to delete (``DisposedBlob.status``)."""

    PENDING = "pending"
    DELETED = "deleted"
    KEPT = "kept"  # still used by a record that is kept
    LOCKED = "locked"  # the store's retention lock refuses the delete for now


class MediaStatus(StrEnum):
    """A media file (``MediaFile.status``): its bytes are in the blob store once ``stored``."""

    PENDING = "pending"  # never tried
    STORED = "stored"
    FAILED = "failed"  # retried on the next run


class WarcStatus(StrEnum):
    """A WARC file (``WarcFile.status``): its bytes are in the blob store once ``stored``."""

    WRITING = "writing"  # the run is still writing its spool file
    STORED = "stored"
    LOST = "lost"  # the run died and its spool file was gone when the next run looked


class WarcRewriteStatus(StrEnum):
    """A purge's rewrite of a WARC file (``WarcRewrite.status``)."""

    REWRITTEN = "rewritten"  # the new file is stored and recorded; the old one not yet deleted
    DONE = "done"  # the old file is deleted (or its deletion refused by a lock: see detail)
