"""The audit log (records managers and admins who see every account): events newest first,
filtered by action, user, target and dates, a page at a time, and the last ``verify`` run."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from archiver.access.roles import Role
from archiver.dates import parse_moment
from archiver.store.audit_log import AuditFilter, audit_actions, audit_events
from archiver.verify import last_verify
from archiver.web.desk import archive, require_role
from archiver.web.views.records_common import every_account, page_number

audit = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50
FILTER_FIELDS = ("action", "actor", "target_type", "target_id", "since", "until")


def audit_filter() -> AuditFilter:
    """The filter the query string asks for (dates in the agency's zone, ``until`` inclusive
    of its whole day)."""
    values = {k: request.args.get(k, "").strip() for k in FILTER_FIELDS}
    tz = archive().settings.tz
    return AuditFilter(
        action=values["action"] or None, actor=values["actor"] or None,
        target_type=values["target_type"] or None, target_id=values["target_id"] or None,
        since=parse_moment(values["since"], "From", tz) if values["since"] else None,
        until=parse_moment(values["until"], "To", tz, end_of_day=True)
        if values["until"] else None)


@audit.route("")
@require_role(Role.RECORDS_MANAGER)
def index() -> str:
    every_account()
    filters = audit_filter()
    page = page_number()
    found = audit_events(archive(), filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    shown = {k: v for k in FILTER_FIELDS if (v := request.args.get(k, "").strip())}
    return render_template("audit/index.html", found=found, page=page, shown=shown,
                           actions=audit_actions(archive()), verify=last_verify(archive()),
                           pages=max(1, -(-found.total // PAGE_SIZE)))
