"""``archiver export ...`` and ``archiver requests ...``: thin click commands over archiver.exports.

Register with ``cli.add_command(export)`` and ``cli.add_command(requests)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from archiver.cli import completion
from archiver.cli.filters import FILTER_NAMES, filter_options
from archiver.cli.retention import scope_from_options, scope_options
from archiver.cli.support import JSON_OPTION, actor, archive_from_env, print_json, progress_bar
from archiver.errors import ArchiverError
from archiver.store.vocabulary import RequestStatus
from archiver.terminal import visible
from archiver.wording import counted


def _scope(archive: Any, query: str | None, items: tuple[int, ...], hold: str | None,
           options: dict[str, Any]) -> Any:
    from archiver.exports.selection import Scope
    from archiver.search.filters import filters_from_options

    given = [name for name, v in (("--query", query), ("--item", items), ("--hold", hold)) if v]
    if len(given) != 1:
        raise ArchiverError("give exactly one of --query, --item or --hold")
    filters = filters_from_options({k: options.get(k) for k in FILTER_NAMES},
                                   archive.settings.tz)
    if (items or hold) and any(options.get(k) for k in FILTER_NAMES):
        raise ArchiverError("search filters go with --query only")
    return Scope(query=query, filters=filters, item_ids=items, hold=hold)


def _report(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.as_json())
        return
    line = (f"wrote {result.path}: {counted(result.items, 'item')} in "
            f"{counted(result.threads, 'thread')}, sha256 {result.sha256}")
    if result.bates_first:
        line += f", Bates {result.bates_first} to {result.bates_last}"
    if result.redactions:
        line += f", {counted(result.redactions, 'redaction')}"
    click.echo(line)


@click.group()
def export() -> None:
    """Hand records over: open-records packages and litigation productions."""


@export.command("open-records")
@click.option("--request-id", required=True, help="The registered request this answers.",
              shell_complete=completion.request_ids)
@click.option("--query", help="Search query (Whoosh syntax; '*' for everything).")
@click.option("--item", "items", type=int, multiple=True, help="An item id (repeatable).")
@filter_options()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--redact", is_flag=True, help="Apply the redaction rules.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Redaction rules YAML (default: the shipped rules).")
@click.option("--redact-item", "redact_items", multiple=True, metavar="ID:REASON",
              help="Redact an item's whole text (repeatable).")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Also render PDFs.")
@click.option("--organization", envvar="ARCHIVER_ORGANIZATION",
              help="Source-Organization for bag-info.txt (or ARCHIVER_ORGANIZATION).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Validate the finished bag with bagit-python (re-hashes the payload).")
@JSON_OPTION
def open_records(request_id: str, query: str | None, items: tuple[int, ...], out: Path,
                 redact: bool, rules_file: Path | None, redact_items: tuple[str, ...],
                 pdf: bool, organization: str | None, force: bool, validate: bool,
                 as_json: bool, **filters: Any) -> None:
    """A BagIt ZIP for one open-records request."""
    from archiver.exports.open_records import OpenRecordsOptions, export_open_records
    from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions

    if rules_file is not None and not redact:
        raise ArchiverError("--rules goes with --redact")
    redactor = Redactor(rules=load_rules(rules_file) if redact else (),
                        items=parse_item_redactions(redact_items))
    with archive_from_env() as archive:
        scope = _scope(archive, query, items, None, filters)
        options = OpenRecordsOptions(request_id=request_id, out=out, actor=actor(),
                                     redactor=redactor, force=force, pdf=pdf,
                                     organization=organization, validate=validate)
        update, close = progress_bar(not as_json, f"request {request_id}")
        try:
            result = export_open_records(archive, scope, options, progress=update)
        finally:
            close()
    _report(result, as_json)


@export.command("production")
@click.option("--hold", help="The legal hold to produce.", shell_complete=completion.hold_names)
@click.option("--query", help="Search query, instead of a hold.")
@click.option("--item", "items", type=int, multiple=True, help="An item id (repeatable).")
@filter_options()
@click.option("--bates-prefix", required=True, help="Bates prefix, e.g. KPD.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@JSON_OPTION
def production(hold: str | None, query: str | None, items: tuple[int, ...], bates_prefix: str,
               out: Path, force: bool, as_json: bool, **filters: Any) -> None:
    """A litigation production: natives, texts, PDFs, DAT/OPT load files, chain of custody."""
    from archiver.exports.production import ProductionOptions, export_production

    with archive_from_env() as archive:
        scope = _scope(archive, query, items, hold, filters)
        options = ProductionOptions(bates_prefix=bates_prefix, out=out, actor=actor(),
                                    force=force)
        update, close = progress_bar(not as_json, f"production {bates_prefix}")
        try:
            result = export_production(archive, scope, options, progress=update)
        finally:
            close()
    _report(result, as_json)


@click.group()
def requests() -> None:
    """The open-records request register (KORA: 3 business days to act)."""


@requests.command("add")
@click.argument("request_id")
@click.option("--received", required=True, help="Date received, YYYY-MM-DD.")
@click.option("--requester")
@click.option("--description")
@scope_options
@JSON_OPTION
def requests_add(request_id: str, received: str, requester: str | None,
                 description: str | None, query: str | None, account_id: int | None,
                 since: str | None, until: str | None, everything: bool,
                 as_json: bool) -> None:
    """Register a request; prints its due date. What its scope matches is protected from now on;
    without a scope every purge waits until 'requests scope' gives it one."""
    from archiver.dates import parse_date
    from archiver.exports.business_days import calendar_from_env
    from archiver.exports.requests import add_request

    calendar = calendar_from_env(os.environ)
    with archive_from_env() as archive:
        given = everything or any(v is not None for v in (query, account_id, since, until))
        scope = scope_from_options(archive.settings.tz, query, account_id, since, until,
                                   everything) if given else None
        view = add_request(archive, request_id, received_on=parse_date(received, "--received"),
                           calendar=calendar, actor=actor(), requester=requester,
                           description=description, scope=scope)
    _print_request(view, as_json)


@requests.command("scope")
@click.argument("request_id", shell_complete=completion.open_request_ids)
@scope_options
@JSON_OPTION
def requests_scope(request_id: str, query: str | None, account_id: int | None,
                   since: str | None, until: str | None, everything: bool,
                   as_json: bool) -> None:
    """Add to an open request's scope (the options of 'hold create'); protects what it matches."""
    from archiver.exports.business_days import calendar_from_env
    from archiver.exports.requests import add_request_scope

    calendar = calendar_from_env(os.environ)
    with archive_from_env() as archive:
        scope = scope_from_options(archive.settings.tz, query, account_id, since, until,
                                   everything)
        view = add_request_scope(archive, request_id, scope, calendar=calendar, actor=actor())
    _print_request(view, as_json)


