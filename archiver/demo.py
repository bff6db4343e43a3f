"""``archiver demo``: the whole cycle on the bundled sample page, served on loopback.

It works in its own archive, ``$ARCHIVER_HOME/demo`` (emptied first), on the embedded defaults
(SQLite, a local blob folder, a local Whoosh index), so it never mixes sample data into a real
archive and can be run any number of times.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from archiver.access.passwords import generate_password
from archiver.access.roles import Role
from archiver.access.users import add_user
from archiver.capture.account import capture_account
from archiver.capture.results import CaptureResult
from archiver.config import Settings
from archiver.connectors.records import ItemStatus, Platform
from archiver.dates import show_iso
from archiver.errors import ArchiverError
from archiver.initialise import initialise
from archiver.item_detail import item_detail
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive, open_archive
from archiver.store.models import Account
from archiver.store.vocabulary import RunStatus
from archiver.verify import verify_archive
from archiver.wording import author_or_unknown, counted

DEMO_TOKEN_ENV = "ARCHIVER_TOKEN_DEMO"  # noqa: S105 - a variable name, not a secret
DEMO_ACTOR = "archiver demo"

Echo = Callable[[str], None]


def demo_settings(settings: Settings) -> Settings:
    """The demo's own archive under the configured home, on the embedded defaults."""
    home = settings.home / "demo"
    return replace(
        settings,
        home=home,
        db_url=f"sqlite:///{home / 'archive.sqlite3'}",
        store_url=(home / "blobs").as_uri(),
        index_dir=home / "index",
        s3_endpoint_url=None,
        s3_object_lock_mode=None,
        s3_object_lock_days=None,
    )


@dataclass(frozen=True)
class DemoUser:
    """A desk user the demo made, with the password generated for it (kept only as a hash)."""

    name: str
    role: Role
    password: str


def run_demo(settings: Settings, echo: Echo) -> Settings:
    """Capture the sample page twice (before and after moderation), search, show, verify.
    Returns the demo archive's settings."""
    settings = demo_settings(settings)
    if settings.home.exists():
        shutil.rmtree(settings.home)
    initialise(settings)
    dataset = load_sample()
    with GraphServer(dataset) as server, open_archive(settings) as archive:
        echo(f"archive: {settings.home}")
        echo(f"sample page {dataset.page_name!r} served by a Graph API server at {server.base_url}")
        account = add_account(
            archive,
            AccountSpec(
                platform=Platform.FACEBOOK, external_id=dataset.page_id, handle=dataset.page_name,
                url=f"https://www.facebook.com/{dataset.page_id}",
                approved_by="Chief of Police (sample)", approved_on=date(2024, 1, 15),
                admin_unit="Professional Standards Unit", api_base=server.base_url,
                token_env=DEMO_TOKEN_ENV,
            ),
            actor=DEMO_ACTOR,
        )
        # The token lives only in this mapping, as it would in the environment of a real run.
        environ = {DEMO_TOKEN_ENV: server.token}
        echo(f"registered account {account.id}; token read from ${DEMO_TOKEN_ENV}")

        _report("first capture", _capture(archive, account, environ), echo)
        server.apply_second_state()
        echo("the page changes: a post is edited, a comment hidden, a comment deleted")
        _report("second capture", _capture(archive, account, environ), echo)

        _show_search(archive, "*", SearchFilters(status=ItemStatus.REMOVED), "removed items", echo)
        _show_search(archive, "*", SearchFilters(status=ItemStatus.HIDDEN), "hidden items", echo)
        _show_search(archive, "road", SearchFilters(), "search 'road'", echo)
        _show_history(archive, echo)

        _export(archive, settings, echo)

        report = verify_archive(archive)
        echo(f"verify: {counted(report.blobs, 'blob')}, {counted(report.versions, 'version')}, "
             f"{counted(report.audit_events, 'audit event')}: "
             f"{'ok' if report.ok else 'DAMAGED'}")
        if not report.ok:
            raise ArchiverError(f"verify found {counted(len(report.problems), 'problem')} in the "
                                "demo archive")
        echo("")
        echo(f"try: ARCHIVER_HOME={shlex.quote(str(settings.home))} {archiver_command()} "
             "search '*' --status removed")
    return settings


