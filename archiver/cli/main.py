"""The ``archiver`` command: a thin click layer over the library.

Every command reads the settings, opens the archive, calls one library function and prints.
Errors the user can act on (``ArchiverError``) are one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from archiver.cli import completion
from archiver.cli import policy as policy_commands
from archiver.cli.daemon import schedule, webhooks
from archiver.cli.exports import export, requests
from archiver.cli.filters import filter_options
from archiver.cli.jobs import jobs
from archiver.cli.retention import hold, retention
from archiver.cli.support import (
    JSON_OPTION,
    actor,
    archive_from_env,
    capture_bar,
    echo,
    print_json,
    retry_reporter,
)
from archiver.cli.warc import warc
from archiver.cli.web import serve_desk, users, web
from archiver.config import load_settings
from archiver.connectors.guide import accounts_add_epilog
from archiver.connectors.records import Platform
from archiver.errors import ArchiverError
from archiver.store.vocabulary import RunStatus
from archiver.terminal import visible, visible_values
from archiver.wording import author_or_unknown, counted


@click.group()
@click.version_option(package_name="archiver")
def cli() -> None:
    """Records retention and e-discovery archive for an agency's official social media."""


@cli.command()
@JSON_OPTION
def init(as_json: bool) -> None:
    """Create or upgrade the database, the blob store and the search index."""
    from archiver.initialise import initialise

    report = initialise(load_settings())
    if as_json:
        print_json(report)
    else:
        for key, value in report.items():
            echo(f"{key}: {value}")


# -- accounts ---------------------------------------------------------------------------------
@cli.group()
def accounts() -> None:
    """Register and list the pages the archive captures."""


@accounts.command("add", epilog=accounts_add_epilog())
@click.argument("platform", shell_complete=completion.platform_names)
@click.argument("external_id")
@click.option("--handle", required=True, help="The page's name or handle.")
@click.option("--url", help="The page's public address.")
@click.option("--approved-by", help="Who approved the page (GO 80.11 III.A.1.a).")
@click.option("--approved-on", help="When it was approved, YYYY-MM-DD.")
@click.option("--admin-unit", help="The administering unit.")
@click.option("--api-base", help="API base URL (default: the platform's own).")
@click.option("--token-env", help="Name of the environment variable holding the token.")
@click.option("--tag", "tags", multiple=True, help="A tag for retention rules (repeatable).")
@JSON_OPTION
def accounts_add(as_json: bool, approved_on: str | None, tags: tuple[str, ...],
                 **fields: Any) -> None:
    """Register an account; prints its id. EXTERNAL_ID depends on PLATFORM (below)."""
    from archiver.dates import parse_date
    from archiver.store.accounts import AccountSpec, account_json, add_account

    spec = AccountSpec(
        approved_on=parse_date(approved_on, "--approved-on") if approved_on else None,
        tags=tags, **fields,
    )
    with archive_from_env() as archive:
        account = add_account(archive, spec, actor=actor())
    if as_json:
        print_json(account_json(account))
    else:
        echo(str(account.id))


@accounts.command("list")
@JSON_OPTION
def accounts_list(as_json: bool) -> None:
    """List the registered accounts, how each is read (its token variable, or none) and its
    latest page check ('archiver policy check')."""
    from archiver.capture.sources import credentials_label, token_required
    from archiver.monitoring.policy import latest_checks, policy_label
    from archiver.store.accounts import account_json, list_accounts

    with archive_from_env() as archive:
        checks = latest_checks(archive)
        rows = [{**account_json(a), "credentials": credentials_label(a, os.environ),
                 "token_required": token_required(a.platform),
                 "policy": checks.get(a.id)} for a in list_accounts(archive)]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        approved = f"approved by {visible(str(row['approved_by']))} on {row['approved_on']}" \
            if row["approved_by"] else "approval not recorded"
        echo(f"{row['account_id']}\t{row['platform']}\t{visible(str(row['external_id']))}\t"
             f"{visible(str(row['handle']))}\t"
             f"credentials: {visible(str(row['credentials']))}\t{approved}\t"
             f"{policy_label(row['policy'])}")


