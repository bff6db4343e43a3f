"""One capture run of one account: connector set-up, the capture lock, then the media."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from archiver.capture.results import CaptureResult, Phase, PhaseCallback, ProgressCallback
from archiver.capture.run import Capture
from archiver.capture.warc import WarcRecorder
from archiver.connectors.base import RetryCallback
from archiver.errors import ConfigError
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Account, CaptureRun
from archiver.store.vocabulary import RunStatus, RunTrigger


def capture_account(
    archive: Archive,
    account: Account,
    environ: Mapping[str, str],
    *,
    trigger: RunTrigger = RunTrigger.MANUAL,
    scopes: list[str] | None = None,
    progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
    sleep: Callable[[float], None] | None = None,
    media: bool = True,
    media_client: httpx.Client | None = None,
    on_retry: RetryCallback | None = None,
) -> CaptureResult:
    """One run for one account through :func:`archiver.capture.sources.connector_for`;
    ``on_retry`` is told of every wait before a request is asked again, ``on_phase`` of each
    :class:`Phase` the run starts and ``progress`` of the steps of it.

    The run holds the account's capture lock (:mod:`archiver.capture.lock`) throughout: a second
    capture of the same account, from any process, raises ``CaptureLocked`` instead of running.
    Media files the account's versions show are downloaded afterwards
    (:mod:`archiver.capture.media`).
    """
    from archiver.capture.lock import capture_lock
    from archiver.capture.sources import connector_for
    recorder = WarcRecorder(archive, account)
    try:
        connector = connector_for(account, environ, sleep=sleep, on_retry=on_retry,
                                  recorder=recorder)
    except ConfigError as exc:
        # Checked before any request; the failure is still a recorded run, loud in the report.
        return _failed_without_run(archive, account, str(exc), trigger)
    # The recorder is left last: the run's WARC file is stored however the run ends.
    with connector, capture_lock(archive, account.id), recorder:
        result = Capture(archive, account, connector, trigger=trigger,
                         progress=progress, on_phase=on_phase, recorder=recorder).run(scopes)
        if media:
            _download_media(archive, result, media_client, progress, on_phase, recorder)
    return result


def _download_media(archive: Archive, result: CaptureResult, client: httpx.Client | None,
                    progress: ProgressCallback | None = None,
                    on_phase: PhaseCallback | None = None,
                    recorder: WarcRecorder | None = None) -> None:
    """Fetch the account's media not stored yet; counts go into ``result`` and the audit log."""
    from archiver.capture.media import download_media

    def planned(files: int) -> None:
        if on_phase:
            on_phase(Phase.MEDIA, files)

    report = download_media(archive, result.account_id, client=client, planned=planned,
                            fetched=progress, recorder=recorder)
    result.media_stored, result.media_failed = report.stored, report.outstanding
    if report.linked or report.stored or report.failed:
        now = archive.clock()
        with archive.transaction() as s:
            record_event(
                s, action="capture.media", occurred_at=now, target_type="capture_run",
                target_id=result.run_id,
                details={"linked": report.linked, "stored": report.stored,
                         "failed": report.failed, "outstanding": report.outstanding},
            )


def _failed_without_run(
    archive: Archive, account: Account, error: str, trigger: RunTrigger
) -> CaptureResult:
    now = archive.clock()
    with archive.transaction() as s:
        run = CaptureRun(
            account_id=account.id, started_at=now, finished_at=now, status=RunStatus.FAILED,
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
        run_id=run.id, account_id=account.id, status=RunStatus.FAILED, error=error,
        started_at=now, finished_at=now,
    )
