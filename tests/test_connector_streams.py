"""The stream walker (archiver.connectors.streams) against a loopback server of generated
posts -> comments -> replies trees with listings that vanish or fail part-way: a scope is
declared complete only when everything under it was read, and never after a failed read."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.connectors.base import ConnectorConfig
from archiver.connectors.errors import ConnectorError
from archiver.connectors.records import ROOT_SCOPE, ListingComplete, ReadEvent, Record
from archiver.connectors.streams import StreamWalk
from tests.support.graph import SleepRecorder
from tests.support.tree import (
    COMMENTS_OF_ALL,
    Comment,
    CommentsStream,
    FanInConnector,
    Fault,
    PerPostConnector,
    Post,
    TreeConnectorBase,
    TreeServer,
)


@dataclass(frozen=True)
class Case:
    posts: tuple[Post, ...]
    faults: tuple[Fault, ...]
    page_size: int
    fan_in: bool
    scopes: tuple[str, ...] | None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    posts = []
    for i in range(draw(st.integers(0, 4))):
        comments = []
        for j in range(draw(st.integers(0, 4))):
            replies = tuple(f"r{i}.{j}.{k}" for k in range(draw(st.integers(0, 4))))
            comments.append(Comment(f"c{i}.{j}", replies, draw(st.integers(0, 3))))
        posts.append(Post(f"p{i}", tuple(comments)))
    post_ids = [p.id for p in posts]
    keys = [ROOT_SCOPE, COMMENTS_OF_ALL, *post_ids, *(c.id for p in posts for c in p.comments)]
    faults = draw(st.lists(
        st.builds(Fault, st.sampled_from(keys), st.integers(0, 2), st.sampled_from([404, 500])),
        max_size=3, unique_by=lambda f: f.key))
    scopes = draw(st.none() | st.lists(st.sampled_from([ROOT_SCOPE, *post_ids]), unique=True,
                                       max_size=3).map(tuple))
    return Case(tuple(posts), tuple(faults), draw(st.integers(1, 3)), draw(st.booleans()), scopes)


def expected_records(posts: Sequence[Post]) -> dict[str, tuple[str, str, str | None]]:
    """external id -> (kind, scope, parent) of everything in the tree."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for post in posts:
        out[post.id] = ("post", ROOT_SCOPE, None)
        for comment in post.comments:
            out[comment.id] = ("comment", post.id, post.id)
            out.update({r: ("reply", post.id, comment.id) for r in comment.replies})
    return out


def under(case: Case, scope: str) -> set[str]:
    """The listings (fault keys) whose reading a scope's completeness depends on."""
    if scope == ROOT_SCOPE:
        return {ROOT_SCOPE}
    if case.fan_in:
        return {COMMENTS_OF_ALL} | {c.id for p in case.posts for c in p.comments if c.truncated}
    post = next(p for p in case.posts if p.id == scope)
    return {post.id} | {c.id for c in post.comments if c.truncated}


@pytest.fixture(scope="module")
def server() -> Iterator[TreeServer]:
    with TreeServer() as started:
        yield started


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One HTTP client for every example (making one costs more than a whole walk)."""
    with httpx.Client() as shared:
        yield shared


Walked = tuple[list[ReadEvent], ConnectorError | None, set[str], dict[str, int]]


def walk(server: TreeServer, case: Case, client: httpx.Client | None = None) -> Walked:
    """Read ``case`` from ``server``: the events, the error that ended the read, the listings
    whose fault fired and the connector's extra counters."""
    server.load(case.posts, case.page_size, case.faults)
    cls: type[TreeConnectorBase] = FanInConnector if case.fan_in else PerPostConnector
    events: list[ReadEvent] = []
    failure: ConnectorError | None = None
    config = ConnectorConfig("acct", api_base=server.base_url, max_retries=0, timeout=5.0)
    with cls(config, client=client, sleep=SleepRecorder(), rng=random.Random(0)) as connector:
        try:
            events.extend(connector.read(case.scopes))
        except ConnectorError as exc:
            failure = exc
        return events, failure, set(server.fired), dict(connector.stats.extra)


# One server for every example: the module-scoped fixture is loaded afresh by each.
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_a_scope_is_complete_only_when_all_under_it_was_read(
    server: TreeServer, client: httpx.Client, case: Case
) -> None:
    events, failure, fired, extra = walk(server, case, client)
    tree = expected_records(case.posts)
    seen: dict[str, int] = {}
    completed: list[str] = []
    for position, event in enumerate(events):
        if isinstance(event, Record):
            # Every record is the tree's own, with its kind, scope and parent, and comes once.
            assert (event.kind, event.scope, event.parent_external_id) == tree[event.external_id]
            assert event.external_id not in seen
            parent = event.parent_external_id
            assert parent is None or parent not in tree or parent in seen or not any(
                isinstance(e, Record) and e.external_id == parent for e in events)
            seen[event.external_id] = position
            continue
        assert isinstance(event, ListingComplete)
        scope = event.scope
        assert scope not in completed
        completed.append(scope)
        # Everything in a completed scope was read before it was declared complete, and no
        # listing it depends on failed or vanished.
        mine = [i for i, (_, s, _p) in tree.items() if s == scope]
        assert all(seen.get(i, position + 1) < position for i in mine)
        assert not fired & under(case, scope)

    server_errors = {f.key for f in case.faults if f.status == 500} & fired
    root_gone = ROOT_SCOPE in fired
    assert (failure is not None) == bool(server_errors or root_gone)
    if failure is not None:
        return
    wanted = [ROOT_SCOPE, *(p.id for p in case.posts)] if case.scopes is None else case.scopes
    for scope in wanted:
        assert (scope in completed) == (not fired & under(case, scope)), scope
    gone = [s for s in wanted if s != ROOT_SCOPE and fired & under(case, s)]
    expected_gone = min(len(gone), 1) if case.fan_in else len(gone)
    assert extra.get("listings_gone", 0) == expected_gone


def test_a_vanished_reply_listing_leaves_only_its_post_incomplete(server: TreeServer) -> None:
    posts = (Post("p0", (Comment("c0.0", ("r1", "r2", "r3"), 1),)),
             Post("p1", (Comment("c1.0", ("r4",), 1),)))
    case = Case(posts, (Fault("c0.0", 1, 404),), page_size=2, fan_in=False, scopes=None)
    events, failure, fired, extra = walk(server, case)
    assert failure is None and fired == {"c0.0"}
    done = [e.scope for e in events if isinstance(e, ListingComplete)]
    assert done == ["p1", ROOT_SCOPE]
    read = [e.external_id for e in events if isinstance(e, Record)]
    # The first page of c0.0's replies was read and kept; the post's listing is not complete.
    assert read == ["p0", "c0.0", "r1", "r2", "p1", "c1.0", "r4"]
    assert extra == {"listings_gone": 1}


def test_a_stream_whose_parent_is_not_declared_is_refused() -> None:
    config = ConnectorConfig("acct")
    with PerPostConnector(config) as connector, pytest.raises(TypeError, match="PostsStream"):
        StreamWalk(connector, (CommentsStream,))


def _ids(events: list[Any]) -> list[str]:
    return [e.external_id for e in events if isinstance(e, Record)]


def test_root_scope_alone_reads_the_top_level_only(server: TreeServer) -> None:
    posts = (Post("p0", (Comment("c0.0", ("r1",), 0),)),)
    for fan_in in (False, True):
        events, failure, _, _ = walk(server, Case(posts, (), 1, fan_in, (ROOT_SCOPE,)))
        assert failure is None and _ids(events) == ["p0"]
        assert events[-1] == ListingComplete(ROOT_SCOPE)
