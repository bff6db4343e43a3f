"""The search index behaviour, on BOTH engines (Whoosh and SQLite FTS5), on real files on disk."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import textwrap
import time
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from archiver.config import IndexEngine, Settings
from archiver.errors import ArchiverError, ConfigError, QueryError
from archiver.search.factory import open_index, open_memory_index
from archiver.search.fts5.index import FILE_NAME
from archiver.search.fts5.query import compile_query, parse_query
from archiver.search.interface import IndexDoc, SearchFilters, SearchIndex, SearchIndexError
from archiver.search.whoosh.schema import INDEX_NAME
from archiver.search.whoosh.search import column_array
from tests.support.retention import comment_on_first_post

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


def make_doc(item_id: int, **changes: object) -> IndexDoc:
    """A post by default; tests override what they look at."""
    base = IndexDoc(
        item_id=item_id,
        account_id=1,
        platform="facebook",
        account="citypd",
        external_id=f"ext-{item_id}",
        kind="post",
        status="active",
        author="City Police",
        text=f"post number {item_id}",
        history_text=f"post number {item_id}",
        created_at=T0 + timedelta(hours=item_id),
        first_captured_at=T0 + timedelta(hours=item_id, minutes=5),
        last_captured_at=T0 + timedelta(hours=item_id, minutes=5),
        parent_id=None,
        thread_id=item_id,
        seq=1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(params=list(IndexEngine))
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: every behaviour case runs on both."""
    return str(request.param)


@pytest.fixture
def index(tmp_path: Path, engine: str) -> Iterator[SearchIndex]:
    ix = open_index(tmp_path / "index", engine=engine)
    yield ix
    ix.close()


def ids(index: SearchIndex, q: str, filters: SearchFilters | None = None) -> list[int]:
    results = index.search(q, filters or SearchFilters(), limit=1000)
    assert results.total == len(results.hits)
    return [hit.item_id for hit in results.hits]


# -- writing -------------------------------------------------------------------------------


def test_add_count_and_upsert_by_item_id(index: SearchIndex) -> None:
    assert index.add([make_doc(1), make_doc(2), make_doc(3)]) == 3
    assert index.count() == 3
    changed = make_doc(2, text="edited wording", history_text="post number 2\nedited wording")
    assert index.add([changed]) == 1
    assert index.count() == 3
    assert ids(index, "text:edited") == [2]
    assert ids(index, "text:number") == [1, 3]


def test_duplicates_in_one_batch_keep_the_last(index: SearchIndex) -> None:
    assert index.add([make_doc(7, text="first"), make_doc(7, text="second")]) == 1
    assert index.count() == 1
    assert ids(index, "text:second") == [7]
    assert ids(index, "text:first") == []


def test_add_nothing_and_delete(index: SearchIndex) -> None:
    assert index.add([]) == 0
    index.add([make_doc(i) for i in range(1, 6)])
    assert index.delete([2, 4, 99]) == 2
    assert index.delete([]) == 0
    assert index.delete([99]) == 0
    assert index.count() == 3
    assert sorted(ids(index, "*")) == [1, 3, 5]
    assert ids(index, "number 2") == []


def test_bulk_delete_across_segments_then_add_back(tmp_path: Path, engine: str) -> None:
    # A purge deletes thousands of ids at once from an index written in many commits (segments).
    ix = open_index(tmp_path / "index", engine=engine)
    try:
        for start in range(1, 601, 100):
            ix.add([make_doc(i) for i in range(start, start + 100)])
        ix.add([make_doc(i, text="replaced") for i in range(50, 60)])  # upserts: old copies
        doomed = set(range(1, 301)) | {450, 599, 10_000}
        assert ix.delete(doomed) == 302
        assert ix.delete(doomed) == 0  # already gone: nothing counted twice
        assert ix.count() == 298
        assert set(ids(ix, "*")) == set(range(301, 601)) - {450, 599}
        assert ids(ix, "replaced") == [] and ids(ix, "number 5") == []
        ix.add([make_doc(5, text="back again")])
        assert ids(ix, "back") == [5] and ix.count() == 299
    finally:
        ix.close()
    again = open_index(tmp_path / "index", engine=engine)  # what another process sees
    try:
        assert again.count() == 299 and ids(again, "number 450") == []
    finally:
        again.close()


