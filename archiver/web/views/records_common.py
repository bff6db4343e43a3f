"""What the records pages (accounts, audit log, users, retention) share: the every-account
rule, form values as ids and dates, paging."""

from __future__ import annotations

from datetime import date

from flask import abort, request

from archiver.access.users import Access
from archiver.dates import parse_date
from archiver.errors import ArchiverError
from archiver.web.desk import signed_in


def every_account() -> Access:
    """The signed-in user, who must see every account (403 otherwise): the audit log, user
    administration and the agency-wide purge are not one unit's to see or change."""
    access = signed_in()
    if not access.limit.unlimited:
        abort(403)
    return access


def form_ids(name: str) -> list[int]:
    """The integer values of the form field ``name`` (checkboxes); anything else is refused."""
    try:
        return sorted({int(v) for v in request.form.getlist(name)})
    except ValueError:
        raise ArchiverError(f"{name}: not a list of ids") from None


def optional_date(value: str | None, label: str) -> date | None:
    """A YYYY-MM-DD field, or None when left empty."""
    value = (value or "").strip()
    return parse_date(value, label) if value else None


def page_number() -> int:
    """The ``page`` query argument (1 when missing or not a positive number)."""
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def position(name: str) -> int | None:
    """A whole-number query argument (0 or more), or None when missing or not one."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None
