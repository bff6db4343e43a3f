"""A thread as the platform showed it, one item's history, and the media they showed."""

from __future__ import annotations

from flask import Blueprint

items = Blueprint("items", __name__)
