"""Search: the query language with filters, facet counts, highlighted snippets and paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from archiver.access.roles import Role
from archiver.errors import ArchiverError
from archiver.search.filters import PRIVATE_KINDS, filters_from_options
from archiver.search.interface import SearchFilters
from archiver.search.items import (
    KIND_VALUES,
    STATUS_VALUES,
    SearchOutcome,
    facet_counts,
    search_items,
    snippet,
)
from archiver.store.accounts import list_accounts
from archiver.web.desk import archive, audit, options, require_role, signed_in

search = Blueprint("search", __name__, url_prefix="/search")

# The form's fields, in the order of the query string.
FIELDS = ("q", "account", "platform", "kind", "status", "author", "since", "until")
MAX_PAGE = 10_000


@dataclass
class SearchRequest:
    """A search as the form or the API asked for it, parsed; ``error`` when it cannot run."""

    query: str
    filters: SearchFilters
    page: int
    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def parse_search(args: MultiDict[str, str]) -> SearchRequest:
    """The query, filters and page from a query string (the same for pages and the API)."""
    values = {name: args.get(name, "").strip() for name in FIELDS}
    query = values["q"] or "*"
    try:
        page = min(max(int(args.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    error = None
    # Even a search whose options are refused never shows direct messages.
    filters = SearchFilters(without_kinds=PRIVATE_KINDS)
    try:
        account = values["account"]
        if account and not account.isdigit():
            raise ArchiverError(f"account {account!r} is not an account id")
        for name, allowed in (("kind", KIND_VALUES), ("status", STATUS_VALUES)):
            if values[name] and values[name] not in allowed:
                raise ArchiverError(f"{name} {values[name]!r} is not one of "
                                    f"{', '.join(allowed)}")
        filters = filters_from_options(
            {"account_id": int(account) if account else None,
             "platform": values["platform"] or None, "kind": values["kind"] or None,
             "status": values["status"] or None, "author": values["author"] or None,
             "since": values["since"] or None, "until": values["until"] or None},
            archive().settings.tz)
    except ArchiverError as exc:
        error = str(exc)
    return SearchRequest(query, filters, page, values, error)


def run_search(wanted: SearchRequest) -> tuple[SearchOutcome, dict[str, dict[str, int]]]:
    """The search and its facet counts, within the reader's limit, audited."""
    access = signed_in()
    size = options().page_size
    outcome = search_items(archive(), wanted.query, wanted.filters, limit=size,
                           offset=(wanted.page - 1) * size, within=access.limit)
    facets = facet_counts(archive(), wanted.query, wanted.filters, within=access.limit)
    audit("desk.search", "search", None,
          {"query": wanted.query, "filters": wanted.filters.as_json(), "page": wanted.page,
           "total": outcome.total})
    return outcome, facets


@search.route("")
@require_role(Role.VIEWER)
def index() -> tuple[str, int] | str:
    access = signed_in()
    wanted = parse_search(request.args)
    accounts = {a.id: a for a in list_accounts(archive()) if access.limit.allows(a.id)}
    context: dict[str, Any] = {"wanted": wanted, "accounts": accounts,
                               "kinds": KIND_VALUES, "statuses": STATUS_VALUES,
                               "outcome": None, "facets": {}, "snippet": snippet,
                               "page_size": options().page_size, "link": _link, "Role": Role}
    searched = bool(request.args)
    if wanted.error is None and searched:
        try:
            context["outcome"], context["facets"] = run_search(wanted)
        except ArchiverError as exc:  # a query the language refuses, an unknown account
            wanted.error = str(exc)
    status = 400 if wanted.error else 200
    return render_template("search.html", searched=searched, **context), status


def _link(values: dict[str, str], **changes: Any) -> str:
    """This search's address with some fields changed (None or "" removes one)."""
    from urllib.parse import urlencode

    merged = {**values, **{k: ("" if v is None else str(v)) for k, v in changes.items()}}
    pairs = [(k, merged[k]) for k in (*FIELDS, "page") if merged.get(k)]
    return "/search?" + urlencode(pairs)
