"""Open-records requests: the register with statutory due dates, registering a request, and a
request's workspace (its scope, a redaction preview, its package built in the background,
marking it fulfilled). Custodians and up.

The register, the due dates (KORA: the end of the third business day after receipt) and the
protection a request gives are the library's (:mod:`archiver.exports.requests`); each change is
audited there under the signed-in user's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.dates import parse_date
from archiver.errors import ArchiverError
from archiver.exports.business_days import HolidayCalendar, calendar_from_env
from archiver.exports.redaction import Redactor, load_rules, parse_item_redactions
from archiver.exports.redaction_preview import RedactionPreview, preview_redactions
from archiver.exports.requests import (
    RequestView,
    add_request,
    add_request_scope,
    close_request,
    get_request_view,
    list_requests,
    package_scope,
)
from archiver.jobs.kinds import JobKind
from archiver.jobs.queue import JobView
from archiver.jobs.specs import OpenRecordsJob
from archiver.retention.scope import check_within
from archiver.web.background import submit
from archiver.web.desk import archive, audit, now, require_role, signed_in
from archiver.web.scopes import ScopeFields, account_choices, flag
from archiver.web.views.jobs import visible_jobs

requests_pages = Blueprint("requests", __name__, url_prefix="/requests")

_CALENDAR = "archiver.calendar"
SEE_OTHER = 303
PREVIEW = "preview_"


def calendar() -> HolidayCalendar:
    """The agency's holidays (``ARCHIVER_HOLIDAYS``, or the shipped Kansas ones), read once."""
    found: HolidayCalendar | None = current_app.extensions.get(_CALENDAR)
    if found is None:
        found = calendar_from_env(os.environ)
        current_app.extensions[_CALENDAR] = found
    return found


def today() -> date:
    return now().astimezone(archive().settings.tz).date()