def test_whoosh_delete_drops_segments_left_empty(tmp_path: Path) -> None:
    ix = open_index(tmp_path / "index", engine="whoosh")
    try:
        ix.add([make_doc(i) for i in range(1, 11)])
        ix.add([make_doc(i) for i in range(11, 21)])
        assert ix.delete(range(1, 11)) == 10
    finally:
        ix.close()
    reader = whoosh_index.open_dir(str(tmp_path / "index"), indexname=INDEX_NAME).reader()
    try:
        segments = [leaf.doc_count_all() for leaf, _ in reader.leaf_readers()]
        assert segments == [10] and reader.doc_count() == 10
    finally:
        reader.close()


def test_whoosh_column_read_whole_matches_whoosh(tmp_path: Path) -> None:
    ix = open_index(tmp_path / "index", engine="whoosh")
    try:
        ix.add([make_doc(i, thread_id=1 if i % 2 else i) for i in range(1, 40)])
        ix.add([make_doc(i) for i in (3, 100, 10**6)])
    finally:
        ix.close()
    reader = whoosh_index.open_dir(str(tmp_path / "index"), indexname=INDEX_NAME).reader()
    try:
        for leaf, _ in reader.leaf_readers():
            for name in ("item_id", "thread_id", "created_sort"):
                column = leaf.column_reader(name, translate=False)
                assert list(column_array(column)) == list(column)
    finally:
        reader.close()


def test_clear_empties_the_index(index: SearchIndex) -> None:
    index.add([make_doc(i) for i in range(1, 4)])
    index.clear()
    assert index.count() == 0
    assert index.search("*").total == 0
    assert index.search("number").total == 0
    index.add([make_doc(9)])
    assert ids(index, "*") == [9]
    assert ids(index, "number") == [9]


# -- queries -------------------------------------------------------------------------------


@pytest.fixture
def talk(index: SearchIndex) -> SearchIndex:
    index.add(
        [
            make_doc(1, text="Traffic stop on Main Street tonight", author="City Police"),
            make_doc(2, text="Main traffic is slow; no stop signs", author="Jane Doe",
                     kind="comment", parent_id=1, thread_id=1),
            make_doc(3, text="Thank you officers", author="jane roe", kind="reply",
                     parent_id=2, thread_id=1, status="hidden"),
            make_doc(4, text="Community café meeting", author="Bob", status="removed"),
        ]
    )
    return index


def test_phrase_and_boolean_queries(talk: SearchIndex) -> None:
    assert ids(talk, '"traffic stop"') == [1]
    assert sorted(ids(talk, "traffic stop")) == [1, 2]  # AND by default, any order
    assert sorted(ids(talk, "traffic AND stop")) == [1, 2]
    assert sorted(ids(talk, "officers OR meeting")) == [3, 4]
    assert ids(talk, "traffic NOT signs") == [1]
    assert sorted(ids(talk, "NOT traffic")) == [3, 4]
    assert sorted(ids(talk, "(officers OR signs) AND thank")) == [3]
    assert ids(talk, "traffic ANDNOT signs") == [1]
    assert sorted(ids(talk, "traffic ANDMAYBE signs")) == [1, 2]
    assert sorted(ids(talk, "NOT (traffic OR thank)")) == [4]
    assert ids(talk, "(traffic NOT signs) OR nothingatall") == [1]


def test_andnot_leaves_out_every_item_its_right_side_matches(index: SearchIndex) -> None:
    # The right side's first item (1) comes before the left side's first (2), which the right
    # side also matches: Whoosh's AndNotMatcher only checked the two first items for equality.
    index.add([make_doc(1, text="road closed for the parade"),
               make_doc(2, text="coffee with a cop for everyone"),
               make_doc(3, text="coffee at noon")])
    assert ids(index, "coffee ANDNOT for") == [3]
    assert ids(index, "(coffee ANDNOT for) OR parade") in ([1, 3], [3, 1])
    assert ids(index, "coffee NOT for") == [3]


