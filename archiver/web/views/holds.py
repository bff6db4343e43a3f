"""Legal holds: created from a search (``/holds/new?q=...&account=...&since=...&until=...``,
the search page's own arguments) after a preview of what they would cover, listed, shown, and
released with a reason. Legal staff and up.

Creating and releasing are the library's (:mod:`archiver.retention.holds`), audited there under
the signed-in user's name; previews read items and are audited like a search. A user limited to
some accounts holds and sees only items of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.errors import ArchiverError
from archiver.jobs.kinds import JobKind
from archiver.retention.holds import (
    HoldSpec,
    check_hold_within,
    create_hold,
    hold_detail,
    list_holds,
    release_hold,
)
from archiver.retention.scope import ScopePreview, check_within, preview_items, preview_scope
from archiver.web.desk import archive, audit, require_role, signed_in
from archiver.web.scopes import ScopeFields, account_choices
from archiver.web.views.jobs import visible_jobs

holds = Blueprint("holds", __name__, url_prefix="/holds")
SEE_OTHER = 303
FIRST_ITEMS = 20


def scope_preview(fields: ScopeFields) -> ScopePreview:
    """What a hold with ``fields`` would cover now, within the user's accounts (audited)."""
    access = signed_in()
    scope = fields.scope()
    scope.check("a hold")
    check_within(scope, access.limit, "hold")
    preview = preview_scope(archive(), scope, access.limit, FIRST_ITEMS)
    audit("desk.hold_preview", "hold", None, {"scope": scope.describe(), "items": preview.count})
    return preview


def new_hold(values: Mapping[str, Any], fields: ScopeFields) -> dict[str, Any]:
    """Create the hold ``values`` name (``name``, ``matter``, ``custodians``: one per line or
    a list) over ``fields``."""
    access = signed_in()
    scope = fields.scope()
    check_within(scope, access.limit, "hold")
    raw = values.get("custodians") or ""
    custodians = raw if isinstance(raw, list) else str(raw).splitlines()
    return create_hold(archive(), HoldSpec(
        name=str(values.get("name") or "").strip(), matter=str(values.get("matter") or "").strip(),
        created_by=access.name, query=scope.query, account_id=scope.account_id,
        since=scope.since, until=scope.until, everything=scope.everything,
        custodians=tuple(str(c).strip() for c in custodians if str(c).strip())))


def shown_hold(name: str) -> tuple[dict[str, Any], ScopePreview]:
    """The hold and the items it covers within the user's accounts (audited: it reads items)."""
    detail = hold_detail(archive(), name)
    preview = preview_items(archive(), detail.pop("item_ids"), signed_in().limit, FIRST_ITEMS)
    audit("desk.hold_view", "hold", name, {"items": preview.count})
    return detail, preview


def end_hold(name: str, reason: str) -> dict[str, Any]:
    """Release the hold with ``reason``, as the signed-in user."""
    access = signed_in()
    if not reason.strip():
        raise ArchiverError("releasing a hold needs a reason")
    check_hold_within(archive(), name, access.limit)
    return release_hold(archive(), name, released_by=access.name, reason=reason)


# -- pages ------------------------------------------------------------------------------------


@holds.route("")
@require_role(Role.LEGAL)
def index() -> str:
    return render_template("holds/index.html",
                           holds=list_holds(archive(), within=signed_in().limit))


@holds.route("/new", methods=["GET", "POST"])
@require_role(Role.LEGAL)
def new() -> ResponseReturnValue:
    if request.method == "POST":
        fields = ScopeFields.read(request.form)
        try:
            made = new_hold(request.form, fields)
        except ArchiverError as exc:
            return _new_page(fields, request.form, message=str(exc)), 400
        return redirect(url_for("holds.show", name=made["name"]), SEE_OTHER)
    return _new_page(ScopeFields.read(request.args), {})


def _new_page(fields: ScopeFields, values: Mapping[str, Any], message: str | None = None) -> str:
    preview: ScopePreview | None = None
    preview_error: str | None = None
    if fields.given:
        try:
            preview = scope_preview(fields)
        except ArchiverError as exc:
            preview_error = str(exc)
    access = signed_in()
    return render_template("holds/new.html", fields=fields, values=values, preview=preview,
                           preview_error=preview_error, message=message,
                           accounts=account_choices(access.limit),
                           limited=not access.limit.unlimited)


@holds.route("/show/<path:name>")
@require_role(Role.LEGAL)
def show(name: str) -> str:
    return show_page(name)


def show_page(name: str, message: str | None = None) -> str:
    detail, preview = shown_hold(name)
    return render_template("holds/show.html", hold=detail, preview=preview, message=message,
                           productions=visible_jobs([JobKind.PRODUCTION], subject=name))


@holds.route("/release/<path:name>", methods=["POST"])
@require_role(Role.LEGAL)
def release(name: str) -> ResponseReturnValue:
    try:
        end_hold(name, request.form.get("reason", ""))
    except ArchiverError as exc:
        return show_page(name, message=str(exc)), 400
    return redirect(url_for("holds.show", name=name), SEE_OTHER)
