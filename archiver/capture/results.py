"""What a capture run reports: its counts (:class:`CaptureResult`) and its phases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum

from archiver.store.vocabulary import RunStatus


@dataclass
class CaptureResult:
    """What one run did; ``status`` is ``succeeded``, ``partial`` (some items could not be
    stored), ``failed``, ``interrupted`` or (no run) ``locked``."""

    run_id: int | None
    account_id: int
    status: RunStatus
    seen: int = 0
    new_items: int = 0
    new_versions: int = 0
    removed: int = 0
    unconfirmed: int = 0
    # Items a listing that shows only its latest entries (a feed) no longer shows: reported,
    # never taken for removals.
    no_longer_listed: int = 0
    # Stories whose 24 hours were over when they left their listing: recorded as expired.
    expired: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    # Credentials taken out of what was read before anything was stored
    # (archiver.connectors.secrets).
    secrets_scrubbed: int = 0
    # Media files of the account not stored yet: fetched now, failed now (retried next run).
    media_stored: int = 0
    media_failed: int = 0
    # Items read but not stored (each on the audit log with its reason).
    failed_items: int = 0
    # Items stored with unstorable characters in their text replaced (the record blob keeps them).
    text_replaced: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    notes: list[str] = field(default_factory=list)  # the connector's, e.g. a feed that moved

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return data


class Phase(StrEnum):
    """The steps of a capture run, as a progress display names them."""

    STORING = "storing"  # records read and stored; how many is not known ahead
    INDEXING = "indexing"  # items put in the search index, whose commit takes a while
    REMOVALS = "checking removals"  # items a complete listing lacked, looked up one by one
    MEDIA = "downloading media"  # media files not stored yet

    @property
    def unit(self) -> str:
        return "files" if self is Phase.MEDIA else "items"


ProgressCallback = Callable[[int], None]
# Told each time a run starts (or comes back to) a phase, with the phase's total when known;
# ``progress`` then counts that phase's steps.
PhaseCallback = Callable[[Phase, int | None], None]
