"""``/api/accounts``: the account registry as JSON, within the token user's account limit."""

from __future__ import annotations

import os

from flask import Blueprint, Response, jsonify

from archiver.access.roles import Role
from archiver.capture.health import account_status, account_statuses
from archiver.web.desk import archive, require_role, signed_in

api_accounts = Blueprint("api_accounts", __name__, url_prefix="/api/accounts")


@api_accounts.route("")
@require_role(Role.VIEWER)
def index() -> Response:
    rows = account_statuses(archive(), os.environ, within=signed_in().limit)
    return jsonify({"accounts": [r.as_json() for r in rows]})


@api_accounts.route("/<int:account_id>")
@require_role(Role.VIEWER)
def show(account_id: int) -> Response:
    return jsonify(account_status(archive(), account_id, os.environ,
                                  within=signed_in().limit).as_json())
