"""``/api/retention``: the disposition report (``?as_of=YYYY-MM-DD``, default today) and the
dispositions with their progress, for records managers who see every account."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from archiver.access.roles import Role
from archiver.retention.dispositions import disposition_view, list_dispositions
from archiver.retention.report import retention_report
from archiver.web.desk import archive, require_role
from archiver.web.views.records_common import every_account
from archiver.web.views.retention import as_of_arg

api_retention = Blueprint("api_retention", __name__, url_prefix="/api/retention")


@api_retention.route("/report")
@require_role(Role.RECORDS_MANAGER)
def report() -> Response:
    every_account()
    return jsonify(retention_report(archive(), as_of_arg()).as_json())


@api_retention.route("/dispositions")
@require_role(Role.RECORDS_MANAGER)
def dispositions() -> Response:
    every_account()
    return jsonify({"dispositions": [d.as_json() for d in list_dispositions(archive())]})


@api_retention.route("/dispositions/<int:disposition_id>")
@require_role(Role.RECORDS_MANAGER)
def disposition(disposition_id: int) -> Response:
    every_account()
    return jsonify(disposition_view(archive(), disposition_id).as_json())
