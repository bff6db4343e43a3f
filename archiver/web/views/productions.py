"""Productions: a hold's items produced as a Bates-numbered production in the background
(:mod:`archiver.exports.production`), and the list of productions to download. Legal staff
and up. A user limited to some accounts produces only items of theirs."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.errors import ArchiverError
from archiver.jobs.kinds import JobKind
from archiver.jobs.queue import JobView
from archiver.jobs.specs import ProductionJob
from archiver.web.background import submit
from archiver.web.desk import require_role, signed_in
from archiver.web.views.holds import show_page
from archiver.web.views.jobs import visible_jobs

productions = Blueprint("productions", __name__, url_prefix="/productions")
SEE_OTHER = 303


def start_production(hold: str, bates_prefix: str) -> JobView:
    """Queue the production of ``hold`` as the signed-in user, within their accounts."""
    return submit(ProductionJob(hold=hold, bates_prefix=bates_prefix.strip(),
                                within=signed_in().limit))


@productions.route("")
@require_role(Role.LEGAL)
def index() -> str:
    return render_template("productions/index.html",
                           jobs=visible_jobs([JobKind.PRODUCTION], limit=100))


@productions.route("/new", methods=["POST"])
@require_role(Role.LEGAL)
def new() -> ResponseReturnValue:
    hold = request.form.get("hold", "")
    try:
        job = start_production(hold, request.form.get("bates_prefix", ""))
    except ArchiverError as exc:
        return show_page(hold, message=str(exc)), 400
    return redirect(url_for("jobs.show", job_id=job.job_id), SEE_OTHER)