# -- capture ----------------------------------------------------------------------------------
@cli.command()
@click.option("--account", "account_id", type=int, help="Capture only this account.",
              shell_complete=completion.account_ids)
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Accounts captured at once, each in its own process (each holds its own "
                   "index writer's memory).")
@JSON_OPTION
def capture(account_id: int | None, jobs: int, as_json: bool) -> None:
    """Capture every active account (or one) now."""
    from archiver.capture.many import capture_accounts
    from archiver.store.accounts import get_account, list_accounts

    with archive_from_env() as archive:
        targets = ([get_account(archive, account_id)] if account_id is not None
                   else [a for a in list_accounts(archive) if a.active])
        if not targets:
            raise ArchiverError("no accounts to capture: add one with 'archiver accounts add'")
        results = capture_accounts(
            archive, targets, os.environ, jobs=jobs,
            progress=lambda a: capture_bar(not as_json, f"{a.platform}:{a.handle}"),
            on_retry=retry_reporter())
    if as_json:
        print_json({"runs": [r.as_json() for r in results]})
    else:
        platforms = {a.id: a.platform for a in targets}
        for r in results:
            line = (f"account {r.account_id}: {r.status}: {r.seen} seen, "
                    f"{counted(r.new_items, 'new item')}, "
                    f"{counted(r.new_versions, 'new version')}, {r.removed} removed")
            if r.unconfirmed:
                line += f", {r.unconfirmed} missing but not confirmed gone"
            if r.no_longer_listed:
                line += ", " + _no_longer_listed(r.no_longer_listed, platforms[r.account_id])
            if r.secrets_scrubbed:
                line += f", {r.secrets_scrubbed} secrets scrubbed before storing"
            echo(line)
            for note in r.notes:
                echo(f"account {r.account_id}: {note}")
    failed = [r for r in results if r.status != RunStatus.SUCCEEDED]
    for r in failed:
        echo(f"error: capture failed: {visible(r.error or '')}", err=True)
    if failed:
        sys.exit(1)


def _no_longer_listed(count: int, platform: str) -> str:
    if platform == Platform.FEED:
        return f"{counted(count, 'entry')} no longer in the feed (a feed cannot prove removal)"
    return (f"{counted(count, 'item')} no longer listed (absence from this listing cannot prove "
            "removal)")


# -- search and items -------------------------------------------------------------------------
# The columns of a search row in text output (their keys in --json).
SEARCH_COLUMNS = ("item_id", "status", "kind", "created_at", "author", "text")


@cli.command()
@click.argument("query")
@filter_options()
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@JSON_OPTION
def search(query: str, limit: int, offset: int, as_json: bool, **options: Any) -> None:
    """Search everything captured (Whoosh query syntax; '*' matches everything)."""
    from archiver.search.filters import filters_from_options
    from archiver.search.items import search_items

    with archive_from_env() as archive:
        filters = filters_from_options(options, archive.settings.tz)
        outcome = search_items(archive, query, filters, limit=limit, offset=offset)
    if as_json:
        print_json(outcome.as_json())
        return
    summary = f"{counted(outcome.total, 'item')} in {counted(outcome.threads, 'thread')}"
    if outcome.results and len(outcome.results) < outcome.total:
        summary += f", showing {offset + 1} to {offset + len(outcome.results)}"
    echo(summary)
    if outcome.results:
        echo("\t".join(SEARCH_COLUMNS))
    for row in outcome.results:
        text = (row["text"] or "").replace("\n", " ")
        if len(text) > 100:
            text = text[:99] + "…"
        echo(f"{row['item_id']}\t{row['status']}\t{row['kind']}\t{row['created_at']}\t"
             f"{visible(author_or_unknown(row['author']))}\t{visible(text)}")


