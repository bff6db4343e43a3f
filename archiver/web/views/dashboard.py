"""The dashboard: capture health, what arrived, what is due, holds, what may be disposed of."""

from __future__ import annotations

from flask import Blueprint, render_template

from archiver.access.roles import Role
from archiver.web.desk import require_role

dashboard = Blueprint("dashboard", __name__)


@dashboard.route("/")
@require_role(Role.VIEWER)
def index() -> str:
    return render_template("dashboard.html")
