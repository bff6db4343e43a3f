"""Reading ahead keeps the connector's order and errors, and stops when the consumer stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from archiver.capture.prefetch import Prefetched
from archiver.connectors.errors import ConnectorError


def test_events_arrive_in_order_and_all_of_them() -> None:
    with Prefetched(range(10_000), depth=7) as events:
        assert list(events) == list(range(10_000))


def test_an_error_arrives_after_the_events_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectorError("HTTP 500 on page 2")

    seen: list[int] = []
    with pytest.raises(ConnectorError, match="page 2"), Prefetched(source()) as events:
        for event in events:
            seen.append(event)
    assert seen == [1, 2]


def test_leaving_early_stops_the_reader() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for n in range(1_000_000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    reader = Prefetched(source(), depth=4)
    with pytest.raises(RuntimeError), reader as events:
        for event in events:
            if event == 3:
                raise RuntimeError("storing failed")
    assert closed.is_set()
    assert len(produced) < 20  # it stopped a few events ahead, not at the end
    assert not reader._thread.is_alive()
