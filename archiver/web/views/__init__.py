"""One blueprint per page family; :data:`BLUEPRINTS` is what ``create_app`` registers."""

from __future__ import annotations

from archiver.web.views.api import api
from archiver.web.views.auth import auth
from archiver.web.views.dashboard import dashboard
from archiver.web.views.items import items
from archiver.web.views.search import search

BLUEPRINTS = (auth, dashboard, search, items, api)
