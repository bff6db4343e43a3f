"""``/api/``: the desk's data as JSON for scripts, with per-user bearer tokens and the same
roles and account limits as the pages (``Authorization: Bearer arv_...``).

Each endpoint makes the same library call as its page and is audited the same way.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from archiver.access.roles import Role
from archiver.access.tokens import token_access
from archiver.access.users import Access
from archiver.dashboard import dashboard as summary
from archiver.errors import ArchiverError
from archiver.exports.selection import ThreadView
from archiver.web.desk import archive, calendar, require_role, signed_in
from archiver.web.reading import download_media, read_history, read_thread
from archiver.web.views.records_common import position
from archiver.web.views.search import parse_search, run_search

api = Blueprint("api", __name__, url_prefix="/api")


def bearer_access() -> Access | None:
    """The access of the request's bearer token (None: no token, or not a valid one)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token_access(archive(), token.strip())


def _plain(value: Any) -> Any:
    """Dataclass fields as JSON values: times in ISO 8601 UTC, dates as YYYY-MM-DD."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@api.route("/me")
@require_role(Role.VIEWER)
def me() -> Response:
    access = signed_in()
    ids = access.limit.account_ids
    return jsonify({"name": access.name, "role": str(access.role),
                    "accounts": "all" if ids is None else sorted(ids)})


@api.route("/dashboard")
@require_role(Role.VIEWER)
def dashboard() -> Response:
    access = signed_in()
    found = summary(archive(), calendar(), environ=os.environ, within=access.limit)
    # Each account as /api/accounts shows it.
    data = _plain({**asdict(found), "accounts": [a.as_json() for a in found.accounts]})
    # The same sections the page shows this role.
    if not access.at_least(Role.CUSTODIAN):
        data.pop("requests_overdue")
        data.pop("requests_due_soon")
    if not access.at_least(Role.LEGAL):
        data.pop("holds")
    if not access.at_least(Role.RECORDS_MANAGER):
        data.pop("eligible_for_disposition")
    return jsonify(data)


@api.route("/search")
@require_role(Role.VIEWER)
def search() -> tuple[Response, int] | Response:
    wanted = parse_search(request.args)
    if wanted.error is not None:
        return jsonify({"error": "bad search", "message": wanted.error}), 400
    try:
        outcome, facets = run_search(wanted)
    except ArchiverError as exc:
        return jsonify({"error": "bad search", "message": str(exc)}), 400
    return jsonify({**outcome.as_json(), "page": wanted.page, "facets": facets})


@api.route("/items/<int:item_id>")
@require_role(Role.VIEWER)
def item(item_id: int) -> Response:
    return jsonify(read_history(item_id))


@api.route("/items/<int:item_id>/thread")
@require_role(Role.VIEWER)
def thread(item_id: int) -> Response:
    size = min(position("size") or API_THREAD_PAGE, API_THREAD_PAGE)
    return jsonify(thread_json(read_thread(item_id, position("start"), size)))


# Items one answer carries at most; ``start`` pages through a longer thread.
API_THREAD_PAGE = 1000


def thread_json(view: ThreadView) -> dict[str, Any]:
    """A thread in reading order: each item with its depth and every version; the head first,
    then the items from reading position ``start`` (``total`` in the whole thread)."""
    return {"root_id": view.root_id, "start": view.start, "total": view.count,
            "items": [_plain({**asdict(item), "edited": item.edited}) for item in view.items]}


@api.route("/media/<sha256>")
@require_role(Role.VIEWER)
def media(sha256: str) -> Response:
    return download_media(sha256)
