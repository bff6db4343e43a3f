"""The fixed set of 50 search queries, each in our syntax (Whoosh) and in FTS5's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchQuery:
    """One query: ``ours`` for archiver, ``fts`` for FTS5 (None: match everything)."""

    ours: str
    fts: str | None
    status: str | None = None
    kind: str | None = None
    since: str | None = None  # ISO date: published on or after


_TERMS = ["police", "closure", "detour", "missing", "scam", "fireworks", "hospital", "k9",
          "parade", "burglary", "doorbell", "checkpoint", "academy", "outage", "jacket",
          "crosswalk", "donation", "footage", "lieutenant", "barking"]
_PAIRS = [("road", "closed"), ("missing", "person"), ("crime", "prevention"),
          ("traffic", "accident"), ("thank", "officers"), ("school", "bus"),
          ("phone", "scam"), ("power", "outage"), ("noise", "complaint"), ("food", "drive")]
_PHRASES = [("road", "closure"), ("missing", "person"), ("stay", "safe"), ("thank", "you"),
            ("great", "job"), ("water", "main"), ("gift", "cards"), ("click", "it")]


def bench_queries() -> list[BenchQuery]:
    """20 terms, 10 two-term ANDs, 8 phrases, 7 filtered, 5 ``*`` with a filter."""
    qs = [BenchQuery(t, t) for t in _TERMS]
    qs += [BenchQuery(f"{a} {b}", f"{a} {b}") for a, b in _PAIRS]
    qs += [BenchQuery(f'"{a} {b}"', f'"{a} {b}"') for a, b in _PHRASES]
    qs += [
        BenchQuery("police", "police", status="hidden"),
        BenchQuery("thank", "thank", kind="comment"),
        BenchQuery("closure", "closure", since="2024-06-01"),
        BenchQuery("safe", "safe", status="active", kind="reply"),
        BenchQuery("missing", "missing", status="removed"),
        BenchQuery("officer", "officer", kind="post"),
        BenchQuery("help", "help", since="2024-03-01", status="active"),
    ]
    qs += [
        BenchQuery("*", None, status="removed"),
        BenchQuery("*", None, status="hidden"),
        BenchQuery("*", None, kind="post"),
        BenchQuery("*", None, status="active", since="2024-09-01"),
        BenchQuery("*", None, kind="reply"),
    ]
    assert len(qs) == 50
    return qs
