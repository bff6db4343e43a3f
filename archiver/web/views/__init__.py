"""One blueprint per page family; :data:`BLUEPRINTS` is what ``create_app`` registers."""

from __future__ import annotations

# The JSON twins put their routes on ``api``: importing them is what adds the routes.
from archiver.web.views import (
    api_holds,  # noqa: F401
    api_jobs,  # noqa: F401
    api_requests,  # noqa: F401
)
from archiver.web.views.accounts import accounts
from archiver.web.views.api import api
from archiver.web.views.api_accounts import api_accounts
from archiver.web.views.api_audit import api_audit
from archiver.web.views.api_retention import api_retention
from archiver.web.views.audit import audit
from archiver.web.views.auth import auth
from archiver.web.views.dashboard import dashboard
from archiver.web.views.holds import holds
from archiver.web.views.items import items
from archiver.web.views.jobs import jobs
from archiver.web.views.productions import productions
from archiver.web.views.requests import requests_pages
from archiver.web.views.retention import retention
from archiver.web.views.search import search
from archiver.web.views.users import me, users

BLUEPRINTS = (
    auth, dashboard, search, items, api,
    requests_pages,
    holds,
    productions,
    jobs,
    accounts, api_accounts,
    audit, api_audit,
    users, me,
    retention, api_retention,
)