@cli.group()
def items() -> None:
    """Look at one item."""


@items.command("show")
@click.argument("item_id", type=int)
@JSON_OPTION
def items_show(item_id: int, as_json: bool) -> None:
    """The item and all its versions, oldest first."""
    from archiver.item_detail import item_detail

    with archive_from_env() as archive:
        detail = item_detail(archive, item_id)
    if as_json:
        print_json(detail)
        return
    for key in ("item_id", "account", "platform", "external_id", "kind", "status", "author",
                "created_at", "url", "first_captured_at", "last_seen_at",
                "removed_detected_at"):
        if detail.get(key) is not None:
            echo(f"{key}: {visible(str(detail[key]))}")
    if detail["removal_evidence"] is not None:
        echo(f"removal evidence: {json.dumps(detail['removal_evidence'])}")
    for d in detail["dispositions"]:
        _print_disposition(d)
    policy_commands.print_review(detail["review"])
    destroyed = max((d["versions_destroyed"] for d in detail["dispositions"]), default=0)
    for v in detail["versions"]:
        echo(f"--- version {v['seq']} captured {v['captured_at']} status {v['status']}"
             f" sha256 {v['sha256']}")
        if v["seq"] <= destroyed:
            echo("(content destroyed)")
        else:
            echo(v["text"] or "")  # the comment's own lines stay lines


def _print_disposition(d: dict[str, Any]) -> None:
    """Where the content of an item went: the disposition, the series, the certificate."""
    d = visible_values(d)  # the approver's name and the authority, as typed
    last = d["versions_destroyed"]
    echo(f"DESTROYED {d['destroyed_at']} by disposition {d['disposition_id']} (as of "
         f"{d['as_of']}, approved by {d['approved_by']})")
    echo(f"  under series {d['series']} ({d['action']}), authority {d['authority']}; "
         f"disposition date {d['disposition_date']}")
    echo(f"  {'version 1' if last == 1 else f'versions 1 to {last}'} destroyed; "
         f"tombstone sha256 {d['tombstone_sha256']}")
    if d["certificate_sha256"] is None:
        echo(f"  certificate not written yet: disposition {d['disposition_id']} is still running "
             "(run 'archiver retention purge --approve --approved-by NAME' again to finish it)")
    else:
        where = d["certificate_path"] or f"disposition-{d['disposition_id']}-certificate.json"
        echo(f"  certificate {where} sha256 {d['certificate_sha256']} (also in the blob store)")


@cli.group()
def index() -> None:
    """Maintain the search index."""


@index.command("rebuild")
def index_rebuild() -> None:
    """Rebuild the search index from the database."""
    from archiver.search.indexing import rebuild_index

    with archive_from_env() as archive:
        count = rebuild_index(archive)
    echo(f"indexed {counted(count, 'item')}")


# -- verify -----------------------------------------------------------------------------------
@cli.command()
@click.option("--since", "since_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A checkpoint file kept outside the archive: also prove that the archive "
                   "still extends it.")
@JSON_OPTION
def verify(since_file: Path | None, as_json: bool) -> None:
    """Re-hash every blob, version chain and the audit chain; non-zero exit on any damage."""
    from archiver.store.checkpoints import read_checkpoint
    from archiver.verify import verify_archive

    since = None if since_file is None else read_checkpoint(since_file)
    with archive_from_env() as archive:
        report = verify_archive(archive, actor=actor(), since=since)
    if as_json:
        print_json(report.as_json())
    else:
        echo(f"checked {counted(report.blobs, 'blob')} ({counted(report.bytes_hashed, 'byte')}), "
             f"{counted(report.items, 'item')}, {counted(report.versions, 'version')}, "
             f"{counted(report.audit_events, 'audit event')} in {report.seconds:.2f}s")
        if report.since is not None:
            stamp = report.since["timestamp"]
            echo(f"since checkpoint {report.since['checkpoint_sha256']} of "
                 f"{report.since['created_at']}: {counted(report.since['items'], 'item')}, "
                 f"{counted(report.since['destroyed_since'], 'item')} destroyed by audited "
                 "purges since; " + (f"timestamped {stamp['gen_time']} by {stamp['signer']}"
                                     if stamp else "no timestamp token beside the file"))
        for p in report.problems:
            echo(f"DAMAGED {p.kind} {p.id}: {visible(p.reason)}")
        echo("ok" if report.ok else f"{counted(len(report.problems), 'problem')} found")
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the checkpoint to this file (its RFC 3161 token beside it, "
                   "FILE.tsr), to keep outside the archive.")
