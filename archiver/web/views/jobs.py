"""Background jobs: their progress while they run, and their result to download.

A job is seen by the roles that may start its kind, and by a user limited to some accounts
only when it was made within their limit (otherwise it is answered as "not found").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, render_template
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.exports.zipout import safe_name
from archiver.jobs.kinds import JobKind
from archiver.jobs.queue import JobView, get_job, list_jobs
from archiver.web.desk import archive, audit, require_role, signed_in
from archiver.web.security import attachment_file

jobs = Blueprint("jobs", __name__, url_prefix="/jobs")

# The lowest role that may start (and so see) each kind of job.
KIND_ROLE: dict[JobKind, Role] = {JobKind.OPEN_RECORDS: Role.CUSTODIAN,
                                  JobKind.PRODUCTION: Role.LEGAL,
                                  JobKind.PURGE: Role.RECORDS_MANAGER}


def visible_kinds() -> list[JobKind]:
    access = signed_in()
    return [kind for kind, role in KIND_ROLE.items() if access.at_least(role)]


def visible_jobs(kinds: list[JobKind] | None = None, subject: str | None = None,
                 limit: int = 50) -> list[JobView]:
    """The jobs the signed-in user may see, newest first."""
    allowed = visible_kinds()
    wanted = allowed if kinds is None else [k for k in kinds if k in allowed]
    return list_jobs(archive(), kinds=wanted, subject=subject,
                     readable_within=signed_in().limit, limit=limit)


def visible_job(job_id: int) -> JobView:
    """The job, if the signed-in user may see it: 403 for a role below its kind's, 404 for one
    made for a wider account limit than theirs (as for no such job)."""
    job = get_job(archive(), job_id)
    access = signed_in()
    if not access.at_least(KIND_ROLE[job.kind]):
        abort(403)
    if not access.limit.covers(job.within):
        abort(404)
    return job


def download_name(job: JobView) -> str:
    """The file name a download is offered under: made of the job's id and validated names
    (a Bates prefix), or of a request id reduced to safe characters."""
    if job.kind is JobKind.OPEN_RECORDS:
        return f"open-records-{safe_name(job.subject or '', str(job.job_id))}.zip"
    if job.kind is JobKind.PRODUCTION:
        name = safe_name(str(job.result.get("production") or ""), f"production-{job.job_id}")
        return f"{name}.zip"
    return f"job-{job.job_id}-certificate.json"


def download(job: JobView) -> ResponseReturnValue:
    """The job's file as an attachment, audited as ``desk.download``; 404 while there is none."""
    if not job.has_file or job.result_path is None:
        abort(404)
    audit("desk.download", "job", job.job_id,
          {"kind": str(job.kind), "subject": job.subject, "sha256": job.result.get("sha256"),
           "export_id": job.result.get("export_id")})
    media = "application/zip" if job.kind is not JobKind.PURGE else "application/json"
    return attachment_file(Path(job.result_path), download_name(job), media)


def status_json(job: JobView) -> dict[str, Any]:
    """What the progress page's script reads while it waits."""
    return {"job_id": job.job_id, "state": str(job.state), "phase": job.phase,
            "done": job.done, "total": job.total, "percent": job.percent,
            "finished": job.state.finished, "error": job.error}


@jobs.route("")
@require_role(Role.CUSTODIAN)
def index() -> str:
    return render_template("jobs/index.html", jobs=visible_jobs())


@jobs.route("/<int:job_id>")
@require_role(Role.CUSTODIAN)
def show(job_id: int) -> str:
    return render_template("jobs/show.html", job=visible_job(job_id))


@jobs.route("/<int:job_id>/status")
@require_role(Role.CUSTODIAN)
def status(job_id: int) -> ResponseReturnValue:
    return jsonify(status_json(visible_job(job_id)))


@jobs.route("/<int:job_id>/download")
@require_role(Role.CUSTODIAN)
def download_file(job_id: int) -> ResponseReturnValue:
    return download(visible_job(job_id))
