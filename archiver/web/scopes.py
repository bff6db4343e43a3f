"""The scope fields a hold and a records request share (query, account, published since and
until, or everything), read from a form, query arguments or a JSON body.

The search page links to ``/holds/new`` and ``/requests/new`` with its own arguments (``q``,
``account``, ``since``, ``until``), so those names are accepted too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.errors import ArchiverError
from archiver.retention.scope import ProtectionScope
from archiver.search.filters import filters_from_options
from archiver.store.accounts import list_accounts
from archiver.store.limits import AccountLimit
from archiver.web.desk import archive

_TRUE = frozenset({"1", "on", "yes", "true"})


def flag(value: Any) -> bool:
    """A checkbox, query argument or JSON value meaning yes."""
    return value is True or str(value).strip().lower() in _TRUE


@dataclass(frozen=True)
class ScopeFields:
    """What was typed, kept as text so a form shows it again after an error."""

    query: str = ""
    account: str = ""
    since: str = ""
    until: str = ""
    everything: bool = False

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> ScopeFields:
        """From form fields or query arguments (``query`` or ``q``, ``account`` or
        ``account_id``, ``since``, ``until``, ``all``)."""

        def text(*names: str) -> str:
            for name in names:
                value = values.get(name)
                if value is not None and str(value).strip():
                    return str(value).strip()
            return ""

        return cls(query=text("query", "q"), account=text("account", "account_id"),
                   since=text("since"), until=text("until"), everything=flag(values.get("all")))

    @property
    def given(self) -> bool:
        return self.everything or any((self.query, self.account, self.since, self.until))

    def scope(self) -> ProtectionScope:
        """The scope, dates read in the agency's zone; a one-line error for what cannot be
        read (the scope's own rules are checked where it is used)."""
        account_id: int | None = None
        if self.account:
            if not self.account.isdigit():
                raise ArchiverError(f"account: {self.account!r} is not an account number")
            account_id = int(self.account)
        filters = filters_from_options({"account_id": account_id, "since": self.since or None,
                                        "until": self.until or None}, archive().settings.tz)
        return ProtectionScope(query=self.query or None, account_id=filters.account_id,
                               since=filters.since, until=filters.until,
                               everything=self.everything)

    def args(self) -> dict[str, str]:
        """As query arguments (for links back to a preview)."""
        shown = {"q": self.query, "account": self.account, "since": self.since,
                 "until": self.until, "all": "1" if self.everything else ""}
        return {k: v for k, v in shown.items() if v}


@dataclass(frozen=True)
class AccountChoice:
    account_id: int
    label: str


def account_choices(limit: AccountLimit) -> list[AccountChoice]:
    """The accounts a user may name in a scope (all of them, or those of their limit)."""
    return [AccountChoice(a.id, f"{a.id}: {a.handle} ({a.platform})")
            for a in list_accounts(archive()) if limit.allows(a.id)]
