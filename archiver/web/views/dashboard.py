"""The dashboard: capture health, what arrived, what is due, holds, what may be disposed of."""

from __future__ import annotations

import os

from flask import Blueprint, render_template

from archiver.access.roles import Role
from archiver.dashboard import dashboard as summary
from archiver.web import chart
from archiver.web.desk import archive, calendar, require_role, signed_in

dashboard = Blueprint("dashboard", __name__)


@dashboard.route("/")
@require_role(Role.VIEWER)
def index() -> str:
    access = signed_in()
    found = summary(archive(), calendar(), environ=os.environ, within=access.limit)
    return render_template("dashboard.html", board=found,
                           bars=chart.bars(found.captures_per_day), chart=chart,
                           Role=Role)