def _print_request(view: Any, as_json: bool) -> None:
    if as_json:
        print_json(view.as_json())
        return
    click.echo(f"request {view.request_id} due {view.due_on.isoformat()}")
    if view.blocks_disposition:
        click.echo(f"request {view.request_id} has no scope: every purge is blocked until it has "
                   f"one ('archiver requests scope {view.request_id} --query Q' or --all)")
    else:
        scopes = "; and ".join(s["describe"] for s in view.scope)
        click.echo(f"protects {counted(view.protected_items, 'item')} (scope: {scopes})")


@requests.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include closed requests.")
@JSON_OPTION
def requests_list(include_closed: bool, as_json: bool) -> None:
    """Open requests with their due dates, overdue first."""
    from archiver.exports.business_days import calendar_from_env
    from archiver.exports.requests import list_requests

    calendar = calendar_from_env(os.environ)
    with archive_from_env() as archive:
        views = list_requests(archive, calendar, include_closed=include_closed)
    if as_json:
        print_json([v.as_json() for v in views])
        return
    for v in views:
        if v.status != RequestStatus.OPEN:
            state = "closed"
        elif v.overdue:
            state = f"OVERDUE by {counted(-v.business_days_left, 'business day')}"
        else:
            state = f"{counted(v.business_days_left, 'business day')} left"
        if v.blocks_disposition:
            state += ", NO SCOPE: blocks every purge"
        click.echo(f"{visible(v.request_id)}\treceived {v.received_on}\tdue {v.due_on}\t"
                   f"{state}\t{visible(v.requester or '')}")


@requests.command("close")
@click.argument("request_id", shell_complete=completion.open_request_ids)
def requests_close(request_id: str) -> None:
    """Close a request (its items are no longer protected by it)."""
    from archiver.exports.requests import close_request

    with archive_from_env() as archive:
        close_request(archive, request_id, actor=actor())
    click.echo(f"request {request_id} closed")
