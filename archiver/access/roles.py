"""Roles, each with every permission of the roles below it, and what each permits."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a user is at the desk, lowest first; each role can do all the roles below it can."""

    VIEWER = "viewer"  # search and read
    CUSTODIAN = "custodian"  # + records requests and open-records packages
    LEGAL = "legal"  # + holds and productions
    RECORDS_MANAGER = "records_manager"  # + retention report, disposition approval, schedules
    ADMIN = "admin"  # + accounts and users

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: Role) -> bool:
        """Whether this role can do what ``other`` can."""
        return self.rank >= other.rank

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


_ORDER = list(Role)


class Permission(StrEnum):
    """Something a page or an API endpoint lets a user do."""

    READ = "read"  # search, threads, item histories, media, the dashboard
    REQUESTS = "requests"  # the request register and open-records packages
    HOLDS = "holds"  # legal holds and productions
    RETENTION = "retention"  # retention report, disposition approval, schedules, audit log
    ADMINISTER = "administer"  # accounts and users


# The lowest role holding each permission.
REQUIRED_ROLE: dict[Permission, Role] = {
    Permission.READ: Role.VIEWER,
    Permission.REQUESTS: Role.CUSTODIAN,
    Permission.HOLDS: Role.LEGAL,
    Permission.RETENTION: Role.RECORDS_MANAGER,
    Permission.ADMINISTER: Role.ADMIN,
}


def parse_role(text: str) -> Role:
    """The role named ``text`` (``records-manager`` and ``Records Manager`` too)."""
    from archiver.errors import ArchiverError

    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Role(key)
    except ValueError:
        raise ArchiverError(f"unknown role {text!r} (known: {', '.join(Role)})") from None
