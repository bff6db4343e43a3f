"""What a background job does and where it stands."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """The long work the desk hands to the background."""

    OPEN_RECORDS = "open_records"  # the BagIt package answering one records request
    PRODUCTION = "production"  # a hold's items as a Bates-numbered production
    PURGE = "purge"  # an approved disposition

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {JobKind.OPEN_RECORDS: "open-records package", JobKind.PRODUCTION: "production",
           JobKind.PURGE: "purge"}


class JobState(StrEnum):
    """``interrupted``: the process running it stopped; it is run again (and resumes)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)

    @property
    def waiting(self) -> bool:
        """Waiting for a runner to pick it up (again)."""
        return self in (JobState.QUEUED, JobState.INTERRUPTED)
