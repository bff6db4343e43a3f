"""``archiver users add|list`` and ``archiver web serve``: people and the records desk."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archiver.cli.support import JSON_OPTION, actor, archive_from_env, echo, print_json
from archiver.terminal import visible

if TYPE_CHECKING:
    from archiver.config import Settings


@click.group()
def users() -> None:
    """The people who may sign in to the records desk."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True,
              help="viewer, custodian, legal, records_manager or admin (each can do what the "
                   "ones before it can).")
@click.option("--account", "account_ids", type=int, multiple=True,
              help="Limit the user to this account's items (repeatable; default: every account).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of generating one.")
@JSON_OPTION
def users_add(name: str, role: str, account_ids: tuple[int, ...], password_stdin: bool,
              as_json: bool) -> None:
    """Add a user. Prints a generated password once (it is kept only as a hash)."""
    from archiver.access.passwords import generate_password
    from archiver.access.roles import parse_role
    from archiver.access.users import add_user

    parsed = parse_role(role)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    with archive_from_env() as archive:
        add_user(archive, name, parsed, password=password,
                 account_ids=list(account_ids) if account_ids else None, actor=actor())
    shown = None if password_stdin else password
    if as_json:
        print_json({"name": name, "role": str(parsed), "accounts": sorted(account_ids) or "all",
                    "password": shown})
        return
    limit = f", limited to account {', '.join(map(str, sorted(account_ids)))}" \
        if account_ids else ""
    echo(f"user {name} added as {parsed.label}{limit}")
    if shown is not None:
        echo(f"password (shown once, not stored): {shown}")


@users.command("list")
@JSON_OPTION
def users_list(as_json: bool) -> None:
    """List the users, their roles and account limits."""
    from archiver.access.users import list_users

    with archive_from_env() as archive:
        rows = list_users(archive)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        accounts = row["accounts"] if row["accounts"] == "all" else \
            "accounts " + ",".join(map(str, row["accounts"]))
        state = "active" if row["active"] else "inactive"
        if row["locked_until"]:
            state += f", locked until {row['locked_until']}"
        echo(f"{visible(row['name'])}\t{row['role']}\t{accounts}\t{state}")


@click.group()
def web() -> None:
    """The records desk in a browser."""


@web.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--secure-cookies/--no-secure-cookies", envvar="ARCHIVER_WEB_SECURE_COOKIES",
              default=False, show_default=True,
              help="Mark cookies Secure: set it whenever the desk is reached over TLS "
                   "(behind the reverse proxy). Env: ARCHIVER_WEB_SECURE_COOKIES.")
@click.option("--secret-file", envvar="ARCHIVER_WEB_SECRET_FILE",
              type=click.Path(dir_okay=False),
              help="The key that signs sessions (made on first use; default "
                   "$ARCHIVER_HOME/web-secret.key). Env: ARCHIVER_WEB_SECRET_FILE.")
@click.option("--jobs/--no-jobs", "run_jobs", default=True, show_default=True,
              help="Run background jobs (packages, productions, purges) in this process; "
                   "with --no-jobs, 'archiver jobs run --forever' runs them.")
def web_serve(host: str, port: int, secure_cookies: bool, secret_file: str | None,
              run_jobs: bool) -> None:
    """Serve the desk until stopped (waitress). Keep it on loopback behind a TLS proxy."""
    from archiver.config import load_settings

    serve_desk(load_settings(), host, port, secure_cookies=secure_cookies,
               secret_file=Path(secret_file) if secret_file else None, run_jobs=run_jobs)


def serve_desk(settings: Settings, host: str, port: int, *, secure_cookies: bool = False,
               secret_file: Path | None = None, run_jobs: bool = True,
               address_to_stdout: bool = False) -> None:
    """Serve the desk on ``settings``' archive until Ctrl-C or SIGTERM, saying its address
    (on stderr, or stdout) once bound. The session key lives in ``secret_file`` (default
    ``$ARCHIVER_HOME/web-secret.key``)."""
    from archiver.exports.business_days import calendar_from_env
    from archiver.web import create_app
    from archiver.web.background import stop_runner
    from archiver.web.options import WebOptions, load_secret_key
    from archiver.web.serve import serve

    key = load_secret_key(secret_file or settings.home / "web-secret.key")
    app = create_app(settings, options=WebOptions(secret_key=key, secure_cookies=secure_cookies),
                     calendar=calendar_from_env(os.environ), run_jobs=run_jobs)
    try:
        serve(app, host, port, listening=lambda address: click.echo(
            f"records desk on {address} (Ctrl-C stops it)", err=not address_to_stdout))
    finally:
        stop_runner(app)
