"""Several accounts captured at once in worker processes: the same archive as one at a time."""

from __future__ import annotations

from contextlib import ExitStack

from sqlalchemy import func, select

from archiver.capture.many import capture_accounts
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.dataset import synthetic_dataset
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Item, ItemVersion
from archiver.verify import verify_archive


def test_parallel_capture_of_three_accounts(archive: Archive) -> None:
    pages = [synthetic_dataset(12, 6, 1, page_id=f"90000000000000{n}",
                               page_name=f"Precinct {n}") for n in (1, 2, 3)]
    with ExitStack() as stack:
        servers = [stack.enter_context(GraphServer(page, page_size=5)) for page in pages]
        environ = {}
        accounts = []
        for n, (page, server) in enumerate(zip(pages, servers, strict=True), 1):
            environ[f"ARCHIVER_TOKEN_PRECINCT_{n}"] = server.token
            accounts.append(add_account(archive, AccountSpec(
                platform="facebook", external_id=page.page_id, handle=f"precinct-{n}",
                api_base=server.base_url, token_env=f"ARCHIVER_TOKEN_PRECINCT_{n}"), actor="test"))
        results = capture_accounts(archive, accounts, environ, jobs=3)
        again = capture_accounts(archive, accounts, environ, jobs=2)

    assert [r.account_id for r in results] == [a.id for a in accounts]
    assert all(r.status == "succeeded" for r in results + again), [r.error for r in results]
    per_page = 12 * (1 + 6 + 6)
    assert [r.new_items for r in results] == [per_page] * 3
    assert sum(r.new_versions for r in again) == 0
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 3 * per_page
        assert s.scalar(select(func.count()).select_from(ItemVersion)) == 3 * per_page
    found = search_items(archive, "*", SearchFilters(), limit=1)
    assert found.total == 3 * per_page
    report = verify_archive(archive)
    assert report.ok, report.problems[:5]
