"""``/api/``: the desk's data as JSON for scripts, with per-user bearer tokens and the same
roles and account limits as the pages (``Authorization: Bearer arv_...``)."""

from __future__ import annotations

from flask import Blueprint, request

from archiver.access.tokens import token_access
from archiver.access.users import Access
from archiver.web.desk import archive

api = Blueprint("api", __name__, url_prefix="/api")


def bearer_access() -> Access | None:
    """The access of the request's bearer token (None: no token, or not a valid one)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token_access(archive(), token.strip())
