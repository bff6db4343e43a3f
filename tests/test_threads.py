"""A thread's root: the same answer for the search index, packages and retention.

Real-time capture can store comments before their post: Meta sends a comment's webhook event
whatever the archive holds. The threads here come in that order through the real path
(:func:`archiver.capture.realtime.apply_changes`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.capture.realtime import apply_changes
from archiver.connectors.graph_webhooks import Change, facebook_change
from archiver.exports.selection import iter_threads, threads_of
from archiver.search.interface import SearchFilters
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, Item
from archiver.store.threads import thread_root, thread_roots
from tests.support.retention import use_schedule

TOKEN_ENV = "ARCHIVER_TEST_THREADS_TOKEN"
PAGE = "104882335720091"
POST = f"{PAGE}_2001"
OTHER_POST = f"{PAGE}_2002"
COMMENTED = 1717243100  # 2024-06-01 12:58 UTC
POSTED = 1717000000  # 2024-05-29 16:26 UTC

THREAD_SCHEDULE = """\
schedule: thread-schedule
title: Thread activity
default_series: THREADS
series:
  - code: THREADS
    title: Threads
    retention: {days: 30}
    trigger: last_activity_in_thread
    action: destroy
    authority: {citation: "Test authority"}
rules:
  - series: THREADS
    match: {kind: [post, comment, reply]}
"""


def _comment(comment_id: str, *, post: str = POST, parent: str | None = None,
             created: int = COMMENTED) -> dict[str, Any]:
    return {"item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post,
            "parent_id": parent or post, "created_time": created, "message": f"on {post}",
            "from": {"id": "5550001", "name": "Jane Doe"}}


def _post(post_id: str = POST) -> dict[str, Any]:
    return {"item": "status", "verb": "add", "post_id": post_id, "created_time": POSTED,
            "message": "Road closure on Main St", "from": {"id": PAGE, "name": "Springfield PD"}}


def _deliver(archive: Archive, server: GraphServer, *values: dict[str, Any]) -> None:
    changes: list[Change] = []
    for value in values:
        change = facebook_change(PAGE, value)
        assert change is not None
        changes.append(change)
    result = apply_changes(archive, changes, {TOKEN_ENV: server.token}, lock_wait=0.0)
    assert all(run.status == "succeeded" for run in result.runs), result


def _ids(archive: Archive) -> dict[str, int]:
    with archive.sessions() as s:
        return {e: i for e, i in s.execute(select(Item.external_id, Item.id))}


def _account(archive: Archive, server: GraphServer) -> Account:
    return add_account(archive, AccountSpec(
        platform="facebook", external_id=PAGE, handle="springfieldpd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


def _index_threads(archive: Archive) -> dict[int, int]:
    found = archive.index.search("*", SearchFilters(), limit=100)
    return {hit.item_id: hit.thread_id for hit in found.hits}


def test_comments_before_their_post_are_one_thread_everywhere(
    archive: Archive, graph_server: GraphServer, tmp_path: Path
) -> None:
    use_schedule(archive, tmp_path / "schedules", THREAD_SCHEDULE)
    _account(archive, graph_server)
    # Two comments and a reply on a post the archive does not hold yet, and one comment on
    # another post it does not hold either.
    _deliver(archive, graph_server, _comment("2001_9001"), _comment("2001_9002"),
             _comment("2001_9003", parent="2001_9001"), _comment("2002_9004", post=OTHER_POST))
    ids = _ids(archive)
    first, second, reply, other = (ids[e] for e in ("2001_9001", "2001_9002", "2001_9003",
                                                    "2002_9004"))
    # The post's thread is headed, until the post comes, by its first item captured.
    with archive.sessions() as s:
        assert thread_roots(s, [first, second, reply, other]) == {
            first: first, second: first, reply: first, other: other}
        assert thread_root(s, reply) == first and thread_root(s, 999) is None
    assert threads_of(archive, [second, reply, other]) == [first, other]
    assert _index_threads(archive) == {first: first, second: first, reply: first,
                                       other: other}
    assert archive.index.search("*", SearchFilters()).threads == 2

    _deliver(archive, graph_server, _post())
    post = _ids(archive)[POST]
    with archive.sessions() as s:
        assert thread_roots(s, [first, second, reply, other, post]) == {
            first: post, second: post, reply: post, other: other, post: post}
    assert threads_of(archive, [second, reply, other]) == [other, post]
    assert _index_threads(archive) == {post: post, first: post, second: post, reply: post,
                                       other: other}
    # Retention counts the thread's activity the same way: the comments date the post.
    with archive.sessions() as s:
        starts = {i: d for i, d in s.execute(select(Item.id, Item.retention_start))}
    assert {starts[i].isoformat() for i in (post, first, second, reply)} == {"2024-06-01"}


def test_a_thread_reads_in_order_whatever_order_it_was_captured_in(
    archive: Archive, graph_server: GraphServer
) -> None:
    _account(archive, graph_server)
    # A reply first, then its comment, then another comment: no post yet.
    _deliver(archive, graph_server, _comment("2001_9003", parent="2001_9001"))
    _deliver(archive, graph_server, _comment("2001_9001", created=COMMENTED - 60))
    _deliver(archive, graph_server, _comment("2001_9002", created=COMMENTED - 30))
    ids = _ids(archive)
    reply, first, second = ids["2001_9003"], ids["2001_9001"], ids["2001_9002"]

    def depths() -> list[list[tuple[int, int]]]:
        roots = threads_of(archive, [second])
        return [[(i.item_id, i.depth) for i in thread.items]
                for thread in iter_threads(archive, roots)]

    # The comments stand side by side, the reply under its comment, which came after it.
    assert depths() == [[(first, 0), (reply, 1), (second, 0)]]
    _deliver(archive, graph_server, _post())
    post = _ids(archive)[POST]
    assert depths() == [[(post, 0), (first, 1), (reply, 2), (second, 1)]]
