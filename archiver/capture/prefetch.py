"""Reading ahead: a connector's next page is fetched while the last one is being stored.

A capture alternates between waiting for the platform (network, the platform's own work) and
storing what arrived (hashing, SQL, disk). Run on one thread, each waits for the other. Here the
connector's generator runs on a reader thread a few events ahead of the consumer; the order of
events, and every exception the reader raises, reach the consumer unchanged, at the point where
the consumer would have met them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Enough to cover a page of records (a Graph page holds up to 100) and the next request.
DEFAULT_DEPTH = 512
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True)
class _Done:
    pass


class Prefetched(Generic[T]):
    """Iterate ``source`` on a reader thread, at most ``depth`` events ahead.

    Use as a context manager: leaving it early (an error while storing) stops the reader after
    its current step and waits for it, so no request runs on after the capture has ended.
    """

    def __init__(self, source: Iterable[T], depth: int = DEFAULT_DEPTH) -> None:
        self._source = source
        self._queue: queue.Queue[T | _Failed | _Done] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="capture-reader", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._events()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(_POLL_SECONDS)

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _put(self, event: T | _Failed | _Done) -> bool:
        """Hand one event over; False once the consumer has gone."""
        while not self._stop.is_set():
            try:
                self._queue.put(event, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        iterator = iter(self._source)
        try:
            for event in iterator:
                if not self._put(event):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised on the consumer's thread
            self._put(_Failed(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and self._stop.is_set():
                close()
        self._put(_Done())

    def _events(self) -> Iterator[T]:
        while True:
            event = self._queue.get()
            if isinstance(event, _Done):
                return
            if isinstance(event, _Failed):
                raise event.error
            yield event
