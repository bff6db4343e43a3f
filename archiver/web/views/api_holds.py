"""``/api/holds``: legal holds and their productions as JSON (legal staff and up, bearer
tokens). The same library calls, checks and audit as the pages (:mod:`.holds`)."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from archiver.access.roles import Role
from archiver.jobs.kinds import JobKind
from archiver.retention.holds import list_holds
from archiver.retention.scope import ScopePreview
from archiver.web.desk import archive, require_role, signed_in
from archiver.web.scopes import ScopeFields
from archiver.web.views.api import api
from archiver.web.views.api_jobs import job_json, job_started, json_body
from archiver.web.views.holds import end_hold, new_hold, scope_preview, shown_hold
from archiver.web.views.jobs import visible_jobs
from archiver.web.views.productions import start_production

CREATED = 201


def _preview_json(preview: ScopePreview) -> dict[str, object]:
    return {"count": preview.count, "first_items": preview.items}


@api.route("/holds")
@require_role(Role.LEGAL)
def holds_list() -> ResponseReturnValue:
    return jsonify({"holds": list_holds(archive(), within=signed_in().limit)})


@api.route("/holds", methods=["POST"])
@require_role(Role.LEGAL)
def hold_add() -> ResponseReturnValue:
    body = json_body()
    scope = body.get("scope")
    made = new_hold(body, ScopeFields.read(scope if isinstance(scope, dict) else {}))
    return jsonify(made), CREATED


@api.route("/holds/preview")
@require_role(Role.LEGAL)
def hold_preview() -> ResponseReturnValue:
    return jsonify(_preview_json(scope_preview(ScopeFields.read(request.args))))


@api.route("/holds/show/<path:name>")
@require_role(Role.LEGAL)
def hold_show(name: str) -> ResponseReturnValue:
    detail, preview = shown_hold(name)
    return jsonify({**detail, **_preview_json(preview), "items": preview.count,
                    "productions": [job_json(j) for j in
                                    visible_jobs([JobKind.PRODUCTION], subject=name)]})


@api.route("/holds/release/<path:name>", methods=["POST"])
@require_role(Role.LEGAL)
def hold_release(name: str) -> ResponseReturnValue:
    return jsonify(end_hold(name, str(json_body().get("reason") or "")))


@api.route("/holds/produce/<path:name>", methods=["POST"])
@require_role(Role.LEGAL)
def hold_produce(name: str) -> ResponseReturnValue:
    return job_started(start_production(name, str(json_body().get("bates_prefix") or "")))