def test_field_queries_and_wildcards(talk: SearchIndex) -> None:
    assert sorted(ids(talk, "author:jane")) == [2, 3]
    assert sorted(ids(talk, "jane")) == [2, 3]  # author is a default field
    assert ids(talk, 'author:"jane doe"') == [2]
    assert ids(talk, "status:removed") == [4]
    assert ids(talk, "status:REMOVED") == [4]
    assert ids(talk, "kind:reply") == [3]
    assert sorted(ids(talk, "kind:com*")) == [2]
    assert sorted(ids(talk, "kind:re?ly")) == [3]
    assert sorted(ids(talk, "parent_id:1 OR parent_id:2")) == [2, 3]
    assert ids(talk, "account:CityPD platform:facebook officers") == [3]
    assert sorted(ids(talk, "offic*")) == [3]
    assert ids(talk, "cafe") == [4]  # accents fold both ways
    assert ids(talk, "CAFÉ") == [4]
    assert sorted(ids(talk, "status:hidden OR meeting")) == [3, 4]  # text OR keyword
    assert sorted(ids(talk, "thank OR (status:removed NOT bob)")) == [3]
    assert sorted(ids(talk, "parent_id:*")) == [2, 3]
    assert sorted(ids(talk, "author:* NOT author:bob")) == [1, 2, 3]


def test_id_fields_and_ranges_in_queries(talk: SearchIndex) -> None:
    assert sorted(ids(talk, "thread_id:1")) == [1, 2, 3]
    assert ids(talk, "item_id:4") == [4]
    assert sorted(ids(talk, "item_id:>=3")) == [3, 4]
    assert sorted(ids(talk, "item_id:<3")) == [1, 2]
    assert sorted(ids(talk, "item_id:[2 TO 3]")) == [2, 3]
    assert sorted(ids(talk, "item_id:{2 TO 4]")) == [3, 4]
    assert sorted(ids(talk, "external_id:ext-2 OR external_id:ext-3")) == [2, 3]
    assert sorted(ids(talk, "external_id:[ext-2 TO ext-3]")) == [2, 3]


def test_star_lists_newest_first_with_filters(index: SearchIndex) -> None:
    index.add(
        [
            make_doc(1, created_at=T0),
            make_doc(2, created_at=T0 + timedelta(days=2), status="removed"),
            make_doc(3, created_at=T0 + timedelta(days=1)),
            make_doc(4, created_at=None, status="removed"),
            make_doc(5, created_at=T0 + timedelta(days=2)),  # ties with 2: item_id breaks it
        ]
    )
    assert ids(index, "*") == [2, 5, 3, 1, 4]  # undated last
    assert ids(index, "  * ") == [2, 5, 3, 1, 4]
    with pytest.raises(QueryError, match="empty"):  # only "*" means everything
        index.search("")
    assert ids(index, "*", SearchFilters(status="removed")) == [2, 4]
    assert all(not h.matched_history_only for h in index.search("*").hits)


def test_relevance_ties_break_on_item_id(index: SearchIndex) -> None:
    index.add([make_doc(i, text="same words here", history_text="same words here")
               for i in (9, 3, 7, 1)])
    index.add([make_doc(5, text="same same same words", history_text="same same same words")])
    found = ids(index, "same")
    assert found[0] == 5  # more occurrences score higher
    assert found[1:] == [1, 3, 7, 9]


def test_current_text_outranks_history_only(index: SearchIndex) -> None:
    index.add([
        make_doc(1, text="unrelated words", history_text="taser mentioned once"),
        make_doc(2, text="taser mentioned once", history_text=""),
    ])
    assert ids(index, "taser") == [2, 1]  # text is boosted above earlier versions


def test_paging_splits_the_same_order(index: SearchIndex) -> None:
    index.add([make_doc(i) for i in range(1, 26)])
    everything = ids(index, "post")
    pages = [
        [h.item_id for h in index.search("post", limit=10, offset=start).hits]
        for start in (0, 10, 20)
    ]
    assert sum(pages, []) == everything
    assert index.search("post", limit=10, offset=20).total == 25
    assert index.search("post", limit=10, offset=40).hits == []
    empty = index.search("post", limit=0)
    assert (empty.total, empty.hits, empty.threads) == (25, [], 25)
    with pytest.raises(ValueError):
        index.search("post", limit=-1)


def test_matched_history_only(index: SearchIndex) -> None:
    index.add(
        [
            make_doc(1, text="we apologise", history_text="you idiots\nwe apologise"),
            make_doc(2, text="idiots everywhere", history_text="idiots everywhere"),
            make_doc(3, text=None, history_text="idiots removed later"),
        ]
    )
    flags = {h.item_id: h.matched_history_only for h in index.search("idiots", limit=10).hits}
    assert flags == {1: True, 2: False, 3: True}
    flags = {h.item_id: h.matched_history_only
             for h in index.search("history_text:idiots", limit=10).hits}
    assert flags == {1: True, 2: False, 3: True}
    index.add([make_doc(4, author="Idiots Anonymous", text="hello", history_text="hello")])
    hit = next(h for h in index.search("idiots", limit=10).hits if h.item_id == 4)
    assert hit.matched_history_only is False
    assert [h.matched_history_only for h in index.search("text:apologise").hits] == [False]


