"""Accounts: the department pages the archive captures (General Order 80.11 III.A.1.a).

An account names the environment variable that holds its token, never the token itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from archiver.errors import ArchiverError, ConfigError, NotFound
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Account

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class AccountSpec:
    """What ``accounts add`` is given."""

    platform: str
    external_id: str
    handle: str
    url: str | None = None
    approved_by: str | None = None
    approved_on: date | None = None
    admin_unit: str | None = None
    api_base: str | None = None
    token_env: str | None = None
    tags: tuple[str, ...] = ()


def default_token_env(platform: str, external_id: str) -> str:
    """``ARCHIVER_TOKEN_FACEBOOK_1234567890``: one variable per account."""
    return re.sub(r"[^A-Z0-9_]", "_", f"ARCHIVER_TOKEN_{platform}_{external_id}".upper())


def add_account(archive: Archive, spec: AccountSpec, *, actor: str) -> Account:
    """Register an account and record who did it; a duplicate is an error."""
    from archiver.connectors import PLATFORMS

    if spec.platform not in PLATFORMS:
        raise ArchiverError(
            f"unknown platform {spec.platform!r} (known: {', '.join(sorted(PLATFORMS))})"
        )
    if not spec.external_id.strip() or not spec.handle.strip():
        raise ArchiverError("an account needs a non-empty external id and handle")
    if (spec.approved_by is None) != (spec.approved_on is None):
        raise ArchiverError("--approved-by and --approved-on go together")
    token_env = spec.token_env or default_token_env(spec.platform, spec.external_id)
    if not ENV_NAME.match(token_env):
        raise ConfigError(
            f"--token-env: {token_env!r} is not an environment variable name (A-Z, 0-9, _)"
        )
    if spec.api_base is not None and not spec.api_base.startswith(("http://", "https://")):
        raise ConfigError(f"--api-base: {spec.api_base!r} is not an http(s) URL")
    now = archive.clock()
    account = Account(
        platform=spec.platform, external_id=spec.external_id, handle=spec.handle,
        url=spec.url, approved_by=spec.approved_by, approved_on=spec.approved_on,
        admin_unit=spec.admin_unit, api_base=spec.api_base, token_env=token_env,
        tags=",".join(spec.tags), active=True, created_at=now,
    )
    try:
        with archive.transaction() as s:
            s.add(account)
            s.flush()
            record_event(
                s, action="account.add", occurred_at=now, actor=actor, target_type="account",
                target_id=account.id, details=account_json(account),
            )
    except IntegrityError:
        raise ArchiverError(
            f"account {spec.platform} {spec.external_id} is already registered"
        ) from None
    return account


def list_accounts(archive: Archive) -> list[Account]:
    with archive.sessions() as s:
        return list(s.scalars(select(Account).order_by(Account.id)))


def get_account(archive: Archive, account_id: int) -> Account:
    with archive.sessions() as s:
        account = s.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id} (see 'archiver accounts list')")
    return account


def account_json(account: Account) -> dict[str, object]:
    """The account as printed by ``accounts list --json`` (no secrets exist to leak)."""
    return {
        "account_id": account.id,
        "platform": account.platform,
        "external_id": account.external_id,
        "handle": account.handle,
        "url": account.url,
        "approved_by": account.approved_by,
        "approved_on": account.approved_on.isoformat() if account.approved_on else None,
        "admin_unit": account.admin_unit,
        "api_base": account.api_base,
        "token_env": account.token_env,
        "tags": [t for t in account.tags.split(",") if t],
        "active": account.active,
        "created_at": account.created_at.isoformat(),
    }
