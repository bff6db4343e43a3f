"""The navigation: every page family's entry, shown only to the roles that may open it."""

from __future__ import annotations

from dataclasses import dataclass

from archiver.access.roles import Role
from archiver.access.users import Access


@dataclass(frozen=True)
class NavEntry:
    endpoint: str  # Flask endpoint, "blueprint.view"
    label: str
    role: Role  # the lowest role that may open it (the view's require_role says the same)


# In the order shown. A page family adds its entry here when it adds its blueprint.
ENTRIES: tuple[NavEntry, ...] = (
    NavEntry("dashboard.index", "Dashboard", Role.VIEWER),
    NavEntry("search.index", "Search", Role.VIEWER),
    NavEntry("requests.index", "Requests", Role.CUSTODIAN),
    NavEntry("holds.index", "Holds", Role.LEGAL),
    NavEntry("productions.index", "Productions", Role.LEGAL),
    NavEntry("jobs.index", "Jobs", Role.CUSTODIAN),
    NavEntry("accounts.index", "Accounts", Role.VIEWER),
    NavEntry("retention.index", "Retention", Role.RECORDS_MANAGER),
    NavEntry("audit.index", "Audit log", Role.RECORDS_MANAGER),
    NavEntry("users.index", "Users", Role.ADMIN),
    NavEntry("me.index_me", "Your settings", Role.VIEWER),
)


def navigation(access: Access | None) -> list[NavEntry]:
    """The entries ``access`` may open (none when nobody is signed in)."""
    if access is None:
        return []
    return [entry for entry in ENTRIES if access.at_least(entry.role)]
