"""Department-scale benchmark: every measurement at one archive size, with its baselines.

Contract (outside scripts run it)::

    python benchmarks/run.py --items N --out FILE.json

It generates a synthetic department (``--seed``), serves each page from the loopback Graph API
server the tests use, and drives the real ``archiver`` command in child processes (so each
figure includes start-up, and each peak RSS is that command's own): first capture, an unchanged
re-capture, a capture after edits/hides/removals, search latency over 50 fixed queries,
``verify``, an open-records package and a production of up to 10,000 items, the retention report
and an approved purge. The same data then goes through plain ``sqlite3`` inserts, SQLite FTS5 and
raw sha256, and each of our figures is also printed as a ratio to its floor. Results: the JSON
file, and a Markdown table beside it. ``benchmarks/report.py`` plots several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from benchmarks.baselines import (  # noqa: E402
    Fts5,
    disk_bytes,
    sha256_files_mb_per_s,
    sha256_mb_per_s,
    sqlite_insert_rows_per_s,
)
from benchmarks.department import Department, generate  # noqa: E402
from benchmarks.measure import Measured, percentile, run_measured  # noqa: E402
from benchmarks.queries import BenchQuery, bench_queries  # noqa: E402

EXPORT_ITEMS = 10_000
SCHEDULE = """\
schedule: benchmark
title: Benchmark schedule (measurement only, no legal authority)
jurisdiction: none
default_series: BENCH-1
series:
  - code: BENCH-1
    title: Benchmark series
    retention: {days: 1}
    trigger: published
    action: destroy
    authority: {citation: "Benchmark only: not a retention authority", confirmed: true}
rules:
  - series: BENCH-1
    match: {kind: [post, comment, reply, media, page_revision]}
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def serving(dept: Department) -> Iterator[list[Any]]:
    from archiver.standins.graph_server import GraphServer

    with ExitStack() as stack:
        yield [stack.enter_context(GraphServer(page, page_size=100)) for page in dept.pages]