def test_threads_counts_all_matches_not_only_the_page(index: SearchIndex) -> None:
    docs = [make_doc(1), make_doc(10)]
    docs += [make_doc(i, kind="comment", parent_id=1, thread_id=1) for i in range(2, 6)]
    docs += [make_doc(i, kind="comment", parent_id=10, thread_id=10) for i in range(11, 13)]
    docs += [make_doc(20, text="unrelated", history_text="unrelated")]
    index.add(docs)
    results = index.search("post", limit=2)
    assert results.total == 8
    assert len(results.hits) == 2
    assert results.threads == 2
    assert index.search("*").threads == 3
    assert index.search("*", SearchFilters(kind="comment")).threads == 2


# -- filters -------------------------------------------------------------------------------


@pytest.fixture
def varied(index: SearchIndex) -> SearchIndex:
    index.add(
        [
            make_doc(1, account_id=1, platform="facebook", kind="post", status="active",
                     author="Jane Doe", created_at=T0,
                     first_captured_at=T0, last_captured_at=T0 + timedelta(days=10)),
            make_doc(2, account_id=2, platform="youtube", kind="comment", status="hidden",
                     author="jane   doe", created_at=T0 + timedelta(days=1),
                     first_captured_at=T0 + timedelta(days=1),
                     last_captured_at=T0 + timedelta(days=1)),
            make_doc(3, account_id=2, platform="youtube", kind="reply", status="removed",
                     author="Jane Doering", created_at=None,
                     first_captured_at=T0 + timedelta(days=5),
                     last_captured_at=T0 + timedelta(days=6)),
            make_doc(4, account_id=1, platform="facebook", kind="comment", status="active",
                     author=None, created_at=T0 + timedelta(days=2),
                     first_captured_at=T0 + timedelta(days=20),
                     last_captured_at=T0 + timedelta(days=20)),
        ]
    )
    return index


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(account_id=2), [2, 3]),
        (SearchFilters(platform="facebook"), [1, 4]),
        (SearchFilters(platform="YouTube"), [2, 3]),
        (SearchFilters(kind="comment"), [2, 4]),
        (SearchFilters(status="hidden"), [2]),
        (SearchFilters(author="jane doe"), [1, 2]),  # exact name, case and spacing ignored
        (SearchFilters(author="Nobody"), []),
        (SearchFilters(since=T0 + timedelta(days=1)), [2, 4]),
        (SearchFilters(until=T0 + timedelta(days=1)), [1, 2]),
        (SearchFilters(since=T0, until=T0), [1]),
        (SearchFilters(since=T0 + timedelta(days=1, seconds=1)), [4]),
        (SearchFilters(since=T0 + timedelta(days=1, microseconds=999)), [2, 4]),
        (SearchFilters(until=T0 - timedelta(microseconds=1)), []),
        (SearchFilters(since=(T0 + timedelta(days=2)).astimezone(
            zoneinfo.ZoneInfo("America/Chicago"))), [4]),
        (SearchFilters(captured_since=T0 + timedelta(days=6)), [1, 3, 4]),
        (SearchFilters(captured_until=T0 + timedelta(days=1)), [1, 2]),
        (SearchFilters(captured_since=T0 + timedelta(days=2),
                       captured_until=T0 + timedelta(days=4)), [1]),
        (SearchFilters(captured_since=T0 + timedelta(days=20),
                       captured_until=T0 + timedelta(days=20)), [4]),
        (SearchFilters(account_id=1, kind="comment", status="active"), [4]),
    ],
)
def test_every_filter(varied: SearchIndex, filters: SearchFilters, expected: list[int]) -> None:
    assert sorted(ids(varied, "*", filters)) == expected
    assert sorted(ids(varied, "post", filters)) == expected  # filters apply to real queries too
    assert sorted(ids(varied, "NOT nothingatall", filters)) == expected  # and to SQL-only ones


