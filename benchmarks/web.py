"""The records desk's speed: dashboard, search page and thread page, p50/p95, against the same
library calls made directly on the same archive (so the difference is what the desk adds:
sign-in check, audit event, rendering, HTTP).

    python benchmarks/web.py --items 10000 [--engine fts5] [--rounds 3] [--keep DIR]

Builds a synthetic department (benchmarks/department.py) through the real capture path, then
serves the desk with waitress on loopback and asks it over HTTP. Prints the figures; asserts
nothing. The issue's target: each page's p95 within 200 ms at 100k items. ``--keep DIR`` builds
the archive in DIR once and measures it again on later runs (a 100k build takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.department import generate  # noqa: E402
from benchmarks.measure import percentile, run_measured  # noqa: E402
from benchmarks.queries import bench_queries  # noqa: E402
from benchmarks.run import capture, environment, log, serving  # noqa: E402

PASSWORD = "benchmark password"  # noqa: S105 - a throw-away archive's user


def timed(call: Callable[[], Any], rounds: int) -> list[float]:
    call()  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def build(items: int, work: Path, engine: str | None) -> dict[str, str]:
    dept = generate(items, seed=1, accounts=3)
    log(f"department of {dept.items} items")
    with serving(dept) as servers:
        env = environment(work, servers, engine)
        run_measured(["init", "--json"], env)
        for n, (page, server) in enumerate(zip(dept.pages, servers, strict=True), 1):
            run_measured(["accounts", "add", "facebook", page.page_id, "--handle",
                          page.page_name, "--api-base", server.base_url, "--token-env",
                          f"ARCHIVER_TOKEN_BENCH_{n}"], env)
        capture(env, "first capture")
        for server, page, change in zip(servers, dept.pages, dept.changes, strict=True):
            server.set_dataset(page.with_changes(change))
        capture(env, "capture after edits, hides, removals")
    return env


def measure(env: dict[str, str], rounds: int) -> list[tuple[str, list[float], list[float]]]:
    from sqlalchemy import func, select
    from waitress.server import create_server

    from archiver.access.roles import Role
    from archiver.access.users import add_user
    from archiver.config import load_settings
    from archiver.dashboard import dashboard
    from archiver.dates import parse_moment
    from archiver.exports.business_days import load_calendar
    from archiver.exports.selection import ThreadWindow
    from archiver.item_history import item_thread
    from archiver.search.interface import SearchFilters
    from archiver.search.items import facet_counts, search_items
    from archiver.store.archive import open_archive
    from archiver.store.limits import EVERY_ACCOUNT
    from archiver.store.models import Item
    from archiver.web import create_app
    from archiver.web.options import WebOptions
    from archiver.web.reading import THREAD_PAGE

    settings = load_settings(env)
    rows: list[tuple[str, list[float], list[float]]] = []
    with open_archive(settings) as archive:
        user = f"bench-{os.getpid()}"  # a kept archive is measured again by later runs
        add_user(archive, user, Role.RECORDS_MANAGER, password=PASSWORD, actor="benchmark")
        calendar = load_calendar(None)
        app = create_app(settings, options=WebOptions(secret_key=b"benchmark key " * 3),
                         archive=archive, calendar=calendar)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            import re

            form = client.get("/sign-in").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            client.post("/sign-in", data={"name": user, "password": PASSWORD,
                                          "csrf_token": token[1]})

            page = timed(lambda: client.get("/").raise_for_status(), rounds * 10)
            lib = timed(lambda: dashboard(archive, calendar, within=EVERY_ACCOUNT,
                                          environ=os.environ), rounds * 10)
            rows.append(("dashboard", page, lib))

            queries = bench_queries()
            page_times: list[float] = []
            lib_times: list[float] = []
            for q in queries:
                since = parse_moment(q.since, "since", settings.tz) if q.since else None
                filters = SearchFilters(status=q.status, kind=q.kind, since=since)
                params = {k: v for k, v in (("q", q.ours), ("status", q.status),
                                            ("kind", q.kind), ("since", q.since)) if v}
                page_times += timed(lambda p=params: client.get(
                    "/search", params=p).raise_for_status(), rounds)

                def library(q: Any = q, filters: SearchFilters = filters) -> None:
                    search_items(archive, q.ours, filters, limit=20)
                    facet_counts(archive, q.ours, filters)

                lib_times += timed(library, rounds)
                # The search alone, without the facet counts the page adds.
            rows.append(("search (page: results + facets)", page_times, lib_times))
            bare = [t for q in queries for t in timed(
                lambda q=q: search_items(archive, q.ours, SearchFilters(status=q.status,
                                         kind=q.kind), limit=20), rounds)]
            rows.append(("  search_items alone", bare, bare))

            with archive.sessions() as s:
                count = s.scalar(select(func.count()).select_from(Item)) or 1
                ids = [i for (i,) in s.execute(select(Item.id).where(
                    Item.id.in_(random.Random(1).sample(range(1, count + 1), 30))))]
            page_times, lib_times = [], []
            for item_id in ids:
                page_times += timed(lambda i=item_id: client.get(
                    f"/items/{i}/thread").raise_for_status(), rounds)
                lib_times += timed(lambda i=item_id: item_thread(
                    archive, i, window=ThreadWindow(size=THREAD_PAGE, around=i)), rounds)
            rows.append(("thread", page_times, lib_times))
        server.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--engine", choices=("whoosh", "fts5"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the archive here once and reuse it")
    args = parser.parse_args(argv)
    if args.keep:
        saved = args.keep / "environment.json"
        if not saved.exists():
            build_env = build(args.items, args.keep, args.engine)
            saved.write_text(json.dumps({k: v for k, v in build_env.items()
                                         if k.startswith("ARCHIVER_")}))
        env = {**os.environ, **json.loads(saved.read_text())}
        rows = measure(env, args.rounds)
    else:
        with tempfile.TemporaryDirectory(prefix="archiver-web-bench-") as folder:
            env = build(args.items, Path(folder), args.engine)
            rows = measure(env, args.rounds)
    print(f"records desk at {args.items} items ({args.engine or 'whoosh'}), milliseconds")
    print(f"{'':34} {'page p50':>9} {'page p95':>9} {'library p50':>12} {'library p95':>12}")
    for name, page, lib in rows:
        print(f"{name:34} {percentile(page, 50):9.1f} {percentile(page, 95):9.1f} "
              f"{percentile(lib, 50):12.1f} {percentile(lib, 95):12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
