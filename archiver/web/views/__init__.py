"""One blueprint per page family; :data:`BLUEPRINTS` is what ``create_app`` registers."""

from __future__ import annotations

from archiver.web.views.accounts import accounts
from archiver.web.views.api import api
from archiver.web.views.api_accounts import api_accounts
from archiver.web.views.api_audit import api_audit
from archiver.web.views.api_retention import api_retention
from archiver.web.views.audit import audit
from archiver.web.views.auth import auth
from archiver.web.views.dashboard import dashboard
from archiver.web.views.items import items
from archiver.web.views.retention import retention
from archiver.web.views.search import search
from archiver.web.views.users import me, users

BLUEPRINTS = (
    auth, dashboard, search, items, api,
    accounts, api_accounts,
    audit, api_audit,
    users, me,
    retention, api_retention,
)