def test_date_fields_in_queries_are_whole_seconds(varied: SearchIndex) -> None:
    start = int(T0.timestamp())
    assert ids(varied, f"created_at:{start}") == [1]
    assert sorted(ids(varied, f"created_at:>{start}")) == [2, 4]
    assert sorted(ids(varied, "created_at:*")) == [1, 2, 4]


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["item_id:abc", "created_at:[2024 to", "(traffic OR stop", "traffic)", '"traffic stop',
     "account_id:x\nOR y", "a AND NOT NOT b"],
)
def test_malformed_query_is_one_line_query_error(talk: SearchIndex, bad: str) -> None:
    with pytest.raises(QueryError) as caught:
        talk.search(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(("cannot parse search query", "search query"))


@pytest.mark.parametrize("bad", ['"traffic stop"~3', "e.?", "3.1*4", "text:[3.1 TO 3.2]"])
def test_what_fts5_cannot_express_is_a_query_error(tmp_path: Path, bad: str) -> None:
    with open_index(tmp_path / "ix", engine="fts5") as index:
        index.add([make_doc(1)])
        with pytest.raises(QueryError, match="not supported by the fts5 index") as caught:
            index.search(bad)
        assert "\n" not in str(caught.value)


def test_balanced_punctuation_inside_quotes_is_fine(talk: SearchIndex) -> None:
    assert ids(talk, '"stop (on"') == [1]
    assert ids(talk, '"stop) on"') == [1]


# -- opening, closing, several writers -----------------------------------------------------


def test_reopen_after_close_keeps_data(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "ix"
    first = open_index(path, engine=engine)
    first.add([make_doc(1), make_doc(2)])
    first.close()
    first.close()  # twice is harmless
    with pytest.raises(SearchIndexError, match="closed"):
        first.search("*")
    with open_index(path, engine=engine, create=False) as again:
        assert again.count() == 2
        assert ids(again, "number") == [1, 2]


def test_open_without_create_needs_an_index(tmp_path: Path, engine: str) -> None:
    with pytest.raises(SearchIndexError, match="no search index at"):
        open_index(tmp_path / "missing", engine=engine, create=False)
    assert issubclass(SearchIndexError, ArchiverError)


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SearchIndexError, match="unknown search index engine 'lucene'"):
        open_index(tmp_path, engine="lucene")


def test_fts5_lives_in_its_own_file(tmp_path: Path) -> None:
    with open_index(tmp_path / "ix", engine="fts5") as index:
        index.add([make_doc(1)])
    path = tmp_path / "ix" / FILE_NAME
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT count(*) FROM docs").fetchone()[0] == 1
    finally:
        con.close()


def test_two_index_objects_write_in_turn_without_losing_docs(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "ix"
    a = open_index(path, engine=engine)
    b = open_index(path, engine=engine)
    try:
        assert a.count() == 0
        a.add([make_doc(i) for i in range(1, 51)])
        b.add([make_doc(i) for i in range(51, 101)])
        a.add([make_doc(i) for i in range(101, 151)])
        b.delete([1])
        assert a.count() == b.count() == 149
        assert ids(a, "number 150") == [150]
    finally:
        a.close()
        b.close()


def hold_write_lock(path: Path, engine: str) -> Callable[[], None]:
    """Take the index's write lock as another process would; return the release function."""
    open_index(path, engine=engine).close()
    if engine == "whoosh":
        writer = whoosh_index.open_dir(str(path), indexname=INDEX_NAME).writer()
        return writer.cancel  # type: ignore[no-any-return]
    con = sqlite3.connect(path / FILE_NAME, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")

    def release() -> None:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.close()

    return release


def test_writer_waits_for_the_lock_with_injected_sleep(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "ix"
    release = hold_write_lock(path, engine)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            release()  # the other writer finishes while we wait

    with open_index(path, engine=engine, sleep=sleep) as index:
        assert index.add([make_doc(1)]) == 1
        assert index.count() == 1
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]  # backs off


def test_writer_gives_up_after_the_timeout(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "ix"
    release = hold_write_lock(path, engine)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    try:
        with open_index(path, engine=engine, lock_timeout=5, sleep=sleep,
                        monotonic=lambda: clock[0]) as index:
            locked = "locked by another writer; gave up after 5s"
            with pytest.raises(SearchIndexError, match=locked):
                index.add([make_doc(1)])
            assert index.count() == 0  # readers are never blocked by the writer
    finally:
        release()
    assert 5 <= clock[0] < 7


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "ix"
    open_index(path, engine=engine).close()
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime
        from pathlib import Path
        from archiver.search.factory import open_index
        from archiver.search.interface import IndexDoc
        start = int(sys.argv[2])
        t = datetime(2024, 1, 1, tzinfo=UTC)
        with open_index(Path(sys.argv[1]), engine=sys.argv[3]) as ix:
            for batch in range(5):
                base = start + batch * 40
                ix.add(IndexDoc(i, 1, "facebook", "pd", str(i), "post", "active", None,
                                f"doc {i}", f"doc {i}", t, t, t, None, i, 1)
                       for i in range(base, base + 40))
                ix.search("doc")
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), str(start), engine], cwd=REPO)
        for start in (0, 1000)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    with open_index(path, engine=engine) as index:
        assert index.count() == 400
        assert index.search("doc", limit=0).total == 400


def test_memory_index_matches_like_the_disk_index(tmp_path: Path, engine: str) -> None:
    docs = [make_doc(1, text="zanzibar crew"), make_doc(2, text="quiet night", status="hidden")]
    with open_memory_index(engine) as memory, open_index(tmp_path / "ix", engine=engine) as disk:
        memory.add(docs)
        disk.add(docs)
        for q, filters in [("zanzibar", None), ("*", SearchFilters(status="hidden")),
                           ("NOT zanzibar", None), ("item_id:>=1", None)]:
            assert memory.matching(q, filters) == disk.matching(q, filters)
        assert memory.matching("zanzibar") == {1}


# -- hostile and odd input -----------------------------------------------------------------


def test_hostile_visitor_text_is_indexed_and_found(index: SearchIndex) -> None:
    docs = [
        make_doc(1, text="<script>alert('x')</script> <b>bold</b>", history_text="<script>"),
        make_doc(2, text="Überwachung 警察 \u0000 nul \ud800 lone surrogate 🚓",
                 author="\ud83d broken", history_text="\ud800", external_id="e\x00\ud800"),
        make_doc(3, text=None, author=None, history_text=""),
        make_doc(4, text="", author="", history_text=""),
        make_doc(5, text=("word " * 40_000) + "needle " + "x" * 100_000, history_text=""),
        make_doc(6, text="AND OR NOT ( ) \" * ? : [ ] { } ~ ^", history_text=""),
        make_doc(7, text="fts5 syntax: NEAR(a b) {text} : \"x\" * ^ - + col:val", history_text=""),
    ]
    assert index.add(docs) == 7
    assert ids(index, "alert") == [1]
    assert ids(index, "überwachung") == [2]
    assert ids(index, "警察") == [2]
    assert ids(index, "surrogate") == [2]
    assert ids(index, "needle") == [5]
    assert ids(index, "near") == [7]
    assert index.count() == 7
    assert sorted(ids(index, "*")) == [1, 2, 3, 4, 5, 6, 7]


@examples(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), q=st.text(max_size=60))
def test_any_text_and_any_query_never_crash(index: SearchIndex, text: str, q: str) -> None:
    index.add([make_doc(1, text=text, history_text=text, author=text[:20])])
    try:
        results = index.search(q)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert results.total in (0, 1)


