"""Shell completion for values the command line cannot know by itself: platforms, and the hold
names, request ids and account ids stored in the archive.

click calls these while the user presses TAB
(https://click.palletsprojects.com/en/stable/shell-completion/). The ones that read the archive
open the database the settings name and nothing else, never create it, and print nothing: no
archive yet, a database that is down or a bad setting all mean no candidates, not a traceback in
the middle of the user's command line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from archiver.terminal import visible

if TYPE_CHECKING:
    from sqlalchemy.sql import Executable

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]

# A TAB must not wait for a database server that does not answer.
_CONNECT_TIMEOUT_SECONDS = "2"


def platform_names(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    """The platforms a connector exists for."""
    from archiver.connectors import PLATFORMS

    return [CompletionItem(p) for p in PLATFORMS if p.startswith(incomplete)]


def _from_archive(query: Callable[[], Executable]) -> Completer:
    """A completer offering the first column of ``query``'s rows (the second, if any, is shown
    as help by zsh and fish)."""

    def complete(ctx: click.Context, param: click.Parameter,
                 incomplete: str) -> list[CompletionItem]:
        items = []
        for row in _rows(query):
            value = str(row[0])
            shown = " ".join(str(v) for v in row[1:] if v is not None)
            # The shell reads candidates line by line: a stored name that would not stay on its
            # line (or would drive the terminal) is left out rather than offered.
            if value.startswith(incomplete) and visible(value) == value:
                items.append(CompletionItem(value, help=visible(shown) or None))
        return items

    return complete


def _rows(query: Callable[[], Executable]) -> list[tuple[Any, ...]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from archiver.config import load_settings
            from archiver.store import db

            url = _existing_database(load_settings().db_url)
            if url is None:
                return []
            engine = db.make_engine(url)
            try:
                with engine.connect() as connection:
                    return [tuple(row) for row in connection.execute(query())]
            finally:
                engine.dispose()
    except Exception:  # whatever failed, the answer is "no candidates"
        return []


def _existing_database(db_url: str) -> str | None:
    """``db_url`` when its database may exist (a SQLite file is never created by a TAB), with a
    short connect timeout for a server."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        name = url.database or ""
        return db_url if name and name != ":memory:" and Path(name).expanduser().is_file() \
            else None
    if url.get_backend_name() in ("postgresql", "postgres") and "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": _CONNECT_TIMEOUT_SECONDS})
    return url.render_as_string(hide_password=False)


def _holds(active_only: bool) -> Callable[[], Executable]:
    def query() -> Executable:
        from sqlalchemy import select

        from archiver.store.models import Hold

        statement = select(Hold.name, Hold.matter).order_by(Hold.name)
        return statement.where(Hold.released_at.is_(None)) if active_only else statement

    return query


def _requests(open_only: bool) -> Callable[[], Executable]:
    def query() -> Executable:
        from sqlalchemy import select

        from archiver.store.models import OpenRecordsRequest as Request
        from archiver.store.vocabulary import RequestStatus

        statement = select(Request.request_id, Request.requester).order_by(Request.request_id)
        return statement.where(Request.status == RequestStatus.OPEN) if open_only else statement

    return query


def _accounts() -> Executable:
    from sqlalchemy import select

    from archiver.store.models import Account

    return select(Account.id, Account.platform, Account.handle).order_by(Account.id)


hold_names = _from_archive(_holds(active_only=False))
active_hold_names = _from_archive(_holds(active_only=True))
request_ids = _from_archive(_requests(open_only=False))
open_request_ids = _from_archive(_requests(open_only=True))
account_ids = _from_archive(_accounts)