def add_demo_users(demo: Settings) -> list[DemoUser]:
    """One desk user per role in the demo archive (``demo``: what :func:`run_demo` returned),
    each with a fresh generated password: the demo archive is remade on every run, so these
    never outlive it."""
    made = [DemoUser(f"demo-{role.value.replace('_', '-')}", role, generate_password())
            for role in Role]
    with open_archive(demo) as archive:
        for user in made:
            add_user(archive, user.name, user.role, password=user.password, actor=DEMO_ACTOR)
    return made


def archiver_command() -> str:
    """How to run ``archiver`` again from a shell, the way it runs now: a virtualenv's console
    script is not on the PATH unless the virtualenv is activated, so it is named by its path."""
    script = Path(sys.argv[0])
    if script.name == "archiver" and script.is_file():
        return shlex.quote(str(script.absolute()))
    # Started as ``python -m archiver.cli``: the same interpreter the same way, so the same code
    # (a console script next to it may belong to another install).
    return f"{shlex.quote(sys.executable)} -m archiver.cli"


def _export(archive: Archive, settings: Settings, echo: Echo) -> None:
    """An open-records request for everything about the road closure, redacted, as a bag."""
    from archiver.exports.business_days import calendar_from_env
    from archiver.exports.open_records import OpenRecordsOptions, export_open_records
    from archiver.exports.redaction import Redactor, load_rules
    from archiver.exports.requests import add_request
    from archiver.exports.selection import Scope

    received = archive.clock().astimezone(settings.tz).date()
    request = add_request(
        archive, "DEMO-KORA-1", received_on=received, calendar=calendar_from_env({}),
        actor=DEMO_ACTOR, requester="A. Reporter",
        description="Posts and comments about the Main St. closure and car break-ins",
    )
    out = settings.home / "exports" / "DEMO-KORA-1.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = export_open_records(
        archive, Scope(query="closure OR closed OR detour OR \"broken into\""),
        OpenRecordsOptions(request_id=request.request_id, out=out, actor=DEMO_ACTOR,
                           redactor=Redactor(rules=load_rules()),
                           organization="Springfield Police Department (sample)"),
    )
    echo(f"open-records request {request.request_id} received {received}, due "
         f"{request.due_on} (3 business days)")
    echo(f"package: {result.path} ({counted(result.items, 'item')} in "
         f"{counted(result.threads, 'thread')}, {counted(result.redactions, 'redaction')}, "
         f"{counted(result.pages, 'PDF page')}), sha256 {result.sha256}")


def _capture(archive: Archive, account: Account, environ: dict[str, str]) -> CaptureResult:
    result = capture_account(archive, account, environ)
    if result.status != RunStatus.SUCCEEDED:
        raise ArchiverError(f"demo capture failed: {result.error}")
    return result


def _report(title: str, r: CaptureResult, echo: Echo) -> None:
    echo(f"{title}: {counted(r.seen, 'item')} seen, {r.new_items} new, "
         f"{counted(r.new_versions, 'new version')}, {r.removed} removed "
         f"({counted(r.requests, 'API request')})")


def _show_search(
    archive: Archive, query: str, filters: SearchFilters, title: str, echo: Echo
) -> None:
    outcome = search_items(archive, query, filters, limit=5)
    echo(f"{title}: {outcome.total} found")
    for row in outcome.results:
        text = (row["text"] or "").replace("\n", " ")[:70]
        echo(f"  item {row['item_id']} [{row['status']}] {row['kind']} by "
             f"{author_or_unknown(row['author'])}: {text}")


def _show_history(archive: Archive, echo: Echo) -> None:
    outcome = search_items(archive, "*", SearchFilters(status=ItemStatus.REMOVED), limit=1)
    if not outcome.results:
        return
    detail = item_detail(archive, outcome.results[0]["item_id"])
    echo(f"history of item {detail['item_id']} (removed comment, still on record):")
    for v in detail["versions"]:
        shown = show_iso(v["captured_at"], archive.settings.tz)
        echo(f"  v{v['seq']} {shown} {v['status']} sha256 {v['sha256'][:16]}…")
    evidence = detail["removal_evidence"] or {}
    echo(f"  evidence of removal: {str(evidence)[:110]}")
