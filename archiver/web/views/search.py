"""Search: the query language with filters, facet counts, highlighted snippets and paging."""

from __future__ import annotations

from flask import Blueprint, render_template

from archiver.access.roles import Role
from archiver.web.desk import require_role

search = Blueprint("search", __name__, url_prefix="/search")


@search.route("")
@require_role(Role.VIEWER)
def index() -> str:
    return render_template("search.html")
