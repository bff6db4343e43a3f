"""A thread as the platform showed it, one item's history, and the media they showed."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template

from archiver.access.roles import Role
from archiver.item_history import item_history, item_thread, readable_media
from archiver.web.desk import archive, audit, require_role, signed_in
from archiver.web.security import attachment

items = Blueprint("items", __name__)


@items.route("/items/<int:item_id>/thread")
@require_role(Role.VIEWER)
def thread(item_id: int) -> str:
    view = item_thread(archive(), item_id, within=signed_in().limit)
    audit("desk.thread_view", "item", item_id, {"thread_root": view.root_id,
                                                "items": len(view.items)})
    return render_template("thread.html", thread=view, focus=item_id)


@items.route("/items/<int:item_id>")
@require_role(Role.VIEWER)
def history(item_id: int) -> str:
    detail = item_history(archive(), item_id, within=signed_in().limit)
    audit("desk.item_view", "item", item_id, {"versions": len(detail["versions"])})
    evidence = (json.dumps(detail["removal_evidence"], indent=2, ensure_ascii=False)
                if detail["removal_evidence"] is not None else None)
    return render_template("item.html", item=detail, evidence=evidence)


@items.route("/media/<sha256>")
@require_role(Role.VIEWER)
def media(sha256: str) -> Response:
    found = readable_media(archive(), sha256, within=signed_in().limit)
    audit("desk.media_download", "media", sha256, {"media_type": found.media.media_type,
                                                   "size": found.media.size})
    return attachment(found.data, found.media.name, found.media.media_type)
