"""``archiver retention ...`` and ``archiver hold ...``: thin commands over archiver.retention."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archiver.cli import completion
from archiver.cli.filters import SCOPE_FILTERS, filter_options
from archiver.cli.support import JSON_OPTION, actor, archive_from_env, print_json
from archiver.terminal import visible, visible_values
from archiver.wording import counted

if TYPE_CHECKING:
    from archiver.retention.scope import ProtectionScope

F = Callable[..., Any]


def scope_options(f: F) -> F:
    """``--query --account --since --until --all``: what a hold or a records request covers
    (the search filters a hold keeps, :data:`~archiver.cli.filters.SCOPE_FILTERS`)."""
    f = click.option("--all", "everything", is_flag=True,
                     help="Cover every item, now and later (instead of the options above).")(f)
    f = filter_options(*SCOPE_FILTERS)(f)
    return click.option("--query", help="Search query (the index's syntax) the items match.")(f)


def scope_from_options(tz: Any, query: str | None, account_id: int | None, since: str | None,
                       until: str | None, everything: bool) -> ProtectionScope:
    """The :func:`scope_options` as a scope (dates read in the agency's zone ``tz``)."""
    from archiver.retention.scope import ProtectionScope
    from archiver.search.filters import filters_from_options

    filters = filters_from_options({"account_id": account_id, "since": since, "until": until},
                                   tz)
    return ProtectionScope(query=query, account_id=filters.account_id, since=filters.since,
                           until=filters.until, everything=everything)


def _as_of(text: str | None, archive: Any) -> date:
    from archiver.dates import parse_date

    if text:
        return parse_date(text, "--as-of")
    return archive.clock().astimezone(archive.settings.tz).date()


@click.group()
def retention() -> None:
    """Retention schedules, the disposition report and the approved purge."""


@retention.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@JSON_OPTION
def retention_validate(file: Path, as_json: bool) -> None:
    """Check a schedule file; every problem is printed as FILE:LINE: REASON."""
    from archiver.retention.schedule import check_schedule

    schedule, problems = check_schedule(file)
    if as_json:
        print_json({"ok": not problems, "problems": [vars(p) for p in problems]})
    else:
        for p in problems:
            click.echo(visible(str(p)))  # quotes the file, which may be anyone's
        if schedule is not None:
            click.echo(f"{file}: ok: schedule {schedule.name}, "
                       f"{counted(len(schedule.series), 'series', 'series')}, "
                       f"{counted(len(schedule.rules), 'rule')}, default {schedule.default_series}")
    if problems:
        sys.exit(1)


@retention.command("load")
@click.argument("file", type=click.Path(path_type=Path))
def retention_load(file: Path) -> None:
    """Make FILE the active schedule and recompute every item's disposition date."""
    from archiver.retention.loading import apply_schedule
    from archiver.retention.schedule import load_schedule

    schedule = load_schedule(file)
    with archive_from_env() as archive:
        change = apply_schedule(archive, schedule, str(file), actor=actor())
    click.echo(f"schedule {change.name}: " + (
        f"{change.items_changed} of {counted(change.items_recomputed, 'item')} got a new "
        "disposition"
        if change.changed else "already active, nothing changed"))


@retention.command("report")
@click.option("--as-of", help="The date to report on (YYYY-MM-DD; default today).")
@click.option("--csv", "csv_file", type=click.Path(path_type=Path),
              help="Also write one line per eligible item to this CSV file.")
@click.option("--pdf", "pdf_file", type=click.Path(path_type=Path),
              help="Also write the report as a PDF for the records manager's signature.")
@JSON_OPTION
def retention_report_cmd(as_of: str | None, csv_file: Path | None, pdf_file: Path | None,
                         as_json: bool) -> None:
    """Every item eligible for disposition, by series, and what holds keep back."""
    from archiver.pdf.writer import document_info
    from archiver.retention.certificate import report_pdf
    from archiver.retention.report import retention_report, write_csv

    with archive_from_env() as archive:
        day = _as_of(as_of, archive)
        report = retention_report(archive, day)
        if csv_file:
            write_csv(archive, day, csv_file)
        about = document_info(archive, f"Records eligible for disposition as of {day}")
    data = report.as_json()
    if pdf_file:
        pdf_file.write_bytes(report_pdf(data, about=about))
    if as_json:
        print_json(data)
        return
    _print_report(data)


def _print_report(data: dict[str, Any]) -> None:
    data = visible_values(data)  # hold names and matters, as typed; series from the schedule
    click.echo(f"as of {data['as_of']}, schedule {data['schedule']}: "
               f"{counted(data['eligible'], 'item')} eligible for disposition")
    for b in data["blocked_by_requests"]:
        click.echo(f"  disposition blocked: {b['reason']}")
    for s in data["series"]:
        click.echo(f"  {s['code']} ({s['action']}): {counted(s['count'], 'item')}, published "
                   f"{s['oldest_published']} .. {s['newest_published']}; {s['authority']}")
    for h in data["held_back_by_hold"]:
        click.echo(f"  held back by hold {h['hold']} ({h['matter']}): "
                   f"{counted(h['items'], 'item')}")
    if data["held_back_by_requests"]:
        click.echo("  held back by open records requests: "
                   f"{counted(data['held_back_by_requests'], 'item')}")
    for u in data["held_back_unconfirmed"]:
        click.echo(f"  not disposable, series {u['series']}: {counted(u['items'], 'item')}: "
                   f"{u['reason']}")


@retention.command("purge")
@click.option("--as-of", help="Dispose of what is eligible on this date (default today).")
@click.option("--approve", is_flag=True, help="Really destroy (without it: a dry run).")
@click.option("--approved-by", help="Who approved the destruction (required with --approve).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Folder for the certificate and transfer packages "
                   "(default ARCHIVER_HOME/dispositions).")
@JSON_OPTION
def retention_purge(as_of: str | None, approve: bool, approved_by: str | None,
                    out_dir: Path | None, as_json: bool) -> None:
    """Dry run by default; --approve --approved-by NAME destroys and writes the certificate."""
    from archiver.errors import ArchiverError
    from archiver.retention.purge import dry_run, purge

    if approve and not approved_by:
        raise ArchiverError("--approve needs --approved-by NAME")
    with archive_from_env() as archive:
        day = _as_of(as_of, archive)
        if not approve:
            data = dry_run(archive, day).as_json()
            if as_json:
                print_json({"dry_run": True, **data})
            else:
                click.echo("dry run: nothing destroyed (add --approve --approved-by NAME)")
                _print_report(data)
            return
        assert approved_by is not None
        result = purge(archive, day, approved_by=approved_by, out_dir=out_dir)
    if as_json:
        print_json(result.as_json())
        return
    if result.resumed:
        click.echo(f"resumed disposition {result.disposition_id} (as of {result.as_of}, "
                   f"approved by {result.approved_by})")
    click.echo(f"disposition {result.disposition_id}: {counted(result.destroyed, 'item')} "
               f"destroyed, {len(result.skipped)} skipped (held), "
               f"{counted(result.blobs_deleted, 'blob')} deleted, "
               f"{counted(len(result.blobs_locked), 'blob')} still locked by the store")
    click.echo(f"certificate {result.certificate_path} sha256 {result.certificate_sha256}")
    if result.transfer:
        click.echo(f"transfer package {result.transfer['path']}")


# -- holds -------------------------------------------------------------------------------------
@click.group()
def hold() -> None:
    """Legal holds: what they cover is never disposed."""


@hold.command("create")
@click.argument("name")
@click.option("--matter", required=True, help="The matter (case, claim, investigation).")
@scope_options
@click.option("--custodian", "custodians", multiple=True, help="A custodian (repeatable).")
@click.option("--created-by", help="Who ordered the hold (default: ARCHIVER_ACTOR or the user).")
@JSON_OPTION
def hold_create(name: str, matter: str, query: str | None, account_id: int | None,
                since: str | None, until: str | None, everything: bool,
                custodians: tuple[str, ...], created_by: str | None, as_json: bool) -> None:
    """Hold everything the scope matches (or every item with --all), now and later."""
    from archiver.retention.holds import HoldSpec, create_hold

    with archive_from_env() as archive:
        scope = scope_from_options(archive.settings.tz, query, account_id, since, until,
                                   everything)
        spec = HoldSpec(
            name=name, matter=matter, query=scope.query, account_id=scope.account_id,
            since=scope.since, until=scope.until, everything=scope.everything,
            custodians=custodians, created_by=created_by or actor())
        data = create_hold(archive, spec)
    if as_json:
        print_json(data)
    else:
        click.echo(f"hold {data['name']} created: {counted(data['items'], 'item')} held "
                   f"(scope: {data['scope']})")


@hold.command("list")
@JSON_OPTION
def hold_list(as_json: bool) -> None:
    """Every hold, active and released."""
    from archiver.retention.holds import list_holds

    with archive_from_env() as archive:
        rows = list_holds(archive)
    if as_json:
        print_json(rows)
        return
    rows = visible_values(rows)
    for r in rows:
        click.echo(f"{r['name']}\t{r['status']}\t{counted(r['items'], 'item')}\t{r['matter']}")


@hold.command("show")
@click.argument("name", shell_complete=completion.hold_names)
@JSON_OPTION
def hold_show(name: str, as_json: bool) -> None:
    """One hold, its scope and the items it covers."""
    from archiver.retention.holds import hold_detail

    with archive_from_env() as archive:
        data = hold_detail(archive, name)
    if as_json:
        print_json(data)
        return
    data = visible_values(data)
    for key in ("name", "status", "matter", "scope", "query", "account_id", "since", "until",
                "custodians", "created_by", "created_at", "released_at", "released_by",
                "release_reason", "items"):
        if data.get(key) not in (None, []):
            click.echo(f"{key}: {data[key]}")
    click.echo("item_ids: " + " ".join(str(i) for i in data["item_ids"]))


@hold.command("release")
@click.argument("name", shell_complete=completion.active_hold_names)
@click.option("--released-by", required=True)
@click.option("--reason", required=True)
@JSON_OPTION
def hold_release(name: str, released_by: str, reason: str, as_json: bool) -> None:
    """Release a hold, deliberately and with a reason."""
    from archiver.retention.holds import release_hold

    with archive_from_env() as archive:
        data = release_hold(archive, name, released_by=released_by, reason=reason)
    if as_json:
        print_json(data)
    else:
        click.echo(f"hold {name} released ({counted(data['items'], 'item')} no longer "
                   "held by it)")
