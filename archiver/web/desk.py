"""What every view uses: the archive, the signed-in user's access, role checks, the audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, current_app, g, request

from archiver.access.roles import Role
from archiver.access.users import Access
from archiver.exports.business_days import HolidayCalendar
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.web.options import WebOptions

P = ParamSpec("P")
R = TypeVar("R")

_ARCHIVE = "archiver.archive"
_OPTIONS = "archiver.options"
_CALENDAR = "archiver.calendar"


def archive() -> Archive:
    """The archive this desk serves (opened once by :func:`archiver.web.create_app`)."""
    found: Archive = current_app.extensions[_ARCHIVE]
    return found


def options() -> WebOptions:
    found: WebOptions = current_app.extensions[_OPTIONS]
    return found


def calendar() -> HolidayCalendar:
    """The agency's holiday calendar (request due dates in business days)."""
    found: HolidayCalendar = current_app.extensions[_CALENDAR]
    return found


def now() -> datetime:
    """The archive's clock (tests set it), never the wall clock directly."""
    return archive().clock()


def current_access() -> Access | None:
    """The signed-in user's role and account limit for this request (None: nobody signed in).

    Set by the session check for pages and by the bearer token for ``/api/``."""
    found: Access | None = g.get("access")
    return found


def signed_in() -> Access:
    """The current access; 401 when nobody is signed in (pages are redirected before this)."""
    access = current_access()
    if access is None:
        abort(401)
    return access


def require_role(role: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A view decorator: the user must be signed in (else sign-in page, or 401 for the API)
    with at least ``role`` (else 403)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            access = current_access()
            if access is None:
                abort(401)
            if not access.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def is_api(blueprint: str | None) -> bool:
    """Whether ``blueprint`` serves ``/api/`` (``api`` or ``api_<family>``): bearer tokens,
    no cookies, JSON errors."""
    name = (blueprint or "").split(".")[0]
    return name == "api" or name.startswith("api_")


def audit(action: str, target_type: str | None = None, target_id: str | int | None = None,
          details: dict[str, Any] | None = None) -> None:
    """Record one audit event naming the signed-in user (and the client address), in its own
    transaction. Reads are audited too: every search, item view and download."""
    access = current_access()
    actor = access.name if access else "anonymous"
    extra = {"via": "api" if is_api(request.blueprint) else "web",
             "source": request.remote_addr}
    with archive().transaction() as s:
        record_event(s, action=action, occurred_at=now(), actor=actor, target_type=target_type,
                     target_id=target_id, details={**(details or {}), **extra})
