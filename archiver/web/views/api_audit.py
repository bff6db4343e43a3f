"""``/api/audit``: audit events with the page's filters (``action``, ``actor``,
``target_type``, ``target_id``, ``since``, ``until``, ``offset``, ``limit``) and the last
``verify`` run, for users who see every account."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from archiver.access.roles import Role
from archiver.store.audit_log import audit_events
from archiver.verify import last_verify
from archiver.web.desk import archive, require_role
from archiver.web.views.audit import PAGE_SIZE, audit_filter
from archiver.web.views.records_common import every_account

api_audit = Blueprint("api_audit", __name__, url_prefix="/api/audit")


def _number(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default


@api_audit.route("")
@require_role(Role.RECORDS_MANAGER)
def index() -> Response:
    every_account()
    found = audit_events(archive(), audit_filter(), limit=_number("limit", PAGE_SIZE),
                         offset=_number("offset", 0))
    return jsonify(found.as_json())


@api_audit.route("/verify")
@require_role(Role.RECORDS_MANAGER)
def verify() -> Response:
    every_account()
    found = last_verify(archive())
    return jsonify({"last_verify": found.as_json() if found else None})
