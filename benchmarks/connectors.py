"""Per-connector throughput: items per second and requests, for each platform's connector.

Run by hand (not in CI)::

    python benchmarks/connectors.py [--items 5000] [--platforms x,feed] [--out FILE.json]

For each platform a generated account of about ``--items`` items is served by the platform's
loopback server (``archiver/standins/<platform>_server.py``) and measured three ways:

* the connector alone (iterate ``connector.read()``): items/s and requests;
* a first capture through :func:`archiver.capture.account.capture_account` into a fresh SQLite
  archive in a temporary folder (media downloads off: the sample media URLs point at unroutable
  hosts, and downloading is a separate step): items/s and requests;
* an unchanged re-capture of the same account: items/s, requests, and new versions (must be 0).

The servers run in threads of this process, so every figure includes the server's own time; the
``server`` column is the share of the first capture spent inside the server's ``route``. Numbers
are indicative only: the machine may be shared, and each figure is one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from archiver.capture.account import capture_account  # noqa: E402
from archiver.capture.sources import connector_for  # noqa: E402
from archiver.config import Settings  # noqa: E402
from archiver.connectors import PLATFORMS  # noqa: E402
from archiver.connectors.records import Record  # noqa: E402
from archiver.initialise import initialise  # noqa: E402
from archiver.standins import bluesky_server as bs  # noqa: E402
from archiver.standins import feed_server as fd  # noqa: E402
from archiver.standins import instagram_server as ig  # noqa: E402
from archiver.standins import linkedin_server as li  # noqa: E402
from archiver.standins import mediawiki_server as mw  # noqa: E402
from archiver.standins import nextdoor_server as nd  # noqa: E402
from archiver.standins import threads_server as th  # noqa: E402
from archiver.standins import tiktok_server as tt  # noqa: E402
from archiver.standins import wordpress_server as wp  # noqa: E402
from archiver.standins import x_server as xs  # noqa: E402
from archiver.standins import youtube_server as yt  # noqa: E402
from archiver.standins.dataset import synthetic_dataset  # noqa: E402
from archiver.standins.graph_server import GraphServer  # noqa: E402
from archiver.standins.loopback import Answer, LoopbackServer, Request  # noqa: E402
from archiver.store.accounts import AccountSpec, add_account  # noqa: E402
from archiver.store.archive import open_archive  # noqa: E402

TOKEN_ENV = "ARCHIVER_BENCH_CONNECTOR_TOKEN"  # noqa: S105 - a variable name, not a token
ORDER = ("facebook", "instagram", "x", "youtube", "wordpress", "mediawiki", "feed", "threads",
         "bluesky", "tiktok", "linkedin", "nextdoor")
S = TypeVar("S", bound=LoopbackServer)


def timed(cls: type[S]) -> type[S]:
    """A subclass of a server class that adds up the seconds spent in ``route``."""

    class Timed(cls):  # type: ignore[valid-type,misc]
        server_seconds = 0.0

        def route(self, request: Request) -> Answer:
            start = time.perf_counter()
            try:
                return super().route(request)  # type: ignore[no-any-return]
            finally:
                # The connector asks one request at a time, so no lock is needed.
                self.server_seconds += time.perf_counter() - start

    Timed.__name__ = f"Timed{cls.__name__}"
    return Timed


def build_server(platform: str, items: int) -> LoopbackServer:
    """The platform's loopback server with a generated account of about ``items`` items."""
    if platform == "facebook":  # 1 post + 8 comments + 8 replies
        posts = max(1, round(items / 17))
        return timed(GraphServer)(synthetic_dataset(posts, 8, 1), page_size=100)
    if platform == "instagram":  # about 4.5 items a media object
        return timed(ig.InstagramServer)(ig.sample_instagram(max(1, items * 2 // 9)))
    if platform == "x":  # 1 post + 19 replies in its conversation
        now = datetime.now(UTC)
        return timed(xs.XServer)(xs.synthetic_x(now, max(1, items // 20), 19))
    if platform == "youtube":  # a video, its comments, three replies on the first
        videos = max(1, min(999, items // 100))
        per_video = max(1, min(999, items // videos - 4))
        return timed(yt.YouTubeServer)(yt.sample_channel(videos, per_video), page_size=100)
    if platform == "wordpress":  # ids 101 and 102 are the sample's pages: at most 100 posts
        posts = max(1, min(100, items // 50))
        per_post = max(1, (items - posts - 2) // posts - 1)
        return timed(wp.WordPressServer)(wp.sample_site(posts, per_post))
    if platform == "mediawiki":  # a page and 2.5 revisions on average
        return timed(mw.MediaWikiServer)(mw.sample_wiki(max(1, items * 2 // 7)), page_size=500)
    if platform == "feed":
        return timed(fd.FeedServer)(fd.sample_entries(max(1, items)))
    if platform == "threads":  # a post, 10 replies and an answer to the first
        return timed(th.ThreadsServer)(th.sample_threads(max(4, items // 12), 10), page_size=100)
    if platform == "bluesky":  # the same shape; the stand-in keeps Bluesky's 3000 per 5 minutes
        return timed(bs.BlueskyServer)(bs.sample_bluesky(max(6, items // 12), 10))
    if platform == "tiktok":  # a video, its comments, two replies on the first
        videos = max(1, items // 50)
        return timed(tt.TikTokServer)(tt.sample_account(videos, max(1, items // videos - 3)),
                                      page_size=30)
    if platform == "linkedin":  # a post, its comments, two replies on the first
        posts = max(1, items // 50)
        return timed(li.LinkedInServer)(li.sample_organization(posts, max(1, items // posts - 3)),
                                        page_size=100)
    if platform == "nextdoor":  # a post, its comments, two replies on the first; all listed
        posts = max(1, items // 50)
        return timed(nd.NextdoorServer)(nd.sample_agency(posts, max(1, items // posts - 3)),
                                        page_size=20, window=posts)
    raise ValueError(f"unknown platform {platform!r}")


def reach(platform: str, server: Any) -> tuple[str, str, str]:
    """(account external id, API base URL, token) for a started server."""
    if platform in ("facebook", "x"):
        ident = server.dataset.page_id if platform == "facebook" else server.dataset.account.id
        return ident, server.base_url, server.token
    if platform == "instagram":
        return server.ig.user_id, server.base_url, server.token
    if platform == "youtube":
        return yt.CHANNEL_ID, server.base_url, server.token
    if platform == "wordpress":
        return "https://pd.example.invalid", server.base_url, server.app_password
    if platform == "mediawiki":
        return "wiki", server.base_url, server.token
    if platform == "threads":
        return server.th.user_id, server.base_url, server.token
    if platform == "bluesky":
        return server.dataset.did, server.base_url, server.password
    if platform == "tiktok":
        return tt.BUSINESS_ID, server.base_url, server.token
    if platform == "linkedin":
        return li.ORG_ID, server.base_url, server.token
    if platform == "nextdoor":
        return nd.AGENCY_ID, server.base_url, server.token
    return server.atom_url, server.atom_url, "feed-token"


def _no_sleep(seconds: float) -> None:
    """Loopback servers never need a real wait; a rate limit shows in the counters instead."""


@dataclass
class Figures:
    """One platform's measurements (seconds, counts, items per second)."""

    platform: str
    items: int
    connector_s: float
    connector_items_per_s: float
    connector_requests: int
    capture_s: float
    capture_items_per_s: float
    capture_requests: int
    capture_server_share: float
    recapture_s: float
    recapture_items_per_s: float
    recapture_requests: int
    recapture_new_versions: int
    retries: int
    rate_limited: int


def _rate(count: int, seconds: float) -> float:
    return count / max(seconds, 1e-9)


def measure(platform: str, items: int, workdir: Path) -> Figures:
    """Connector alone, first capture and unchanged re-capture of one generated account."""
    with build_server(platform, items) as server:
        ident, base, token = reach(platform, server)
        home = workdir / platform
        settings = Settings(home=home, db_url=f"sqlite:///{home / 'archive.db'}",
                            store_url=(home / "blobs").as_uri(), index_dir=home / "index")
        home.mkdir(parents=True)
        initialise(settings, environ={})
        with open_archive(settings) as archive:
            account = add_account(archive, AccountSpec(
                platform=platform, external_id=ident, handle=f"bench-{platform}",
                api_base=base, token_env=TOKEN_ENV), actor="benchmark")
            env = {TOKEN_ENV: token}
            before = server.request_count
            start = time.perf_counter()
            with connector_for(account, env, sleep=_no_sleep) as connector:
                read = sum(1 for event in connector.read() if isinstance(event, Record))
            connector_s = time.perf_counter() - start
            connector_requests = server.request_count - before
            runs = []
            for _ in range(2):
                before, server_before = server.request_count, _server_seconds(server)
                start = time.perf_counter()
                result = capture_account(archive, account, env, sleep=_no_sleep, media=False)
                elapsed = time.perf_counter() - start
                if result.status != "succeeded":
                    raise RuntimeError(f"{platform}: capture {result.status}: {result.error}")
                runs.append((result, elapsed, server.request_count - before,
                             _server_seconds(server) - server_before))
        (first, first_s, first_req, first_server), (again, again_s, again_req, _) = runs
        return Figures(
            platform=platform, items=read,
            connector_s=connector_s, connector_items_per_s=_rate(read, connector_s),
            connector_requests=connector_requests,
            capture_s=first_s, capture_items_per_s=_rate(first.seen, first_s),
            capture_requests=first_req, capture_server_share=first_server / max(first_s, 1e-9),
            recapture_s=again_s, recapture_items_per_s=_rate(again.seen, again_s),
            recapture_requests=again_req, recapture_new_versions=again.new_versions,
            retries=first.retries + again.retries,
            rate_limited=first.rate_limited + again.rate_limited,
        )


def _server_seconds(server: LoopbackServer) -> float:
    return float(getattr(server, "server_seconds", 0.0))


def markdown(rows: list[Figures], items: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"Connector throughput, about {items:,} generated items per platform (one run each; "
        "indicative only, shared machine).",
        "",
        "| platform | items | connector items/s | requests | capture items/s | requests "
        "| server share | re-capture items/s | re-capture requests | new versions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.platform} | {r.items:,} | {r.connector_items_per_s:,.0f} "
            f"| {r.connector_requests:,} | {r.capture_items_per_s:,.0f} | {r.capture_requests:,} "
            f"| {r.capture_server_share:.1%} | {r.recapture_items_per_s:,.0f} "
            f"| {r.recapture_requests:,} | {r.recapture_new_versions} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None, log: Callable[[str], None] = print) -> int:
    """Measure the chosen platforms, print the table, write JSON when ``--out`` is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=5000, help="items per platform (about)")
    parser.add_argument("--platforms", default=",".join(ORDER),
                        help="comma-separated platforms (default: all)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.platforms.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PLATFORMS]
    if unknown or args.items < 1:
        parser.error(f"unknown platform(s): {', '.join(unknown)}" if unknown
                     else "--items must be at least 1")
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="archiver-connbench-") as tmp:
        for platform in chosen:
            print(f"{platform}: measuring ...", file=sys.stderr, flush=True)
            rows.append(measure(platform, args.items, Path(tmp)))
    log(markdown(rows, args.items))
    if args.out:
        payload = {"items_requested": args.items, "python": sys.version.split()[0],
                   "note": "one run each on a possibly shared machine: indicative only",
                   "results": [asdict(r) for r in rows]}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
