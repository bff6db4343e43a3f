"""Segment files read through views of one map behave as Whoosh's own copies do."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from archiver.search.factory import open_index
from archiver.search.interface import SearchFilters
from archiver.search.whoosh.schema import INDEX_NAME
from archiver.search.whoosh.storage import MappedFileStorage, _MappedFile, _ViewReader
from tests.test_search_engines import make_doc

_OPS = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 40)),
    st.tuples(st.just("readline"), st.integers(-1, 40)),
    st.tuples(st.just("seek"), st.integers(0, 60)),
    st.tuples(st.just("seek_end"), st.integers(-60, 0)),
    st.tuples(st.just("seek_cur"), st.integers(-10, 10)),
), max_size=30)


@given(data=st.binary(max_size=50), ops=_OPS)
def test_view_reader_reads_like_bytesio(data: bytes, ops: list[tuple[str, int]]) -> None:
    view, copy = _ViewReader(memoryview(data)), io.BytesIO(data)
    for op, arg in ops:
        if op == "seek_end":
            assert view.seek(arg, 2) == copy.seek(max(arg, -len(data)), 2)
        elif op == "seek_cur":
            arg = max(arg, -copy.tell())
            assert view.seek(arg, 1) == copy.seek(arg, 1)
        elif op == "seek":
            assert view.seek(arg) == copy.seek(arg)
        else:
            assert getattr(view, op)(arg) == getattr(copy, op)(arg)
        assert view.tell() == copy.tell()


def test_subsets_are_views_of_the_same_bytes() -> None:
    whole = _MappedFile(memoryview(b"0123456789"), name="x.seg")
    part = whole.subset(2, 6)
    assert part.get(1, 3) == b"345"
    assert part.subset(1, 2).get(0, 2) == b"34"
    assert part._buf.obj is whole._buf.obj  # no copy was made


def test_index_opened_through_views_answers_like_whoosh_own(tmp_path: Path) -> None:
    path = tmp_path / "index"
    with open_index(path, engine="whoosh") as ix:  # opens through MappedFileStorage
        for start in range(1, 200, 50):
            ix.add([make_doc(i, text=f"word{i % 7} common",
                             status=("active", "hidden")[i % 5 == 0])
                    for i in range(start, start + 50)])
        ix.delete(range(20, 40))
        ours = [(q, [h.item_id for h in ix.search(q, f, limit=500).hits])
                for q, f in [("common", SearchFilters()),
                             ("word3", SearchFilters(status="active")),
                             ("*", SearchFilters(status="hidden"))]]
    plain = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
    mapped = MappedFileStorage(str(path)).open_index(INDEX_NAME)
    with plain.searcher() as a, mapped.searcher() as b:
        assert a.doc_count() == b.doc_count() == 180
        assert list(a.reader().all_terms()) == list(b.reader().all_terms())
        for field, term in (("text", "common"), ("status", "active"), ("item_id", 60)):
            assert a.doc_frequency(field, term) == b.doc_frequency(field, term)
        for docnum in range(0, a.doc_count_all(), 17):
            assert a.stored_fields(docnum) == b.stored_fields(docnum)
    assert len(ours[0][1]) == 180 and all(i % 5 == 0 for i in ours[2][1])
