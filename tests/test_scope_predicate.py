"""A saved hold or request query, tested as a predicate on new items, finds exactly what each
engine finds: many queries of the query language over the sample page, on Whoosh and FTS5.

The documents are built from the sample page captured through the real path, then changed
(an edit, a hide, a deletion, a new comment, visitor text with accents and odd punctuation) and
captured again, so they carry history, statuses, threads and missing dates. The predicate
(:func:`archiver.retention.scope.new_items_in_scope`, what holds and requests run on stored
items) must give the same ids as each engine's index, or refuse exactly the queries that engine
refuses. The archive is SQLite only: the documents are what is compared, not the database.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.config import IndexEngine, Settings
from archiver.errors import QueryError
from archiver.initialise import initialise
from archiver.retention.scope import new_items_in_scope
from archiver.search.factory import open_index
from archiver.search.indexing import build_docs
from archiver.search.interface import IndexDoc, SearchFilters, SearchIndex, epoch_seconds
from archiver.search.predicate import DocView, docs_matching
from archiver.search.query import TEXT_ANALYZER
from archiver.standins.dataset import Author, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.archive import open_archive
from archiver.store.models import Item
from tests.support.retention import TOKEN_ENV, capture_sample, comment_on_first_post

# Words the two engines cut differently (dots inside a word), accents, an underscore.
ODD_TEXT = "Café «clôture» 3.14 e.g. www.springfield.example foo_bar ROAD-closed Überweg 警察 x"


@dataclass
class Sample:
    docs: list[IndexDoc]
    views: dict[str, list[DocView]]  # the documents as each engine reads them
    indexes: dict[str, SearchIndex]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sample]:
    home = tmp_path_factory.mktemp("predicate")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'archive.sqlite3'}",
                        store_url=(home / "blobs").as_uri(), index_dir=home / "index")
    initialise(settings)
    with open_archive(settings) as archive, GraphServer(load_sample(), page_size=5) as server:
        account = capture_sample(archive, server)
        server.apply_second_state()
        comment_on_first_post(server, ODD_TEXT, author=Author(id="778", name="Zoë O'Brien"))
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=lambda _s: None)
        assert result.status == "succeeded", result.error
        with archive.sessions() as s:
            docs = build_docs(s, list(s.scalars(select(Item.id).order_by(Item.id))))
    # One undated item, so date filters and created_at:* have something to leave out.
    docs[-1] = replace(docs[-1], created_at=None)
    indexes = {name: open_index(home / name, engine=name) for name in IndexEngine}
    for ix in indexes.values():
        ix.add(docs)
    yield Sample(docs, {name: [DocView(d, name) for d in docs] for name in IndexEngine}, indexes)
    for ix in indexes.values():
        ix.close()


def _words(docs: list[IndexDoc]) -> Counter[str]:
    return Counter(t.text for d in docs for value in (d.text, d.history_text, d.author)
                   for t in TEXT_ANALYZER(value or ""))


def _queries(docs: list[IndexDoc]) -> list[str]:
    """Queries of every kind the language has, built from the sample's own words and ids."""
    rnd = random.Random(13)
    counts = _words(docs)
    common = [w for w, _ in counts.most_common(12)]
    rare = rnd.sample(sorted(w for w, n in counts.items() if n == 1), 12)
    words = common + rare
    out: list[str] = []
    for w in words:
        out += [w, w.upper(), f"{w[:3]}*", f"?{w[1:]}", f"{w[0]}*{w[-1]}", f"*{w[-3:]}",
                f"text:{w}", f"history_text:{w}", f"author:{w}", f"NOT {w}",
                f"[{w[0]}x]{w[1:]}"]
    for a, b in zip(words, reversed(words), strict=True):
        out += [f"{a} {b}", f"{a} OR {b}", f"{a} NOT {b}", f"{a} ANDNOT {b}",
                f"{a} ANDMAYBE {b}", f"({a} OR {b}) AND {common[0]}", f"NOT ({a} OR {b})",
                f"{a} REQUIRE {b}"]
    for doc in docs[:20]:
        tokens = [t.text for t in TEXT_ANALYZER(doc.text or "")]
        if len(tokens) >= 3:
            out += [f'"{tokens[0]} {tokens[1]}"', f'"{tokens[0]} {tokens[1]} {tokens[2]}"',
                    f'"{tokens[0]} {tokens[2]}"~2', f'"{tokens[1]} {tokens[0]}"~3',
                    f'text:"{tokens[1]} {tokens[2]}"', f'"{tokens[0]} {tokens[2]}"']
    dated = sorted(epoch_seconds(d.created_at) for d in docs if d.created_at)
    middle, first = dated[len(dated) // 2], docs[0]
    comment = next(d for d in docs if d.kind == "comment")
    out += [
        "status:hidden", "status:removed", "status:ACTIVE", "kind:comment", "kind:reply",
        "kind:post", "kind:p?st", "kind:com*", "kind:[a TO d]", "platform:facebook",
        f"account:{first.account}", f'author:"{first.author}"', "author_exact:jane*",
        f"external_id:{comment.external_id}", f"external_id:{comment.external_id[:4]}*",
        f"external_id:[{first.external_id} TO {comment.external_id}]",
        f"item_id:{comment.item_id}", f"item_id:[{first.item_id} TO {comment.item_id}]",
        f"item_id:{{{first.item_id} TO {comment.item_id}}}", f"item_id:>={comment.item_id}",
        f"thread_id:{comment.thread_id}", f"parent_id:{comment.parent_id}", "parent_id:*",
        f"account_id:{first.account_id}", f"created_at:>={middle}", f"created_at:<{middle}",
        f"created_at:[{dated[0]} TO {middle}]", f"created_at:{dated[0]}", "created_at:*",
        f"first_captured_at:>={epoch_seconds(first.first_captured_at)}",
        f"last_captured_at:<={epoch_seconds(first.last_captured_at)}", "text:*",
        "history_text:*", "author:*", "author:* NOT author:jane", "text:[a TO c]",
        "author:[j TO k]", "text:{m TO p]", "[park TO parks]", "text:[TO and]",
        "status:hidden OR parade", "cafe", "CAFÉ", "cl?ture", "3.14", "e.g", "foo_bar",
        "road-closed", '"road closed"', "überweg", "警察", "zoë", "o'brien", "seq:1", "e",
        "springfield", "www.springfield*", "3.1*", '"14 e.g"', '"e.g www"', "example",
        "created_sort:1", '"3.14"~2', "3.1*4", "e.?", "text:[3.1 TO 3.2]", "*",
    ]
    return out


def _filters(docs: list[IndexDoc]) -> list[SearchFilters]:
    dated = sorted(d.created_at for d in docs if d.created_at)
    captured = sorted(d.last_captured_at for d in docs)
    return [
        SearchFilters(),
        SearchFilters(account_id=docs[0].account_id, status="active"),
        SearchFilters(kind="comment"),
        SearchFilters(since=dated[len(dated) // 3], until=dated[2 * len(dated) // 3]),
        SearchFilters(until=dated[len(dated) // 2] - timedelta(microseconds=1)),
        SearchFilters(author=str(docs[0].author).upper(), platform="Facebook"),
        SearchFilters(captured_since=captured[-1], captured_until=captured[-1]),
    ]


def _engine_answer(index: SearchIndex, q: str, filters: SearchFilters) -> object:
    try:
        return sorted(index.matching(q, filters))
    except QueryError:
        return "refused"


def _predicate_answer(sample: Sample, q: str, filters: SearchFilters, engine: str) -> object:
    views = sample.views[engine]
    found, problem = new_items_in_scope(views, q, filters, engine)
    if problem is not None:
        # Refused: the scope then covers everything its filters admit, never less.
        assert found == docs_matching(views, "*", filters)
        assert "\n" not in problem
        return "refused"
    return sorted(found)


def _compare(sample: Sample, q: str, filters: SearchFilters) -> None:
    for engine, index in sample.indexes.items():
        assert _predicate_answer(sample, q, filters, engine) == _engine_answer(
            index, q, filters), (engine, q, filters)


def test_the_predicate_finds_what_each_engine_finds_on_the_sample(sample: Sample) -> None:
    queries = _queries(sample.docs)
    assert len(queries) > 400
    matched = 0
    every = _filters(sample.docs)
    for n, q in enumerate(queries):
        # Each query unfiltered and under one of the filters in turn.
        for filters in (every[0], every[1 + n % (len(every) - 1)]):
            _compare(sample, q, filters)
        answer = _engine_answer(sample.indexes["whoosh"], q, SearchFilters())
        matched += answer not in ("refused", [])
    assert matched > len(queries) // 2  # most queries match something: a real comparison


def _pieces() -> list[str]:
    words = ["road", "closed", "parade", "jane", "thank", "officers", "street", "cafe",
             "closure", "main"]
    return [*words, *(f"{w[:3]}*" for w in words[:4]), "?oad", "AND", "OR", "NOT", "ANDNOT",
            "www.", "e.g", "14", "springfield", ".",
            "(", ")", '"', "*", "~2", "^2", "author:", "status:", "kind:", "text:",
            "history_text:", "item_id:", "parent_id:", "[", "]", "{", "}", " TO ", ">=", "3",
            "hidden", "comment", "x*", "-", ":", "é", "3.14", "_"]


@examples(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_pieces()), min_size=1, max_size=7),
       spaced=st.booleans(), which=st.integers(0, 6))
def test_any_query_gives_the_predicate_and_each_engine_the_same_items(
        sample: Sample, pieces: list[str], spaced: bool, which: int) -> None:
    q = (" " if spaced else "").join(pieces)
    _compare(sample, q, _filters(sample.docs)[which])


def test_a_node_the_predicate_cannot_test_is_refused_not_guessed(sample: Sample) -> None:
    """Were the parser to produce a node the predicate does not know, the query is refused
    (the scope then covers more), never answered with some other set."""
    from whoosh import query

    from archiver.search import predicate

    unknown = query.FuzzyTerm("text", "road")
    with pytest.raises(QueryError, match="cannot be tested"):
        predicate._Compiler("road~", "whoosh").compile(unknown)
