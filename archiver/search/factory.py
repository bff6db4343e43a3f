"""Open a search index of the configured engine, and check a query against an engine.

The only module of :mod:`archiver.search` that imports both engines, so the interface never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from archiver.config import DEFAULT_ENGINE, IndexEngine
from archiver.search.interface import SearchIndex, SearchIndexError


def _check_engine(engine: str) -> None:
    if engine not in set(IndexEngine):
        raise SearchIndexError(f"unknown search index engine {engine!r} "
                               f"(use one of {', '.join(IndexEngine)})")


def check_query(text: str, engine: str) -> None:
    """Raise QueryError (one line) unless ``engine`` can run ``text``: the same parse and checks
    a search makes, without an index (so a saved query can be checked before it must run)."""
    _check_engine(engine)
    if engine == IndexEngine.FTS5:
        from archiver.search.fts5.query import compile_query, parse_query

        parsed = parse_query(text)
        if parsed.tree is not None:
            compile_query(parsed.tree, text)
            if parsed.mentions_history:
                compile_query(parsed.current_only(), text)
        return
    from archiver.search.query import parse_user_query

    parse_user_query(text)


def open_index(
    path: Path,
    *,
    engine: str = DEFAULT_ENGINE,
    create: bool = True,
    lock_timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> SearchIndex:
    """Open (or, with ``create``, create) the on-disk index of ``engine`` in the folder ``path``.

    A writer that finds the index locked by another process retries, sleeping with ``sleep``,
    until ``lock_timeout`` seconds (measured with ``monotonic``) have passed, then raises
    :class:`SearchIndexError`.
    Raises :class:`SearchIndexError` when there is no index and ``create`` is False.
    """
    _check_engine(engine)
    # Imported here so that importing the interface never imports an engine.
    if engine == IndexEngine.FTS5:
        from archiver.search.fts5.index import Fts5SearchIndex

        return Fts5SearchIndex.open(
            Path(path), create=create, lock_timeout=lock_timeout, sleep=sleep,
            monotonic=monotonic,
        )
    from archiver.search.whoosh.index import WhooshSearchIndex

    return WhooshSearchIndex.open(
        Path(path),
        create=create,
        lock_timeout=lock_timeout,
        sleep=sleep,
        monotonic=monotonic,
    )


def open_memory_index(engine: str = DEFAULT_ENGINE) -> SearchIndex:
    """A throwaway index held in memory, with ``engine``'s query language and ranking.

    For deciding whether a query matches a few documents exactly as the on-disk index of that
    engine would (tests compare the engines with it). Close it when done.
    """
    _check_engine(engine)
    if engine == IndexEngine.FTS5:
        from archiver.search.fts5.index import Fts5SearchIndex

        return Fts5SearchIndex.memory()
    from whoosh.filedb.filestore import RamStorage

    from archiver.search.query import build_schema
    from archiver.search.whoosh.index import WhooshSearchIndex
    from archiver.search.whoosh.schema import INDEX_NAME

    ix = RamStorage().create_index(build_schema(), indexname=INDEX_NAME)
    # Same schema and query parser as the on-disk index, so a query matches identically.
    return WhooshSearchIndex(ix, Path("(memory)"), lock_timeout=5.0, sleep=time.sleep,
                             monotonic=time.monotonic)