_QUERY_PIECES = st.sampled_from([
    "traffic", "stop", "café", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")", '"', "*", "?",
    "~", "^2", "author:", "status:", "kind:", "item_id:", "thread_id:", "external_id:",
    "created_at:", "history_text:", "text:", "[", "]", "{", "}", " TO ", ">=", "<", "3", "x*",
    "-", "+", ":", "NEAR", "\x00", "\ud800", "警察", "_", "e.g", "3.14",
])


@examples(max_examples=300, deadline=None)
@given(pieces=st.lists(st.one_of(_QUERY_PIECES, st.text(max_size=8)), max_size=12),
       spaced=st.booleans())
def test_fts5_compiler_answers_or_refuses_never_crashes(pieces: list[str], spaced: bool) -> None:
    text = (" " if spaced else "").join(pieces)
    try:
        parsed = parse_query(text)
        if parsed.tree is not None:
            compile_query(parsed.tree, text)
            if parsed.mentions_history:
                compile_query(parsed.current_only(), text)
    except QueryError as exc:
        assert "\n" not in str(exc)
    with open_memory_index("fts5") as index:
        index.add([make_doc(1, text="traffic stop café 警察 3.14 e.g x_y")])
        try:
            results = index.search(text, limit=5)
        except QueryError as exc:
            assert "\n" not in str(exc)
        else:
            assert results.total in (0, 1)


