"""``/api/requests``: the records request register as JSON (custodians and up, bearer
tokens). The same library calls, checks and audit as the pages (:mod:`.requests`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.exports.requests import close_request, get_request_view, list_requests
from archiver.web.background import submit
from archiver.web.desk import archive, require_role, signed_in
from archiver.web.scopes import ScopeFields, flag
from archiver.web.views.api import api
from archiver.web.views.api_jobs import job_json, job_started, json_body
from archiver.web.views.requests import (
    PackageChoices,
    calendar,
    redaction_preview,
    register_request,
    request_packages,
    widen_scope,
)

CREATED = 201


def _scope_fields(body: dict[str, Any]) -> ScopeFields:
    scope = body.get("scope")
    return ScopeFields.read(scope if isinstance(scope, dict) else {})


def _choices(values: Any) -> PackageChoices:
    withhold = values.get("withhold") or []
    lines = [withhold] if isinstance(withhold, str) else list(withhold)
    return PackageChoices(redact=flag(values.get("redact", True)),
                          withhold=tuple(str(w).strip() for w in lines if str(w).strip()),
                          pdf=flag(values.get("pdf", True)))


@api.route("/requests")
@require_role(Role.CUSTODIAN)
def requests_list() -> ResponseReturnValue:
    views = list_requests(archive(), calendar(), include_closed=flag(request.args.get("all")))
    return jsonify({"requests": [v.as_json() for v in views]})


@api.route("/requests", methods=["POST"])
@require_role(Role.CUSTODIAN)
def request_add() -> ResponseReturnValue:
    body = json_body()
    view = register_request(body, _scope_fields(body))
    return jsonify(view.as_json()), CREATED


@api.route("/requests/show/<path:request_id>")
@require_role(Role.CUSTODIAN)
def request_show(request_id: str) -> ResponseReturnValue:
    view = get_request_view(archive(), request_id, calendar())
    return jsonify({**view.as_json(),
                    "packages": [job_json(j) for j in request_packages(request_id)]})


@api.route("/requests/scope/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def request_scope(request_id: str) -> ResponseReturnValue:
    return jsonify(widen_scope(request_id, ScopeFields.read(json_body())).as_json())


@api.route("/requests/preview/<path:request_id>")
@require_role(Role.CUSTODIAN)
def request_preview(request_id: str) -> ResponseReturnValue:
    args = {"redact": request.args.get("redact", "1"), "pdf": "1",
            "withhold": request.args.getlist("withhold")}
    preview = redaction_preview(request_id, _choices(args))
    return jsonify({"threads": preview.threads, "threads_read": preview.threads_read,
                    "items_read": preview.items_read, "complete": preview.complete,
                    "by_exemption": [{"exemption": e, "marks": n}
                                     for e, n in preview.by_exemption],
                    "redactions": [{**asdict(shown.redaction), "result": shown.result}
                                   for shown in preview.redactions]})


@api.route("/requests/package/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def request_package(request_id: str) -> ResponseReturnValue:
    return job_started(submit(_choices(json_body()).job(request_id)))


@api.route("/requests/close/<path:request_id>", methods=["POST"])
@require_role(Role.CUSTODIAN)
def request_close(request_id: str) -> ResponseReturnValue:
    close_request(archive(), request_id, actor=signed_in().name)
    return jsonify(get_request_view(archive(), request_id, calendar()).as_json())
