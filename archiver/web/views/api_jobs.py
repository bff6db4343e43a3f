"""``/api/jobs``: background jobs as JSON, and their files (bearer tokens, the same roles and
account limits as the pages)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.errors import ArchiverError
from archiver.jobs.queue import JobView
from archiver.web.desk import require_role
from archiver.web.views.api import api
from archiver.web.views.jobs import download, visible_job, visible_jobs

ACCEPTED = 202


def json_body() -> dict[str, Any]:
    """The request's JSON object; a one-line error for anything else."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ArchiverError("the request body must be a JSON object")
    return data


def job_json(job: JobView) -> dict[str, Any]:
    """A job with where to follow it and, when done, where to download its file."""
    data = job.as_json()
    data["url"] = url_for("api.job_show", job_id=job.job_id)
    data["download_url"] = url_for("api.job_download", job_id=job.job_id) if job.has_file \
        else None
    return data


def job_started(job: JobView) -> ResponseReturnValue:
    """202 Accepted with the job and its address (``Location``)."""
    response = jsonify(job_json(job))
    response.status_code = ACCEPTED
    response.headers["Location"] = url_for("api.job_show", job_id=job.job_id)
    return response


@api.route("/jobs")
@require_role(Role.CUSTODIAN)
def jobs_list() -> ResponseReturnValue:
    return jsonify({"jobs": [job_json(j) for j in visible_jobs()]})


@api.route("/jobs/<int:job_id>")
@require_role(Role.CUSTODIAN)
def job_show(job_id: int) -> ResponseReturnValue:
    return jsonify(job_json(visible_job(job_id)))


@api.route("/jobs/<int:job_id>/download")
@require_role(Role.CUSTODIAN)
def job_download(job_id: int) -> ResponseReturnValue:
    return download(visible_job(job_id))