def optional_text(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return str(value).strip() or None if value is not None else None


def register_request(values: Mapping[str, Any], fields: ScopeFields) -> RequestView:
    """Register the request ``values`` describe (``request_id``, ``received_on``,
    ``requester``, ``description``) with the scope ``fields`` give, if any."""
    access = signed_in()
    received = optional_text(values, "received_on")
    scope = fields.scope() if fields.given else None
    if scope is not None:
        check_within(scope, access.limit, "cover")
    return add_request(archive(), str(values.get("request_id") or ""),
                       received_on=parse_date(received, "received on") if received else today(),
                       calendar=calendar(), actor=access.name,
                       requester=optional_text(values, "requester"),
                       description=optional_text(values, "description"), scope=scope)


def widen_scope(request_id: str, fields: ScopeFields) -> RequestView:
    """Add ``fields`` to an open request's scope (what it matches is protected from now on)."""
    access = signed_in()
    scope = fields.scope()
    check_within(scope, access.limit, "cover")
    return add_request_scope(archive(), request_id, scope, calendar=calendar(),
                             actor=access.name)


@dataclass(frozen=True)
class PackageChoices:
    """How the package is redacted: the shipped rules, and items withheld whole
    (``ITEM_ID: reason`` lines), and whether it carries PDFs."""

    redact: bool = True
    withhold: tuple[str, ...] = ()
    pdf: bool = True

    @classmethod
    def read(cls, values: Mapping[str, Any], *, ticked_by_default: bool,
             prefix: str = "") -> PackageChoices:
        """From a form or query arguments (field names after ``prefix``: ``redact``,
        ``withhold``, ``pdf``); ``ticked_by_default``: nothing was submitted yet, so the boxes
        start ticked."""
        raw = values.get(prefix + "withhold") or ""
        lines = raw if isinstance(raw, list) else str(raw).splitlines()
        withhold = tuple(line.strip() for line in lines if str(line).strip())
        if ticked_by_default:
            return cls(withhold=withhold)
        return cls(redact=flag(values.get(prefix + "redact")), withhold=withhold,
                   pdf=flag(values.get(prefix + "pdf")))

    def redactor(self) -> Redactor:
        return Redactor(rules=load_rules() if self.redact else (),
                        items=parse_item_redactions(self.withhold))

    def job(self, request_id: str) -> OpenRecordsJob:
        return OpenRecordsJob(request_id=request_id, redact=self.redact,
                              redact_items=self.withhold, pdf=self.pdf,
                              within=signed_in().limit)


def redaction_preview(request_id: str, choices: PackageChoices) -> RedactionPreview:
    """What the package would redact in the first threads of the request's scope (within the
    user's accounts); audited like a search, since it reads items."""
    scope = package_scope(archive(), request_id, signed_in().limit)
    preview = preview_redactions(archive(), scope, choices.redactor())
    audit("desk.redaction_preview", "open_records_request", request_id,
          {"redact": choices.redact, "withheld_items": len(choices.withhold),
           "threads_read": preview.threads_read, "redactions": len(preview.redactions)})
    return preview


def request_packages(request_id: str) -> list[JobView]:
    return visible_jobs([JobKind.OPEN_RECORDS], subject=request_id)


# -- pages ------------------------------------------------------------------------------------


@requests_pages.route("")
@require_role(Role.CUSTODIAN)
def index() -> str:
    show_all = flag(request.args.get("all"))
    views = list_requests(archive(), calendar(), include_closed=show_all)
    return render_template("requests/index.html", requests=views, show_all=show_all,
                           today=today())


@requests_pages.route("/new", methods=["GET", "POST"])
@require_role(Role.CUSTODIAN)
def new() -> ResponseReturnValue:
    if request.method == "GET":
        return _new_form(request.args, ScopeFields.read(request.args))
    fields = ScopeFields.read(request.form)
    try:
        view = register_request(request.form, fields)
    except ArchiverError as exc:
        return _new_form(request.form, fields, message=str(exc)), 400
    return redirect(url_for("requests.show", request_id=view.request_id), SEE_OTHER)


def _new_form(values: Mapping[str, Any], fields: ScopeFields, message: str | None = None) -> str:
    return render_template(
        "requests/new.html", values=values, fields=fields, message=message,
        accounts=account_choices(signed_in().limit), limited=not signed_in().limit.unlimited,
        today=today().isoformat())


@requests_pages.route("/show/<path:request_id>")
@require_role(Role.CUSTODIAN)
def show(request_id: str) -> str:
    return _workspace(request_id)


def _workspace(request_id: str, *, message: str | None = None,
               fields: ScopeFields | None = None) -> str:
    view = get_request_view(archive(), request_id, calendar())
    previewing = flag(request.args.get("preview"))
    # The preview's fields have names of their own: a page with two checkboxes of one name
    # in two forms reads as one group of checkboxes to assistive technology.
    choices = PackageChoices.read(request.args, ticked_by_default=not previewing,
                                  prefix=PREVIEW)
    if previewing:  # the preview has no box for PDFs: the package's starts ticked
        choices = replace(choices, pdf=True)
    preview: RedactionPreview | None = None
    preview_error: str | None = None
    if previewing and view.scope:
        try:
            preview = redaction_preview(request_id, choices)
        except ArchiverError as exc:
            preview_error = str(exc)
    access = signed_in()
    return render_template(
        "requests/show.html", view=view, choices=choices, preview=preview,
        preview_error=preview_error, jobs=request_packages(request_id), message=message,
        fields=fields or ScopeFields(), accounts=account_choices(access.limit),
        limited=not access.limit.unlimited)


@requests_pages.route("/scope/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def scope(request_id: str) -> ResponseReturnValue:
    fields = ScopeFields.read(request.form)
    try:
        widen_scope(request_id, fields)
    except ArchiverError as exc:
        return _workspace(request_id, message=str(exc), fields=fields), 400
    return redirect(url_for("requests.show", request_id=request_id), SEE_OTHER)


@requests_pages.route("/package/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def package(request_id: str) -> ResponseReturnValue:
    choices = PackageChoices.read(request.form, ticked_by_default=False)
    try:
        job = submit(choices.job(request_id))
    except ArchiverError as exc:
        return _workspace(request_id, message=str(exc)), 400
    return redirect(url_for("jobs.show", job_id=job.job_id), SEE_OTHER)


@requests_pages.route("/close/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def close(request_id: str) -> ResponseReturnValue:
    try:
        close_request(archive(), request_id, actor=signed_in().name)
    except ArchiverError as exc:
        return _workspace(request_id, message=str(exc)), 400
    return redirect(url_for("requests.show", request_id=request_id), SEE_OTHER)
