"""The query language both engines read: what it refuses, and what both answer alike.

Whoosh and FTS5 read the same syntax (README, "Configuration"): wildcards anywhere in a word,
ranges over words, numbers and dates, and the same one-line errors for queries that mean
nothing (a dangling operator, an empty query, an oversized one).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from archiver.config import IndexEngine, Settings
from archiver.errors import ConfigError, QueryError
from archiver.search.factory import open_index
from archiver.search.interface import SearchFilters, SearchIndex
from tests.support.retention import comment_on_first_post
from tests.test_search_engines import T0, make_doc

MAX_CHARS = 4096  # the documented cap (README, search syntax)


@pytest.fixture(params=list(IndexEngine))
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def words(tmp_path: Path, engine: str) -> Iterator[SearchIndex]:
    ix = open_index(tmp_path / "index", engine=engine)
    ix.add([
        make_doc(1, text="Road closure on Main Street", author="City Police"),
        make_doc(2, text="The enclosure at the park is open", author="Jane Doe",
                 history_text="the closure at the park"),
        make_doc(3, text="closures everywhere, clos du vin", author="Bob Roe"),
        make_doc(4, text="Traffic stop tonight", author="Alice Abel", status="removed"),
        make_doc(5, text="trafic jam and traffik", author="Carl Cole"),
        make_doc(6, text="Café meeting about the parade", author="Dana Dee"),
        make_doc(7, text="or and not: words people write", author="Ed Or"),
    ])
    yield ix
    ix.close()


def found(index: SearchIndex, q: str, filters: SearchFilters | None = None) -> list[int]:
    results = index.search(q, filters or SearchFilters(), limit=100)
    return sorted(hit.item_id for hit in results.hits)


# -- wildcards and ranges: the same answers on both engines ------------------------------------

AGREEMENT = [
    ("?losure", [1, 2]),  # one character, then the rest exactly (2: in its history)
    ("*losure", [1, 2]),
    ("*losure*", [1, 2, 3]),
    ("cl*re", [1, 2]),  # the history text is searched too
    ("c?os", [3]),
    ("tra?fi?", [4, 5]),
    ("traf*c", [4, 5]),
    ("*affi*", [4, 5]),
    ("[cd]losur?", [1, 2]),  # fnmatch's character classes, as Whoosh reads them
    ("c[lx]osure?", [3]),
    ("caf?", [6]),  # accents fold on both sides
    ("CAF?", [6]),
    ("text:?losure OR text:*ffik", [1, 5]),
    ("author:?ane", [2]),
    ("*losure NOT text:road", [2]),
    ("text:[closure TO closures]", [1, 3]),
    ("text:{closure TO closures]", [3]),
    ("text:[tonight TO]", [3, 4, 5, 7]),
    ("text:[TO and]", [5, 6, 7]),
    ("author:[a TO c]", [3, 4]),  # abel, alice, bob: "carl" sorts after "c"
    ("[park TO parks]", [2]),  # no field: the default fields, as for a bare word
    ("kind:p?st", [1, 2, 3, 4, 5, 6, 7]),
    ("item_id:[2 TO 4]", [2, 3, 4]),
    ("item_id:{2 TO 4}", [3]),
]


@pytest.mark.parametrize(("q", "expected"), AGREEMENT)
def test_wildcards_and_ranges_give_the_same_results_on_both_engines(
    tmp_path: Path, q: str, expected: list[int]
) -> None:
    answers = {}
    for name in IndexEngine:
        with open_index(tmp_path / name, engine=name) as ix:
            ix.add([
                make_doc(1, text="Road closure on Main Street", author="City Police"),
                make_doc(2, text="The enclosure at the park is open", author="Jane Doe",
                         history_text="the closure at the park"),
                make_doc(3, text="closures everywhere, clos du vin", author="Bob Roe"),
                make_doc(4, text="Traffic stop tonight", author="Alice Abel",
                         status="removed"),
                make_doc(5, text="trafic jam and traffik", author="Carl Cole"),
                make_doc(6, text="Café meeting about the parade", author="Dana Dee"),
                make_doc(7, text="or and not: words people write", author="Ed Or"),
            ])
            results = ix.search(q, limit=100)
            answers[name] = (results.total, sorted(hit.item_id for hit in results.hits))
    assert answers["whoosh"] == answers["fts5"] == (len(expected), expected), q


def test_date_ranges_in_queries_agree(words: SearchIndex) -> None:
    start = int((T0 + timedelta(hours=2)).timestamp())
    end = int((T0 + timedelta(hours=4)).timestamp())
    assert found(words, f"created_at:[{start} TO {end}]") == [2, 3, 4]
    assert found(words, f"created_at:{{{start} TO {end}]") == [3, 4]
    assert found(words, f"created_at:[{start} TO {end}] AND *losure*") == [2, 3]


def test_wildcard_matching_only_history_is_marked(words: SearchIndex) -> None:
    hits = {h.item_id: h.matched_history_only
            for h in words.search("?losure", limit=10).hits}
    assert hits == {1: False, 2: True}
    hits = {h.item_id: h.matched_history_only
            for h in words.search("cl*re", limit=10).hits}
    assert hits == {1: False, 2: True}


def test_a_wildcard_matching_no_word_finds_nothing(words: SearchIndex) -> None:
    assert found(words, "zz?zz") == []
    assert found(words, "zz?zz OR road") == [1]
    assert found(words, "NOT zz?zz") == [1, 2, 3, 4, 5, 6, 7]


def test_wildcards_see_words_added_and_forget_words_deleted(words: SearchIndex) -> None:
    words.add([make_doc(8, text="a new foreclosure")])
    assert found(words, "*closure") == [1, 2, 8]
    words.delete([1, 8])
    assert found(words, "*closure") == [2]


# -- queries that mean nothing are refused -----------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("closure OR", "'OR'"),
        ("OR closure", "'OR'"),
        ("AND OR", "'AND'"),
        ("closure AND", "'AND'"),
        ("closure ANDNOT", "'ANDNOT'"),
        ("ANDMAYBE closure", "'ANDMAYBE'"),
        ("a OR OR b", "'OR'"),
        ("a AND OR b", "'AND'"),
        ("NOT", "'NOT'"),
        ("closure NOT", "'NOT'"),
        ("a AND NOT NOT b", "'NOT'"),
        ("(OR closure)", "'OR'"),
        ("(closure OR)", "'OR'"),
        ("closure OR(road)", "'OR'"),
        ("author:(jane OR)", "'OR'"),
        ("", "empty"),
        ("   ", "empty"),
        ("()", "nothing to search"),
        ("closure AND ()", "nothing to search"),
        ("!!!", "nothing to search"),
    ],
)
def test_queries_that_mean_nothing_are_one_line_errors(
    words: SearchIndex, bad: str, needle: str
) -> None:
    with pytest.raises(QueryError) as caught:
        words.search(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert needle in message, message


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("closure OR road", [1, 2]),
        ("NOT closure", [3, 4, 5, 6, 7]),
        ("road NOT closure", []),
        ("(closure OR traffic) AND NOT road", [2, 4]),
        ("or", [7]),  # the lower-case word is a word
        ('"and not"', [7]),  # quoted: words, not operators
        ("author:or", [7]),
        ("*", [1, 2, 3, 4, 5, 6, 7]),
    ],
)
def test_operators_in_place_and_words_still_work(
    words: SearchIndex, q: str, expected: list[int]
) -> None:
    assert found(words, q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("<script>alert(1)</script>", [8]),  # pasted from a hostile comment: its words
        ('"<script>alert(1)</script>"', [8]),
        ("<tonight>", [4]),
        ("<script>", [8]),
        ("a<b", []),
        ("item_id:<3", [1, 2]),  # a relation right after a field is a range
        ("item_id:>=7", [7, 8]),
        ("item_id:<=2 OR <road>", [1, 2]),
    ],
)
def test_angle_brackets_are_words_unless_they_follow_a_field(
    words: SearchIndex, q: str, expected: list[int]
) -> None:
    words.add([make_doc(8, text="nice page <script>alert(1)</script>", author="Troll")])
    assert found(words, q) == expected


def test_a_huge_query_is_refused_quickly_before_parsing(words: SearchIndex) -> None:
    huge = "closure OR " * 10_000 + "road"  # about 110 KB
    started = time.perf_counter()
    with pytest.raises(QueryError) as caught:
        words.search(huge)
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert "\n" not in message and f"{MAX_CHARS}" in message and "too long" in message
    at_limit = " OR ".join(["road"] * ((MAX_CHARS + 4) // 8))
    assert len(at_limit) <= MAX_CHARS
    assert found(words, at_limit) == [1]


# -- the command line --------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def _one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]


@pytest.mark.parametrize("engine_name", list(IndexEngine))
def test_cli_refuses_meaningless_queries_in_one_line(
    settings_env: dict[str, str], engine_name: str
) -> None:
    env = {**settings_env, "ARCHIVER_INDEX_ENGINE": engine_name}
    assert _cli(env, "init").returncode == 0
    _one_line_error(_cli(env, "search", "closure OR"), "'OR'")
    _one_line_error(_cli(env, "search", ""), "empty")
    _one_line_error(_cli(env, "search", "x" * 100_000), "too long")
    _one_line_error(_cli(env, "hold", "create", "h1", "--matter", "M", "--query", "closure OR"),
                    "'OR'")
    listed = _cli(env, "hold", "list", "--json")
    assert listed.returncode == 0 and "h1" not in listed.stdout
    assert _cli(env, "search", "?losure").returncode == 0


# -- holds and the engine switch ------------------------------------------------------------


def test_capture_with_a_leading_wildcard_hold_works_on_fts5(settings: Settings) -> None:
    from archiver.capture.account import capture_account
    from archiver.initialise import initialise
    from archiver.retention.holds import HoldSpec, create_hold, hold_detail
    from archiver.standins.dataset import load_sample
    from archiver.standins.graph_server import GraphServer
    from archiver.store.archive import open_archive
    from tests.support.retention import TOKEN_ENV, capture_sample

    # The hold is made on Whoosh; then the archive switches to FTS5 (README: set the engine,
    # run `archiver init`) and captures again.
    initialise(settings)
    with GraphServer(load_sample(), page_size=5) as server:
        with open_archive(settings) as archive:
            account = capture_sample(archive, server)
            created = create_hold(archive, HoldSpec(name="closures", matter="Road",
                                                    created_by="Detective", query="?losure"))
        fts5 = dataclasses.replace(settings, index_engine="fts5")
        initialise(fts5)
        with open_archive(fts5) as archive:
            comment_on_first_post(server, "another closure on Oak Street, no warning")
            result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                     sleep=lambda _s: None)
            assert result.status == "succeeded", result.error
            assert result.new_items == 1
            held = hold_detail(archive, "closures")["item_ids"]
            assert len(held) == created["items"] + 1
            found = archive.index.search("?losure", SearchFilters(), limit=100)
            assert sorted(h.item_id for h in found.hits) == sorted(held)


def test_init_refuses_an_engine_that_cannot_run_a_saved_query(settings: Settings) -> None:
    from archiver.initialise import initialise
    from archiver.retention.holds import HoldSpec, create_hold
    from archiver.store.archive import open_archive

    initialise(settings)  # Whoosh: a sloppy phrase is fine here
    with open_archive(settings) as archive:
        create_hold(archive, HoldSpec(name="near-miss", matter="M", created_by="Legal",
                                      query='"road closed"~3'))
    fts5 = dataclasses.replace(settings, index_engine="fts5")
    with pytest.raises(ConfigError) as caught:
        initialise(fts5)
    message = str(caught.value)
    assert "\n" not in message
    assert "near-miss" in message and "fts5" in message and "~3" in message
    assert initialise(settings)["index"].startswith(str(settings.index_dir))  # Whoosh still ok


_PATTERN_CHARS = st.sampled_from(list("closuretrafic?*-") + ["[cl]", "[!x]", "[a-z]", "é", "ô",
                                                            "_", " OR ", " ", "(", ")", '"'])


@examples(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_PATTERN_CHARS, min_size=1, max_size=8),
       field=st.sampled_from(["", "text:", "author:", "history_text:"]))
def test_any_wildcard_gives_the_same_items_on_both_engines(
    agreeing: dict[str, SearchIndex], pieces: list[str], field: str
) -> None:
    q = field + "".join(pieces)
    answers: dict[str, object] = {}
    for name, ix in agreeing.items():
        try:
            answers[name] = found(ix, q)
        except QueryError as exc:
            answers[name] = "error" if "not supported" not in str(exc) else "fts5 only"
    assert answers["whoosh"] == answers["fts5"], q


@pytest.fixture(scope="module")
def agreeing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SearchIndex]]:
    folder = tmp_path_factory.mktemp("agree")
    indexes = {name: open_index(folder / name, engine=name) for name in IndexEngine}
    docs = [
        make_doc(1, text="Road closure on Main Street", author="City Police"),
        make_doc(2, text="The enclosure at the park", author="Jane Doe",
                 history_text="the closure at the park"),
        make_doc(3, text="closures everywhere, clos du vin", author="Bob Roe"),
        make_doc(4, text="Traffic stop tonight", author="Alice Abel"),
        make_doc(5, text="trafic jam and traffik foo_bar", author="Carl Cole"),
        make_doc(6, text="Café clôture closé ÉTÉ x", author="Dana Dee"),
    ]
    for ix in indexes.values():
        ix.add(docs)
    yield indexes
    for ix in indexes.values():
        ix.close()
