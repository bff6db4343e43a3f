"""Retention (records managers who see every account): the disposition report by series as of
a day, a dry run for any day, the approval of a purge (re-entering one's password), its
progress, and the certificates of destruction to download.

The report is :func:`archiver.retention.report.retention_report`, the same as ``archiver
retention report``; the purge runs as a background job, never in the request.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from archiver.access.admin import confirm_password
from archiver.access.roles import Role
from archiver.jobs.kinds import JobKind
from archiver.jobs.queue import JobView, get_job, list_jobs
from archiver.jobs.specs import PurgeJob
from archiver.pdf.writer import document_info
from archiver.retention.certificate import report_pdf
from archiver.retention.dispositions import (
    CertificateFormat,
    certificate_file,
    disposition_view,
    list_dispositions,
    running_disposition,
)
from archiver.retention.purge import dry_run
from archiver.retention.report import RetentionReport, retention_report, write_csv
from archiver.web.background import submit
from archiver.web.desk import archive, audit, now, options, require_role
from archiver.web.security import attachment
from archiver.web.views.records_common import every_account, optional_date

retention = Blueprint("retention", __name__, url_prefix="/retention")


def today() -> date:
    """Today in the agency's zone (the day an approved purge may go up to)."""
    return now().astimezone(archive().settings.tz).date()


def as_of_arg() -> date:
    """The ``as_of`` query argument, today when missing."""
    return optional_date(request.args.get("as_of"), "As of") or today()


def purge_jobs_waiting() -> list[JobView]:
    """Purge jobs queued or under way (a new approval waits until they are over)."""
    return [j for j in list_jobs(archive(), kinds=[JobKind.PURGE], limit=20)
            if not j.state.finished]


def approvable(report: RetentionReport, as_of: date) -> str | None:
    """Why a purge as of ``as_of`` cannot be approved now (None: it can)."""
    if as_of > today():
        return (f"{as_of.isoformat()} is after today: a purge never destroys ahead of time "
                "(the dry run may look ahead)")
    if purge_jobs_waiting() or running_disposition(archive()) is not None:
        return "a purge is already under way; it finishes first"
    if report.schedule is None:
        return "no retention schedule is loaded"
    if report.blocked_by_requests:
        return "disposition is blocked: " + report.blocked_by_requests[0]["reason"]
    if not report.eligible:
        return "nothing is eligible for disposition on that day"
    return None


@retention.route("")
@require_role(Role.RECORDS_MANAGER)
def index() -> str:
    every_account()
    as_of = as_of_arg()
    return render_template("retention/index.html", report=retention_report(archive(), as_of),
                           as_of=as_of, today=today(),
                           dispositions=list_dispositions(archive(), limit=20),
                           running=running_disposition(archive()))


@retention.route("/dry-run")
@require_role(Role.RECORDS_MANAGER)
def dry_run_page() -> str:
    every_account()
    as_of = as_of_arg()
    report = dry_run(archive(), as_of)
    return render_template("retention/dry_run.html", report=report, as_of=as_of, today=today(),
                           refusal=approvable(report, as_of), error=None)


@retention.route("/approve", methods=["POST"])
@require_role(Role.RECORDS_MANAGER)
def approve() -> BaseResponse | tuple[str, int]:
    """Approve the purge the dry run showed: the user re-enters their password, then the purge
    is queued as a background job approved in their name."""
    access = every_account()
    as_of = optional_date(request.form.get("as_of"), "As of")
    if as_of is None:
        abort(400)
    report = dry_run(archive(), as_of)

    def refused(message: str, status: int) -> tuple[str, int]:
        return render_template("retention/dry_run.html", report=report, as_of=as_of,
                               today=today(), refusal=approvable(report, as_of),
                               error=message), status

    refusal = approvable(report, as_of)
    if refusal is not None:
        return refused(f"Not approved: {refusal}.", 409)
    if request.form.get("confirm") != "yes":
        return refused("Not approved: tick the box to confirm the destruction.", 400)
    if not confirm_password(archive(), access, request.form.get("password", ""),
                            purpose=f"purge as of {as_of.isoformat()}",
                            policy=options().lockout):
        return refused("Wrong password: nothing was approved.", 403)
    job = submit(PurgeJob(as_of=as_of, approved_by=access.name))
    return redirect(url_for("retention.job", job_id=job.job_id), 303)


def _purge_job(job_id: int) -> JobView:
    found = get_job(archive(), job_id)
    if found.kind is not JobKind.PURGE:
        abort(404)
    return found


def _job_status(job: JobView) -> dict[str, object]:
    """The job and, once it has started destroying, its disposition's progress."""
    d = running_disposition(archive()) if not job.state.finished else None
    done_id = job.result.get("disposition_id")
    if done_id is not None:
        d = disposition_view(archive(), int(done_id))
    return {"job": job.as_json(), "disposition": d.as_json() if d else None}


@retention.route("/jobs/<int:job_id>")
@require_role(Role.RECORDS_MANAGER)
def job(job_id: int) -> str:
    """A purge job's progress (the page refreshes itself with desk's records.js; without
    script, reload it)."""
    every_account()
    found = _purge_job(job_id)
    status = _job_status(found)
    return render_template("retention/job.html", job=found, d=status["disposition"],
                           status_url=url_for("retention.job_status", job_id=job_id))


@retention.route("/jobs/<int:job_id>/status")
@require_role(Role.RECORDS_MANAGER)
def job_status(job_id: int) -> Response:
    every_account()
    return jsonify(_job_status(_purge_job(job_id)))


@retention.route("/report.pdf")
@require_role(Role.RECORDS_MANAGER)
def report_file() -> Response:
    """The report as a PDF for the records manager's signature."""
    every_account()
    as_of = as_of_arg()
    data = retention_report(archive(), as_of).as_json()
    about = document_info(archive(), f"Records eligible for disposition as of {as_of}")
    audit("desk.download", "retention_report", as_of.isoformat(), {"format": "pdf"})
    return attachment(report_pdf(data, about=about),
                      f"retention-report-{as_of.isoformat()}.pdf", "application/pdf")


@retention.route("/eligible.csv")
@require_role(Role.RECORDS_MANAGER)
def eligible_file() -> Response:
    """One line per item eligible on ``as_of`` (what a purge that day would destroy)."""
    every_account()
    as_of = as_of_arg()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eligible.csv"
        rows = write_csv(archive(), as_of, path)
        data = path.read_bytes()
    audit("desk.download", "retention_report", as_of.isoformat(),
          {"format": "csv", "items": rows})
    return attachment(data, f"eligible-{as_of.isoformat()}.csv", "text/csv")


@retention.route("/dispositions/<int:disposition_id>")
@require_role(Role.RECORDS_MANAGER)
def disposition(disposition_id: int) -> str:
    every_account()
    return render_template("retention/disposition.html",
                           d=disposition_view(archive(), disposition_id))


@retention.route("/dispositions/<int:disposition_id>/certificate.<form>")
@require_role(Role.RECORDS_MANAGER)
def certificate(disposition_id: int, form: str) -> Response:
    every_account()
    try:
        chosen = CertificateFormat(form)
    except ValueError:
        abort(404)
    found = certificate_file(archive(), disposition_id, chosen)
    audit("desk.download", "disposition", disposition_id,
          {"file": found.file_name, "sha256": found.sha256})
    return attachment(found.data, found.file_name, found.media_type)
