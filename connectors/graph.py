"""The Graph API as every Meta connector reads it (Facebook Pages, Instagram, their stories and
messages): typed field access, ``data`` edges, error and rate-limit answers, usage pacing numbers
and the ``GET /{node}/{edge}`` listing.

Followed: paging https://developers.facebook.com/docs/graph-api/results, errors
https://developers.facebook.com/docs/graph-api/guides/error-handling, rate limits
https://developers.facebook.com/docs/graph-api/overview/rate-limiting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import httpx

from archiver.connectors.base import (
    Classification,
    NextUrlPaging,
    PageRequest,
    Verdict,
    classify_http,
    one_line,
)
from archiver.connectors.errors import MalformedResponse
from archiver.connectors.stories import PermittedListing
from archiver.connectors.streams import TreeStream

if TYPE_CHECKING:
    # Named only in the string type argument of GraphEdgeStream's base.
    from archiver.connectors.facebook import FacebookConnector  # noqa: F401

if TYPE_CHECKING:
    pass

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
AUTH_CODES = frozenset({102, 104, 190})
PERMISSION_CODES = frozenset({10}) | frozenset(range(200, 300))
# Usage (percent) from which we pace our calls; Meta throttles at 100.
USAGE_SLOWDOWN_AT = 90

def parse_graph_time(value: Any, path: str) -> datetime | None:
    """``"2024-05-01T14:03:22+0000"`` → an aware UTC datetime (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"response from {path}: a timestamp is not a string")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedResponse(f"response from {path}: unreadable timestamp") from None


def _opt(item: dict[str, Any], key: str, kind: type, path: str) -> Any:
    value = item.get(key)
    if value is not None and not isinstance(value, kind):
        raise MalformedResponse(f"response from {path}: field {key!r} has the wrong type")
    return value


def _edge_data(edge: Any, path: str) -> list[dict[str, Any]]:
    data = edge.get("data") if isinstance(edge, dict) else None
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise MalformedResponse(f"response from {path}: expected a list of objects under 'data'")
    return data


def _id(item: dict[str, Any], path: str) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"response from {path}: an item without an id")
    return value


def _graph_error(payload: Any) -> dict[str, Any] | None:
    err = payload.get("error") if isinstance(payload, dict) else None
    return err if isinstance(err, dict) else None


def permission_refused(payload: Any) -> bool:
    """Is this Graph answer a refusal for a permission the token lacks (code 10, 200-299)?"""
    err = _graph_error(payload)
    return err is not None and err.get("code") in PERMISSION_CODES


def _usage_numbers(response: httpx.Response) -> tuple[float, float]:
    """(highest usage percent, longest ``estimated_time_to_regain_access`` in minutes)."""
    pct, regain = 0.0, 0.0
    for header in ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage"):
        text = response.headers.get(header)
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue  # a garbled hint is no reason to fail a read
        blocks: list[Any] = [data]
        if header == "X-Business-Use-Case-Usage" and isinstance(data, dict):
            blocks = [b for v in data.values() if isinstance(v, list) for b in v]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            for key, value in block.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                if key == "estimated_time_to_regain_access":
                    regain = max(regain, float(value))
                elif key in ("call_count", "total_time", "total_cputime"):
                    pct = max(pct, float(value))
    return pct, regain


def classify_graph(response: httpx.Response, payload: Any) -> Classification:
    """What a Graph answer means: rate limit, token problem, unknown object, transient, ..."""
    err = _graph_error(payload)
    if err is None:
        return classify_http(response)
    code, sub = err.get("code"), err.get("error_subcode")
    label = f"{code}/{sub}" if sub is not None else f"{code}"
    detail = (
        f"Graph error {label} ({err.get('type')}): {one_line(str(err.get('message', '')), 200)}"
    )
    if code in RATE_LIMIT_CODES or (isinstance(code, int) and 80000 <= code <= 80099):
        _, regain = _usage_numbers(response)
        return Classification(Verdict.RATE_LIMITED, wait=regain * 60 or None, detail=detail)
    if code in AUTH_CODES:
        return Classification(
            Verdict.AUTH, detail=f"the access token is invalid or expired ({detail})"
        )
    if code in PERMISSION_CODES:
        return Classification(Verdict.AUTH, detail=f"the token lacks a permission ({detail})")
    if code == 100 and sub == 33:
        return Classification(Verdict.NOT_FOUND, detail=detail)
    if err.get("is_transient") is True or code in (1, 2) or response.status_code >= 500:
        return Classification(Verdict.TRANSIENT, detail=detail)
    if response.status_code == 429:
        return Classification(Verdict.RATE_LIMITED, detail=detail)
    return Classification(Verdict.FATAL, detail=detail)


class GraphEdgeStream(TreeStream["FacebookConnector"]):
    """``GET /{node}/{edge}?fields=...&limit=...``: the shape of every Graph listing we read
    (Instagram's too): ``paging.next`` URLs, Graph error bodies.

    A subclass names the edge, the fields, any fixed parameters and its page size, says which
    node it lists (:meth:`node_id`) and parses a page.
    """

    paging = NextUrlPaging(("paging", "next"))
    edge: ClassVar[str]
    fields: ClassVar[str]
    params: ClassVar[Mapping[str, str]] = {}
    page_size: ClassVar[int]  # when the account's config names none
    page_max: ClassVar[int | None] = None  # the documented maximum, if any

    def node_id(self) -> str:
        """The Graph node whose edge is listed: the account's own at the top level."""
        return self.connector.config.account_external_id

    def first_request(self) -> PageRequest:
        limit = self.connector.config.page_size or self.page_size
        if self.page_max is not None:
            limit = min(limit, self.page_max)
        url = f"{self.connector.api_base}/{quote(self.node_id(), safe='')}/{self.edge}"
        return PageRequest(url, {**self.params, "fields": self.fields, "limit": str(limit)})

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return classify_graph(response, payload)



class PermittedGraphEdge(PermittedListing, GraphEdgeStream):
    """A Graph listing the token may lack the permission for (stories, conversations): a
    refusal for a missing permission is reported, the rest of the account read as before."""

    def classify(self, response: httpx.Response, payload: Any) -> Classification:
        return self.permitted(classify_graph(response, payload), permission_refused(payload))


def _unix_time(value: Any) -> datetime | None:
    """Graph's Unix seconds as a UTC time; 0 or nothing means "never"."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
