"""Accounts: the registry with each page's approval record (GO 80.11 III.A.1.a), its token
variable and capture health; admins register new accounts here like ``archiver accounts add``.

Everyone may see the accounts within their limit. Only the token variable's *name* and whether
the desk's environment has it are shown; a token value is never asked for nor shown.
"""

from __future__ import annotations

import os

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from archiver.access.roles import Role
from archiver.capture.health import account_status, account_statuses
from archiver.connectors import PLATFORMS
from archiver.errors import ArchiverError
from archiver.store.accounts import ENV_NAME, AccountSpec, add_account
from archiver.web.desk import archive, require_role, signed_in
from archiver.web.views.records_common import every_account, optional_date

accounts = Blueprint("accounts", __name__, url_prefix="/accounts")

# The form's fields, in order, as ``archiver accounts add`` names them.
FIELDS = ("platform", "external_id", "handle", "url", "approved_by", "approved_on",
          "admin_unit", "api_base", "token_env", "tags")


@accounts.route("")
@require_role(Role.VIEWER)
def index() -> str:
    access = signed_in()
    rows = account_statuses(archive(), os.environ, within=access.limit)
    return render_template("accounts/index.html", rows=rows,
                           may_add=access.at_least(Role.ADMIN) and access.limit.unlimited)


@accounts.route("/<int:account_id>")
@require_role(Role.VIEWER)
def show(account_id: int) -> str:
    status = account_status(archive(), account_id, os.environ, within=signed_in().limit)
    return render_template("accounts/show.html", row=status)


@accounts.route("/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def new() -> Response | str | tuple[str, int]:
    access = every_account()
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    if request.method == "GET":
        return _form(values, None)
    if values["token_env"] and not ENV_NAME.match(values["token_env"]):
        # Not quoted back: a token pasted here by mistake must not be shown again.
        values["token_env"] = ""
        return _form(values, "Token variable: type the name of the environment variable "
                             "(capital letters, digits and _), never the token itself."), 400
    try:
        spec = AccountSpec(
            platform=values["platform"], external_id=values["external_id"],
            handle=values["handle"], url=values["url"] or None,
            approved_by=values["approved_by"] or None,
            approved_on=optional_date(values["approved_on"], "Approved on"),
            admin_unit=values["admin_unit"] or None, api_base=values["api_base"] or None,
            token_env=values["token_env"] or None,
            tags=tuple(t.strip() for t in values["tags"].split(",") if t.strip()))
        account = add_account(archive(), spec, actor=access.name)
    except ArchiverError as exc:
        return _form(values, str(exc)), 400
    return redirect(url_for("accounts.show", account_id=account.id), 303)


def _form(values: dict[str, str], error: str | None) -> str:
    return render_template("accounts/new.html", values=values, error=error,
                           platforms=sorted(PLATFORMS))