def environment(work: Path, servers: list[Any], engine: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    (work / "schedules").mkdir(parents=True, exist_ok=True)
    (work / "schedules" / "benchmark.yaml").write_text(SCHEDULE)
    env.update({
        "ARCHIVER_HOME": str(work / "home"),
        "ARCHIVER_SCHEDULES_DIR": str(work / "schedules"),
        "ARCHIVER_RETENTION_SCHEDULE": "benchmark",
        "ARCHIVER_ACTOR": "benchmark",
    })
    if engine:
        env["ARCHIVER_INDEX_ENGINE"] = engine
    for n, server in enumerate(servers, 1):
        env[f"ARCHIVER_TOKEN_BENCH_{n}"] = server.token
    return env


def capture(env: dict[str, str], label: str) -> tuple[Measured, dict[str, int]]:
    measured = run_measured(["capture", "--json"], env)
    runs = measured.output["runs"]
    totals = {key: sum(int(r.get(key) or 0) for r in runs)
              for key in ("seen", "new_items", "new_versions", "removed", "requests")}
    log(f"{label}: {totals['seen']} items in {measured.seconds:.1f}s "
        f"({totals['seen'] / measured.seconds:.0f}/s), {totals['new_versions']} new versions, "
        f"peak RSS {measured.peak_rss_mb:.0f} MB")
    return measured, totals


def search_latencies(env: dict[str, str], queries: list[BenchQuery]) -> list[float]:
    """Our search, in process, through the same library call the CLI makes (warm)."""
    from archiver.config import load_settings
    from archiver.dates import parse_moment
    from archiver.search.interface import SearchFilters
    from archiver.search.items import search_items
    from archiver.store.archive import open_archive

    settings = load_settings(env)
    times: list[float] = []
    with open_archive(settings) as archive:
        def run(q: BenchQuery) -> None:
            since = parse_moment(q.since, "since", settings.tz) if q.since else None
            search_items(archive, q.ours, SearchFilters(status=q.status, kind=q.kind,
                                                        since=since), limit=20)
        for q in queries:
            run(q)
        for _ in range(3):
            for q in queries:
                started = time.perf_counter()
                run(q)
                times.append((time.perf_counter() - started) * 1000)
    return times


def archive_rows(env: dict[str, str]) -> tuple[list[tuple[Any, ...]], list[Any], list[bytes]]:
    """Version rows, FTS documents and blob bytes exactly as the archive holds them."""
    from sqlalchemy import select

    from archiver.config import load_settings
    from archiver.store.archive import open_archive
    from archiver.store.models import Blob, Item, ItemVersion

    settings = load_settings(env)
    rows, docs, blobs = [], [], []
    with open_archive(settings) as archive, archive.sessions() as s:
        history: dict[int, list[str]] = {}
        current: dict[int, ItemVersion] = {}
        items = {i.id: i for i in s.scalars(select(Item))}
        for v in s.scalars(select(ItemVersion).order_by(ItemVersion.item_id, ItemVersion.seq)):
            item = items[v.item_id]
            rows.append((v.item_id, item.external_id, item.kind, v.status, v.text,
                         v.author_name, v.created_at.isoformat() if v.created_at else None,
                         v.sha256))
            if v.item_id in current and current[v.item_id].text:
                history.setdefault(v.item_id, []).append(current[v.item_id].text or "")
            current[v.item_id] = v
        for item_id, v in current.items():
            created = v.created_at.date().isoformat() if v.created_at else ""
            docs.append((item_id, v.text or "", "\n".join(history.get(item_id, [])),
                         v.author_name or "", items[item_id].status,
                         f"{items[item_id].kind}|{created}"))
        for (sha,) in s.execute(select(Blob.sha256)):
            blobs.append(archive.store.get(sha))
    return rows, docs, blobs


def export_window(dept: Department) -> str:
    """The publication date up to which the department has about EXPORT_ITEMS items."""
    per_post: dict[str, int] = {}
    for page in dept.pages:
        for c in page.comments:
            per_post[c.post_id] = per_post.get(c.post_id, 0) + 1
    posts = sorted((p for page in dept.pages for p in page.posts), key=lambda p: p.created_time)
    total = 0
    for post in posts:
        total += 1 + per_post.get(post.id, 0)
        if total >= EXPORT_ITEMS:
            return post.created_time[:10]
    return posts[-1].created_time[:10]


def exports(env: dict[str, str], dept: Department, work: Path) -> dict[str, float]:
    until = export_window(dept)
    scope = ["--query", "*", "--until", until]
    run_measured(["requests", "add", "BENCH-1", "--received", date.today().isoformat()], env)
    out: dict[str, float] = {}
    html = run_measured(["export", "open-records", "--request-id", "BENCH-1", *scope, "--no-pdf",
                         "--out", str(work / "or.zip"), "--json"], env)
    out["export_open_records_items"] = float(html.output["items"])
    out["export_open_records_s"] = html.seconds
    out["export_open_records_peak_rss_mb"] = html.peak_rss_mb
    pdf = run_measured(["export", "open-records", "--request-id", "BENCH-1", *scope, "--pdf",
                        "--out", str(work / "or-pdf.zip"), "--json"], env)
    pages = float(pdf.output.get("pages") or 0)
    extra = max(pdf.seconds - html.seconds, 1e-9)
    out["export_pdf_pages"] = pages
    out["export_pdf_pages_per_s"] = pages / extra
    prod = run_measured(["export", "production", *scope, "--bates-prefix", "BENCH",
                         "--out", str(work / "prod.zip"), "--json"], env)
    out["export_production_items"] = float(prod.output["items"])
    out["export_production_s"] = prod.seconds
    out["export_production_peak_rss_mb"] = prod.peak_rss_mb
    log(f"exports: open-records {out['export_open_records_items']:.0f} items "
        f"{html.seconds:.1f}s, PDF {pages:.0f} pages at {out['export_pdf_pages_per_s']:.0f}/s, "
        f"production {prod.seconds:.1f}s")
    return out


def retention(env: dict[str, str]) -> dict[str, float]:
    run_measured(["requests", "close", "BENCH-1"], env)
    # The department's items are all past their one-day period: today (the default date, and
    # the latest an approved purge accepts) covers them all.
    report = run_measured(["retention", "report", "--json"], env)
    purge = run_measured(["retention", "purge", "--approve", "--approved-by", "benchmark",
                          "--json"], env)
    destroyed = float(purge.output.get("destroyed") or purge.output.get("items") or 0)
    log(f"retention: report {report.seconds:.1f}s, purge {destroyed:.0f} items "
        f"{purge.seconds:.1f}s")
    return {"retention_report_s": report.seconds, "purge_items": destroyed,
            "purge_s": purge.seconds, "purge_items_per_s": destroyed / purge.seconds,
            "purge_peak_rss_mb": purge.peak_rss_mb}


def measure(items: int, seed: int, accounts: int, work: Path,
            engine: str | None = None, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every measurement at one size; returns the result dict (the JSON contract's keys).

    ``skip`` leaves out whole steps (``exports``, ``retention``): their targets are set at
    10k and 100k items, and at 1M they only lengthen the run."""
    log(f"generating a department of about {items} items (seed {seed})")
    dept = generate(items, seed=seed, accounts=accounts)
    result: dict[str, Any] = {"items": dept.items, "seed": seed, "accounts": accounts,
                              "index_engine": engine or "whoosh",
                              "started_at": datetime.now().isoformat(timespec="seconds")}
    queries = bench_queries()
    with serving(dept) as servers:
        env = environment(work, servers, engine)
        run_measured(["init", "--json"], env)
        for n, (page, server) in enumerate(zip(dept.pages, servers, strict=True), 1):
            run_measured(["accounts", "add", "facebook", page.page_id, "--handle", page.page_name,
                          "--api-base", server.base_url, "--token-env",
                          f"ARCHIVER_TOKEN_BENCH_{n}"], env)
        first, totals = capture(env, "first capture")
        result["capture_items_per_s"] = totals["seen"] / first.seconds
        result["capture_peak_rss_mb"] = first.peak_rss_mb
        result["capture_s"] = first.seconds
        again, totals2 = capture(env, "unchanged re-capture")
        result["recapture_items_per_s"] = totals2["seen"] / again.seconds
        result["recapture_new_versions"] = totals2["new_versions"]
        result["recapture_requests"] = totals2["requests"]
        result["recapture_peak_rss_mb"] = again.peak_rss_mb
        for server, page, change in zip(servers, dept.pages, dept.changes, strict=True):
            server.set_dataset(page.with_changes(change))
        changed, totals3 = capture(env, "capture after edits, hides, removals")
        result["changes_new_versions"] = totals3["new_versions"]
        result["changes_removed"] = totals3["removed"]
        result["changes_capture_s"] = changed.seconds
        result["changes_capture_peak_rss_mb"] = changed.peak_rss_mb

        times = search_latencies(env, queries)
        result["search_p50_ms"] = percentile(times, 50)
        result["search_p95_ms"] = percentile(times, 95)
        log(f"search: p50 {result['search_p50_ms']:.1f} ms, p95 {result['search_p95_ms']:.1f} ms")

        verified = run_measured(["verify", "--json"], env)
        report = verified.output
        result["verify_mb_per_s"] = report["bytes_hashed"] / 1e6 / max(report["seconds"], 1e-9)
        result["verify_blobs_mb_per_s"] = (
            report["bytes_hashed"] / 1e6 / max(report.get("blob_seconds") or 0, 1e-9))
        result["verify_s"] = verified.seconds
        result["verify_peak_rss_mb"] = verified.peak_rss_mb

        rows, docs, blobs = archive_rows(env)
        result["sqlite_insert_rows_per_s"] = sqlite_insert_rows_per_s(rows, work / "floor.db")
        result["sha256_mb_per_s"] = sha256_mb_per_s(blobs)
        result["sha256_files_mb_per_s"] = sha256_files_mb_per_s(work / "home" / "blobs")
        result["payload_bytes"] = sum(len(b) for b in blobs)
        result["store_bytes"] = disk_bytes(work / "home" / "blobs")
        fts = Fts5(work / "fts5.db", docs)
        result["fts5_search_p95_ms"] = fts.p95_ms(queries)
        fts.close()
        del rows, docs, blobs

        if "exports" not in skip:
            result.update(exports(env, dept, work))
        if "retention" not in skip:
            result.update(retention(env))
    result["ratio_capture_to_sqlite_insert"] = (
        result["capture_items_per_s"] / result["sqlite_insert_rows_per_s"])
    result["ratio_search_p95_to_fts5"] = (
        result["search_p95_ms"] / max(result["fts5_search_p95_ms"], 1e-9))
    result["ratio_verify_to_sha256"] = result["verify_mb_per_s"] / result["sha256_mb_per_s"]
    result["ratio_verify_blobs_to_sha256"] = (
        result["verify_blobs_mb_per_s"] / result["sha256_mb_per_s"])
    result["ratio_store_to_payload"] = result["store_bytes"] / max(result["payload_bytes"], 1)
    result["skipped"] = sorted(skip)
    result["max_command_peak_rss_mb"] = max(
        value for key, value in result.items() if key.endswith("_peak_rss_mb"))
    result["ratio_recapture_to_capture"] = (
        result["recapture_items_per_s"] / result["capture_items_per_s"])
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Benchmark at {result['items']} items (seed {result['seed']})", "",
             "| measure | value |", "| --- | --- |"]
    for key, value in result.items():
        shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, required=True, help="archive size (items)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--engine", choices=("whoosh", "fts5"),
                        help="search index engine (default: the archive's default, whoosh)")
    parser.add_argument("--skip", action="append", default=[], choices=("exports", "retention"),
                        help="leave out a step (repeatable); its keys are then absent")
    args = parser.parse_args(argv)
    if args.items < 50:
        parser.error("--items must be at least 50")
    work = args.work or Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    try:
        result = measure(args.items, args.seed, args.accounts, work, args.engine,
                         frozenset(args.skip))
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