@JSON_OPTION
def checkpoint(out: Path | None, as_json: bool) -> None:
    """Take a checkpoint: the audit chain's head and a Merkle root over every item's chain head,
    timestamped by ARCHIVER_TSA_URL when set. Non-zero exit when the authority failed (the
    checkpoint is kept without a token)."""
    from archiver.store.checkpoints import make_checkpoint

    with archive_from_env() as archive:
        result = make_checkpoint(archive, actor=actor(), out=out)
    if as_json:
        print_json(result.as_json())
    else:
        summary = result.summary
        echo(f"checkpoint {summary.sha256}: {counted(summary.item_count, 'item')}, "
             f"{counted(summary.audit_event_count, 'audit event')}, "
             f"Merkle root {summary.merkle_root}")
        if result.path is not None:
            echo(f"written to {visible(str(result.path))}"
                 + (f" (token {visible(str(result.token_path))})" if result.token_path else ""))
        if summary.timestamped:
            echo(f"timestamped (RFC 3161) at {summary.tsa_time}")
    if result.tsa_error:
        echo(f"error: not timestamped: {visible(result.tsa_error)}", err=True)
        sys.exit(1)


# -- demo -------------------------------------------------------------------------------------
@cli.command()
@click.option("--web", "with_web", is_flag=True,
              help="Then serve the records desk on 127.0.0.1 over the demo archive, with a "
                   "user per role whose generated passwords are printed, until Ctrl-C.")
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="The desk's port with --web (default: a free one).")
def demo(with_web: bool, port: int) -> None:
    """A full cycle on the bundled sample page, served on loopback, in ARCHIVER_HOME/demo."""
    from archiver.demo import add_demo_users, run_demo

    if port and not with_web:
        raise click.UsageError("--port goes with --web")
    settings = run_demo(load_settings(), echo)
    if not with_web:
        return
    made = add_demo_users(settings)
    echo("")
    echo("records desk users (passwords shown once, kept only as hashes):")
    for user in made:
        echo(f"  {user.name}\t{user.role.label}\t{user.password}")
    serve_desk(settings, "127.0.0.1", port, address_to_stdout=True)


# The command groups that live in their own modules.
for _group in (export, requests, retention, hold, schedule, webhooks, users, web, warc):
    cli.add_command(_group)
cli.add_command(jobs)
policy_commands.register(cli)


def click_error_line(exc: click.ClickException) -> str:
    """click's complaint about the command line as one line, saying where the usage is.

    The message may repeat what was typed (a value, a path): it is shown visibly escaped.
    """
    line = f"error: {visible(exc.format_message())}"
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        line += f" (see '{visible(exc.ctx.command_path)} --help')"
    return line


def main() -> None:
    """Console entry point: one clear line and a non-zero exit for every known error."""
    try:
        # Named as installed, so completion (_ARCHIVER_COMPLETE) and usage lines read the same
        # under "python -m archiver.cli".
        cli(standalone_mode=False, prog_name="archiver")
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        echo(click_error_line(exc), err=True)
        sys.exit(exc.exit_code)
    except ArchiverError as exc:
        # Messages repeat names, paths and queries as given: one line, nothing raw.
        echo(f"error: {visible(str(exc))}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        # The database failed under us (gone away, disk full, schema not upgraded): one line.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        echo(f"error: database: {visible(reason)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        sys.exit(130)



