"""A thread as the platform showed it, one item's history, and the media they showed."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template

from archiver.access.roles import Role
from archiver.web.desk import require_role
from archiver.web.reading import THREAD_PAGE, download_media, read_history, read_thread
from archiver.web.views.records_common import position

items = Blueprint("items", __name__)


@items.route("/items/<int:item_id>/thread")
@require_role(Role.VIEWER)
def thread(item_id: int) -> str:
    return render_template("thread.html", thread=read_thread(item_id, position("start")),
                           focus=item_id, page_size=THREAD_PAGE)


@items.route("/items/<int:item_id>")
@require_role(Role.VIEWER)
def history(item_id: int) -> str:
    detail = read_history(item_id)
    evidence = (json.dumps(detail["removal_evidence"], indent=2, ensure_ascii=False)
                if detail["removal_evidence"] is not None else None)
    return render_template("item.html", item=detail, evidence=evidence)


@items.route("/media/<sha256>")
@require_role(Role.VIEWER)
def media(sha256: str) -> Response:
    return download_media(sha256)