def test_ten_thousand_docs_in_one_batch(tmp_path: Path, engine: str) -> None:
    words = ["traffic", "stop", "officer", "thank", "community", "meeting", "street", "park"]
    docs = [
        make_doc(
            i,
            text=f"{words[i % 8]} {words[(i * 3) % 8]} comment {i} about the {words[(i * 5) % 8]}",
            history_text=f"{words[i % 8]} earlier text {i}",
            kind="comment" if i % 10 else "post",
            thread_id=i - i % 10,
            created_at=T0 + timedelta(minutes=7 * i),
            first_captured_at=T0 + timedelta(days=i // 2000, seconds=i % 2000 // 20),
            last_captured_at=T0 + timedelta(days=i // 2000, seconds=i % 2000 // 20),
        )
        for i in range(1, 10_001)
    ]
    with open_index(tmp_path / "ix", engine=engine) as index:
        started = time.perf_counter()
        assert index.add(docs) == 10_000
        added = time.perf_counter() - started
        started = time.perf_counter()
        found = index.search("traffic OR stop", limit=20)
        searched = time.perf_counter() - started
        print(f"\n{engine} 10k docs: add {added:.2f}s, one search {searched * 1000:.1f} ms, "
              f"{found.total} hits in {found.threads} threads")
        assert index.count() == 10_000
        assert found.total > 0
        assert index.add(docs[:1000]) == 1000  # replacing is upserting, not duplicating
        assert index.count() == 10_000


# -- configuration -------------------------------------------------------------------------


def test_index_engine_setting(tmp_path: Path) -> None:
    from archiver.config import load_settings

    base = {"ARCHIVER_HOME": str(tmp_path)}
    assert load_settings(base).index_engine == "whoosh"
    assert load_settings({**base, "ARCHIVER_INDEX_ENGINE": "FTS5"}).index_engine == "fts5"
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "ARCHIVER_INDEX_ENGINE": "lucene"})
    assert str(caught.value) == "ARCHIVER_INDEX_ENGINE: 'lucene' is not one of whoosh, fts5"
    toml = tmp_path / "archiver.toml"
    toml.write_text('index_engine = "fts5"\n')
    assert load_settings({**base, "ARCHIVER_CONFIG": str(toml)}).index_engine == "fts5"


# -- the archive on the fts5 engine, through the real capture path ------------------------


def test_archive_on_fts5_captures_searches_and_holds(settings: Settings, tmp_path: Path) -> None:
    from archiver.initialise import initialise
    from archiver.retention.holds import HoldSpec, create_hold, hold_detail
    from archiver.search.items import search_items
    from archiver.standins.dataset import load_sample
    from archiver.standins.graph_server import GraphServer
    from archiver.store.archive import open_archive
    from tests.support.retention import TOKEN_ENV, capture_sample

    fts5 = dataclasses.replace(settings, index_engine="fts5")
    initialise(fts5)
    assert (fts5.index_dir / FILE_NAME).exists()
    with open_archive(fts5) as archive, GraphServer(load_sample(), page_size=5) as server:
        account = capture_sample(archive, server)
        everything = search_items(archive, "*", SearchFilters(), limit=1000)
        assert everything.total == archive.index.count() > 0
        word = everything.results[0]["text"].split()[0]
        assert search_items(archive, word, SearchFilters()).total > 0
        # A hold's query is tested on new items as the archive's engine reads it.
        create_hold(archive, HoldSpec(name="threats", matter="Threats", created_by="Detective",
                                      query="zanzibar"))
        comment_on_first_post(server, "I will bring the zanzibar crew")
        from archiver.capture.account import capture_account

        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=lambda _s: None)
        assert result.status == "succeeded" and result.new_items == 1
        assert len(hold_detail(archive, "threats")["item_ids"]) == 1
        total = archive.index.count()
    # Switching back to Whoosh: init finds the new index empty and rebuilds it.
    whoosh = dataclasses.replace(settings, index_engine="whoosh")
    report = initialise(whoosh)
    assert f"rebuilt from the database: {total} items" in report["index"]
    with open_archive(whoosh) as archive:
        assert search_items(archive, "zanzibar", SearchFilters()).total == 1


# -- the engines agree on a larger archive ---------------------------------------------------


