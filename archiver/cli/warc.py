"""``archiver warc export``: an account's raw captures as one WARC file for another archive."""

from __future__ import annotations

from pathlib import Path

import click

from archiver.cli.support import JSON_OPTION, actor, archive_from_env, echo, print_json
from archiver.dates import parse_moment
from archiver.wording import counted


@click.group()
def warc() -> None:
    """The WARC records of every capture: the platforms' answers as they came."""


@warc.command("export")
@click.option("--account", "account", required=True, help="The account's id or handle.")
@click.option("--since", required=True,
              help="Records captured from this day (YYYY-MM-DD, the agency's zone) or moment.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default: account-ID-since-DATE.warc.gz here).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@JSON_OPTION
def warc_export(account: str, since: str, out: Path | None, force: bool, as_json: bool) -> None:
    """Write the account's WARC records captured since a date as one WARC 1.1 file, read back
    and digest-checked before it is published."""
    from archiver.exports.warc_export import export_warc, find_account

    with archive_from_env() as archive:
        moment = parse_moment(since, "--since", archive.settings.tz)
        found = find_account(archive, account)
        target = out or Path(f"account-{found.id}-since-{moment.date().isoformat()}.warc.gz")
        result = export_warc(archive, found, moment, target, actor=actor(), force=force)
    if as_json:
        print_json(result.as_json())
        return
    echo(f"wrote {result.path}: {counted(result.records, 'record')} from "
         f"{counted(result.files, 'WARC file')}, {counted(result.size, 'byte')}, "
         f"sha256 {result.sha256}")
