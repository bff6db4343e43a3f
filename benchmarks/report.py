"""Combine benchmark runs at several sizes into a Markdown table and a PNG plot.

    python benchmarks/report.py results/bench-10000.json results/bench-100000.json \\
        --markdown results/benchmarks.md --plot results/benchmarks.png

Each target (the figure the archive must reach) is shown next to the figure it applies to.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# (key, label, target text or "")
ROWS = [
    ("capture_items_per_s", "first capture, items/s", ">= 2,000 at 100k"),
    ("capture_peak_rss_mb", "first capture, peak RSS MB", "<= 500 at 1M"),
    ("changes_capture_peak_rss_mb", "capture after changes, peak RSS MB", "<= 500 at 1M"),
    ("max_command_peak_rss_mb", "largest command's peak RSS MB", "<= 500 at 1M"),
    ("recapture_items_per_s", "unchanged re-capture, items/s", ">= 3x first capture"),
    ("ratio_recapture_to_capture", "re-capture / capture", ">= 3"),
    ("recapture_new_versions", "unchanged re-capture, new versions", "0"),
    ("search_p50_ms", "search p50 ms", ""),
    ("search_p95_ms", "search p95 ms", "<= 100 at 1M"),
    ("fts5_search_p95_ms", "FTS5 p95 ms (floor)", ""),
    ("ratio_search_p95_to_fts5", "search p95 / FTS5 p95", "<= 5"),
    ("verify_mb_per_s", "verify MB/s", ""),
    ("sha256_mb_per_s", "sha256 MB/s (floor)", ""),
    ("ratio_verify_to_sha256", "verify / sha256", ">= 0.5"),
    ("verify_blobs_mb_per_s", "verify, blob phase only, MB/s", ""),
    ("ratio_verify_blobs_to_sha256", "verify blob phase / sha256", ">= 0.5 at 100k"),
    ("ratio_store_to_payload", "blob store on disk / payload bytes", "<= 1.3 at 1M"),
    ("sha256_files_mb_per_s", "read files + sha256 MB/s (I/O floor)", ""),
    ("sqlite_insert_rows_per_s", "sqlite3 executemany rows/s (floor)", ""),
    ("export_open_records_s", "open-records package (<=10k items), s", "< 30"),
    ("export_open_records_peak_rss_mb", "open-records peak RSS MB", "< 300"),
    ("export_pdf_pages_per_s", "PDF pages/s", ">= 20"),
    ("export_production_s", "production (<=10k items), s", ""),
    ("retention_report_s", "retention report, s", "< 60 at 100k"),
    ("purge_s", "purge, s", "< 60 at 100k"),
    ("purge_items_per_s", "purge items/s", ""),
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def _num(value: Any) -> float:
    """A figure for the plot; a step a run skipped is a gap."""
    return float(value) if isinstance(value, (int, float)) else float("nan")


def table(results: list[dict[str, Any]]) -> str:
    """Sizes as columns, measures as rows."""
    head = "| measure | target | " + " | ".join(
        f"{r['items']:,} items ({r.get('index_engine', 'whoosh')})" for r in results) + " |"
    lines = [head, "|" + " --- |" * (len(results) + 2)]
    for key, label, target in ROWS:
        lines.append(f"| {label} | {target} | "
                     + " | ".join(_fmt(r.get(key)) for r in results) + " |")
    return "\n".join(lines) + "\n"


class PlotError(Exception):
    """The plot cannot be drawn (matplotlib, an optional extra, is not installed)."""


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Throughput and latency against archive size (log-scaled sizes)."""
    try:
        import matplotlib
    except ImportError:
        raise PlotError("--plot needs matplotlib: pip install -e '.[bench]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = sorted({r.get("index_engine", "whoosh") for r in results})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for engine in engines:
        runs = [r for r in results if r.get("index_engine", "whoosh") == engine]
        sizes = [r["items"] for r in runs]
        for key, label in (("capture_items_per_s", "first capture"),
                           ("recapture_items_per_s", "unchanged re-capture"),
                           ("purge_items_per_s", "purge")):
            left.plot(sizes, [_num(r.get(key)) for r in runs], marker="o",
                      label=f"{label} ({engine})")
        for key, label in (("search_p50_ms", "search p50"), ("search_p95_ms", "search p95"),
                           ("fts5_search_p95_ms", "FTS5 floor p95")):
            right.plot(sizes, [_num(r.get(key)) for r in runs], marker="o",
                       label=f"{label} ({engine})")
    left.axhline(2000, linestyle=":", color="grey", label="capture target")
    left.set(xscale="log", yscale="log", xlabel="archive size (items)", ylabel="items/s",
             title="Throughput")
    left.legend(fontsize=7)
    right.axhline(100, linestyle=":", color="grey", label="p95 target")
    right.set(xscale="log", yscale="log", xlabel="archive size (items)", ylabel="ms",
              title="Search latency")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Combine benchmark JSON files.")
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    results = sorted((json.loads(p.read_text()) for p in args.results),
                     key=lambda r: (r.get("index_engine", "whoosh"), r["items"]))
    text = table(results)
    print(text)
    if args.markdown:
        args.markdown.write_text("# Benchmark results\n\n" + text)
    if args.plot:
        try:
            plot(results, args.plot)
        except PlotError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