def _archive_docs(seed: int) -> list[IndexDoc]:
    import random

    rnd = random.Random(seed)
    words = ["road", "closed", "thank", "officers", "missing", "dog", "parade", "scam", "k9"]
    docs = []
    for i in range(1, 241):
        thread = i if i % 12 == 1 else i - (i - 1) % 12
        docs.append(make_doc(
            i,
            account_id=1 + i % 2,
            platform=("facebook", "youtube")[i % 2],
            kind="post" if thread == i else rnd.choice(["comment", "reply"]),
            status=rnd.choices(["active", "hidden", "removed"], [8, 1, 1])[0],
            author=rnd.choice(["Jane Doe", "Sam Roe", None]),
            text=" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 6))) or None,
            history_text=rnd.choice(["", "", "scam edited away"]),
            created_at=None if i % 37 == 0 else T0 + timedelta(minutes=rnd.randint(0, 5000)),
            thread_id=thread,
            parent_id=None if thread == i else thread,
        ))
    return docs


def test_engines_agree_across_segments_updates_and_deletes(tmp_path: Path) -> None:
    """Whoosh (cached filter sets, column windows) and FTS5 (SQL) give the same totals, threads
    and pages, on an index of several segments with replaced and deleted items."""
    docs = _archive_docs(7)
    engines = {name: open_index(tmp_path / name, engine=name) for name in IndexEngine}
    try:
        for ix in engines.values():
            for start in range(0, 240, 60):  # four batches: four Whoosh segments
                ix.add(docs[start:start + 60])
            ix.add([dataclasses.replace(d, status="active", text="road closed again")
                    for d in docs[10:200:9]])
            ix.delete(range(100, 130))
        cases = [
            ("*", SearchFilters()),
            ("*", SearchFilters(status="active")),  # most of the archive: the deny set
            ("*", SearchFilters(status="removed")),
            ("*", SearchFilters(kind="comment", status="active", account_id=2)),
            ("*", SearchFilters(since=T0 + timedelta(minutes=2000))),
            ("*", SearchFilters(until=T0 + timedelta(minutes=1000), platform="youtube")),
            ("*", SearchFilters(author="jane doe")),
            ("*", SearchFilters(captured_since=T0 + timedelta(hours=100))),
            ("road", SearchFilters(status="active")),
            ("scam", SearchFilters()),
            ("thank officers", SearchFilters(since=T0 + timedelta(minutes=1000),
                                             until=T0 + timedelta(minutes=4000))),
            ('"road closed"', SearchFilters(kind="reply")),
        ]
        for q, filters in cases:
            answers = {}
            for name, ix in engines.items():
                full = ix.search(q, filters, limit=1000)
                pages = [hit.item_id for off in range(0, full.total, 7)
                         for hit in ix.search(q, filters, limit=7, offset=off).hits]
                assert pages == [hit.item_id for hit in full.hits], (name, q, filters)
                order = pages if q == "*" else sorted(pages)  # ranking formulas differ
                answers[name] = (full.total, full.threads, order)
            assert answers["whoosh"] == answers["fts5"], (q, filters)
            assert answers["whoosh"][0] > 0 or q == '"road closed"', (q, filters)
    finally:
        for ix in engines.values():
            ix.close()


def test_whoosh_merges_small_segments_keeps_settled_ones_and_compacts_sparse(
    tmp_path: Path,
) -> None:
    from archiver.search.whoosh.index import WhooshSearchIndex

    ix = WhooshSearchIndex.open(tmp_path / "ix", create=True, lock_timeout=5, sleep=time.sleep,
                                monotonic=time.monotonic, settled_docs=40)

    def segment_sizes() -> list[tuple[int, int]]:
        return sorted((s.doc_count_all(), s.deleted_count()) for s in ix._ix._segments())

    try:
        for start in range(1, 1201, 40):  # 30 settled segments: Whoosh's policy merges these
            ix.add([make_doc(i) for i in range(start, start + 40)])
        assert segment_sizes() == [(40, 0)] * 30
        for start in range(2001, 2061, 6):  # ten small commits merge as they come
            ix.add([make_doc(i) for i in range(start, start + 6)])
        small = [size for size, _ in segment_sizes() if size < 40]
        assert len(small) < 10 and sum(small) == 60
        ix.delete(range(1, 22))  # 21 of the first segment's 40: more than half
        ix.add([make_doc(5000)])
        assert (40, 21) not in segment_sizes() and segment_sizes().count((40, 0)) == 29
        assert ix.count() == 1200 - 21 + 60 + 1
        assert [h.item_id for h in ix.search("*", limit=2).hits] == [5000, 2060]
        assert [h.item_id for h in ix.search("number", limit=2000).hits if h.item_id < 41] == \
            list(range(22, 41))
    finally:
        ix.close()
