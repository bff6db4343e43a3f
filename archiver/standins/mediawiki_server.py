"""A loopback server speaking enough of the MediaWiki Action API to archive a department wiki.

Shapes follow mediawiki.org/wiki/API:Query, API:Continue, API:Allpages, API:Revisions,
API:Logevents and API:Errors_and_warnings, with ``format=json&formatversion=2``:

* ``list=allpages`` (``apcontinue``), ``prop=revisions&pageids=…`` with every revision
  (``rvdir=newer``, ``rvcontinue``; content in ``slots.main.content``; a deleted revision's text
  shows as ``texthidden``), ``pageids=…`` (``missing: true`` once deleted), ``revids=…``
  (``badrevids``), ``list=logevents&letype=delete`` (``lecontinue``);
* ``meta=siteinfo&siprop=general`` and the main page's ``prop=revisions&titles=Main Page``
  (API:Siteinfo; the sample department's text);
* continuation in a ``continue`` object that the client sends back whole;
* errors as ``{"error": {"code", "info"}}`` with HTTP 200 and a ``MediaWiki-API-Error`` header,
  ``maxlag`` with ``Retry-After``.

The wiki is generated (:func:`sample_wiki`); :func:`second_state` adds an edit, hides one
revision's text (revision deletion: the moderation change) and deletes a page (with its log event).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.standins.loopback import Answer, Fault, LoopbackServer, Request
from archiver.standins.profiles import sample_profile

DEFAULT_TOKEN = "sample-wiki-oauth-token"  # noqa: S105 - made up, loopback only


@dataclass
class ApiFault(Fault):
    """A :class:`Fault` that also names the platform's error ``reason`` (its error code)."""

    reason: str | None = None


@dataclass(frozen=True)
class Rev:
    """One revision of a page."""

    revid: int
    user: str
    timestamp: str
    comment: str
    content: str
    texthidden: bool = False


@dataclass(frozen=True)
class WikiPage:
    """A page and its revisions, oldest first."""

    pageid: int
    title: str
    revisions: tuple[Rev, ...]


@dataclass(frozen=True)
class LogEvent:
    """A ``delete`` log entry."""

    logid: int
    title: str
    logpage: int
    action: str
    user: str
    timestamp: str
    comment: str


@dataclass(frozen=True)
class Wiki:
    """Live pages plus the deletion log."""

    pages: tuple[WikiPage, ...]
    log: tuple[LogEvent, ...] = ()


def _ts(day: int, hour: int = 9) -> str:
    # Day 32 rolls over into April, so a benchmark-sized wiki still has real dates.
    at = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour)
    return at.strftime("%Y-%m-%dT%H:00:00Z")


def sample_wiki(pages: int = 6) -> Wiki:
    """Pages 1..n; page k has k % 4 + 1 revisions."""
    out = []
    revid = 500
    for k in range(1, pages + 1):
        revs = []
        for r in range(1, k % 4 + 2):
            revid += 1
            revs.append(
                Rev(
                    revid,
                    f"Editor{r}",
                    _ts(k, 8 + r),
                    f"edit {r}",
                    f"== Policy {k} ==\nRevision {r} of policy {k}.",
                )
            )
        out.append(WikiPage(100 + k, f"Policy {k}", tuple(revs)))
    return Wiki(tuple(out))


EDITED_PAGE, HIDDEN_REV, DELETED_PAGE = 101, 503, 104


def second_state(wiki: Wiki) -> Wiki:
    """Page 101 edited, revision 503's text hidden, page 104 deleted (logged)."""
    pages = []
    log = list(wiki.log)
    next_rev = 1 + max(r.revid for p in wiki.pages for r in p.revisions)
    for p in wiki.pages:
        if p.pageid == DELETED_PAGE:
            log.append(
                LogEvent(
                    9001,
                    p.title,
                    p.pageid,
                    "delete",
                    "Sysop",
                    _ts(25),
                    "content was: outdated policy",
                )
            )
            continue
        revs = tuple(
            replace(r, texthidden=True) if r.revid == HIDDEN_REV else r for r in p.revisions
        )
        if p.pageid == EDITED_PAGE:
            revs += (Rev(next_rev, "Editor9", _ts(24), "update", "== Policy 1 ==\nAmended."),)
        pages.append(replace(p, revisions=revs))
    return Wiki(tuple(pages), tuple(log))


class MediaWikiServer(LoopbackServer):
    """A MediaWiki ``api.php`` look-alike on 127.0.0.1 (``base_url`` is the api.php URL)."""

    base_path = "/w/api.php"

    def __init__(
        self, wiki: Wiki | None = None, *, page_size: int = 4, token: str | None = DEFAULT_TOKEN
    ) -> None:
        super().__init__()
        self.wiki = wiki or sample_wiki()
        self.page_size = page_size
        self.token = token  # None: a public wiki that reads without credentials
        # The wiki's name and main page (the sample department's text).
        self.profile: dict[str, Any] = sample_profile("mediawiki")

    def apply_second_state(self) -> None:
        """Serve :func:`second_state` of the current wiki from now on."""
        self.wiki = second_state(self.wiki)

    def api_error(self, code: str, retry_after: str | None = None, **match: Any) -> Fault:
        """Answer ``{"error": {"code": code}}`` (HTTP 200, as MediaWiki does)."""
        return self.add_fault(ApiFault("api_error", reason=code, retry_after=retry_after, **match))

    def fault_answer(self, fault: Fault, request: Request) -> Answer | None:
        if fault.kind == "api_error" and isinstance(fault, ApiFault):
            status, hdrs, body = self.error(fault.reason or "unknown", "Injected error.")
            if fault.retry_after:
                hdrs["Retry-After"] = fault.retry_after
            return status, hdrs, body
        if fault.kind == "status":
            return fault.status, {"Content-Type": "text/html"}, b"<h1>503 Service Unavailable</h1>"
        if fault.kind == "retry_after":
            return 429, {"Retry-After": fault.retry_after or "1"}, b"Too Many Requests"
        return None

    @staticmethod
    def error(code: str, info: str) -> Answer:
        body = {"error": {"code": code, "info": info, "docref": "See api.php for API usage."}}
        return (
            200,
            {"Content-Type": "application/json; charset=utf-8", "MediaWiki-API-Error": code},
            json.dumps(body).encode(),
        )

    @staticmethod
    def ok(payload: dict[str, Any]) -> Answer:
        return (
            200,
            {"Content-Type": "application/json; charset=utf-8"},
            json.dumps(payload).encode(),
        )

    def route(self, request: Request) -> Answer:
        token, how = self.credential(request)
        if how == "header" and token != self.token:
            return self.error(
                "mwoauth-invalid-authorization",
                "The authorization headers in your request are not valid: Invalid access token",
            )
        if self.token is not None and token != self.token:
            return self.error("readapidenied", "You need read permission to use this module.")
        q = request.query
        if q.get("action") != "query" or q.get("formatversion") != "2":
            return self.error("badvalue", "Only action=query with formatversion=2 is served here.")
        if q.get("meta") == "siteinfo":
            return self.siteinfo()
        if "titles" in q and q.get("prop") == "revisions":
            return self.main_page(q["titles"])
        if q.get("list") == "allpages":
            return self.allpages(request)
        if q.get("list") == "logevents":
            return self.logevents(request)
        if "revids" in q:
            return self.by_revids(q["revids"])
        if "pageids" in q and q.get("prop") == "revisions":
            return self.revisions(request)
        if "pageids" in q:
            pages = []
            for raw in q["pageids"].split("|"):
                page = self.page(raw)
                pages.append(
                    {"pageid": page.pageid, "ns": 0, "title": page.title}
                    if page
                    else {"pageid": int(raw) if raw.isdigit() else 0, "missing": True}
                )
            return self.ok({"batchcomplete": True, "query": {"pages": pages}})
        return self.error("badvalue", "Unrecognized query.")

    def siteinfo(self) -> Answer:
        """``meta=siteinfo&siprop=general``: the wiki's name and main page."""
        p = self.profile
        base = self.base_url.removesuffix(self.base_path) + "/wiki/Main_Page"
        return self.ok({"batchcomplete": True, "query": {"general": {
            "mainpage": p["mainpage"], "base": base, "sitename": p["sitename"],
            "generator": "MediaWiki 1.41.0", "lang": "en"}}})

    def main_page(self, titles: str) -> Answer:
        """``prop=revisions&titles=...``: the main page's current wikitext (the sample
        department's text); any other title is missing."""
        p = self.profile
        pages: list[dict[str, Any]] = []
        for title in titles.split("|"):
            if title.replace("_", " ") == p["mainpage"]:
                pages.append({"pageid": 1, "ns": 0, "title": p["mainpage"], "revisions": [
                    {"slots": {"main": {"contentmodel": "wikitext",
                                        "contentformat": "text/x-wiki",
                                        "content": p["content"]}}}]})
            else:
                pages.append({"ns": 0, "title": title, "missing": True})
        return self.ok({"batchcomplete": True, "query": {"pages": pages}})

    def page(self, raw: str) -> WikiPage | None:
        return next((p for p in self.wiki.pages if str(p.pageid) == raw), None)

    def _slice(
        self,
        request: Request,
        key: str,
        rows: list[Any],
        limit_key: str,
    ) -> tuple[list[Any], dict[str, str] | None]:
        start = request.query.get(key)
        offset = int(start) if start and start.isdigit() else 0
        limit = min(int(request.query.get(limit_key, "10") or 10), self.page_size)
        end = offset + max(limit, 1)
        if request.loop:
            return rows[offset:end], {key: start or "0", "continue": "-||"}
        return rows[offset:end], ({key: str(end), "continue": "-||"} if end < len(rows) else None)

    def _answer(self, body: dict[str, Any], cont: dict[str, str] | None) -> Answer:
        if cont:
            body["continue"] = cont
        else:
            body["batchcomplete"] = True
        return self.ok(body)

    def allpages(self, request: Request) -> Answer:
        rows = [
            {"pageid": p.pageid, "ns": 0, "title": p.title}
            for p in sorted(self.wiki.pages, key=lambda p: p.title)
        ]
        part, cont = self._slice(request, "apcontinue", rows, "aplimit")
        return self._answer({"query": {"allpages": part}}, cont)

    def logevents(self, request: Request) -> Answer:
        rows = [
            {
                "logid": e.logid,
                "ns": 0,
                "title": e.title,
                "pageid": 0,
                "logpage": e.logpage,
                "revid": 0,
                "params": {},
                "type": "delete",
                "action": e.action,
                "user": e.user,
                "timestamp": e.timestamp,
                "comment": e.comment,
            }
            for e in sorted(self.wiki.log, key=lambda e: e.timestamp, reverse=True)
        ]
        part, cont = self._slice(request, "lecontinue", rows, "lelimit")
        return self._answer({"query": {"logevents": part}}, cont)

    @staticmethod
    def rev_json(r: Rev, parent: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "revid": r.revid,
            "parentid": parent,
            "user": r.user,
            "timestamp": r.timestamp,
            "comment": r.comment,
            "size": len(r.content.encode()),
        }
        if r.texthidden:
            out["texthidden"] = True
            out["sha1hidden"] = True
            out["slots"] = {
                "main": {
                    "contentmodel": "wikitext",
                    "contentformat": "text/x-wiki",
                    "texthidden": True,
                }
            }
        else:
            out["sha1"] = hashlib.sha1(r.content.encode()).hexdigest()  # noqa: S324 - MW's own
            out["slots"] = {
                "main": {
                    "contentmodel": "wikitext",
                    "contentformat": "text/x-wiki",
                    "content": r.content,
                }
            }
        return out

    def revisions(self, request: Request) -> Answer:
        page = self.page(request.query["pageids"])
        if page is None:
            return self.ok(
                {
                    "batchcomplete": True,
                    "query": {
                        "pages": [{"pageid": int(request.query["pageids"] or 0), "missing": True}]
                    },
                }
            )
        revs = [
            self.rev_json(r, page.revisions[i - 1].revid if i else 0)
            for i, r in enumerate(page.revisions)
        ]
        if request.query.get("rvdir") != "newer":
            revs.reverse()
        part, cont = self._slice(request, "rvcontinue", revs, "rvlimit")
        body = {
            "query": {
                "pages": [{"pageid": page.pageid, "ns": 0, "title": page.title, "revisions": part}]
            }
        }
        return self._answer(body, cont)

    def by_revids(self, raw: str) -> Answer:
        pages: list[dict[str, Any]] = []
        bad: dict[str, Any] = {}
        for rid in raw.split("|"):
            hit = next(
                (
                    (p, i)
                    for p in self.wiki.pages
                    for i, r in enumerate(p.revisions)
                    if str(r.revid) == rid
                ),
                None,
            )
            if hit is None:
                bad[rid] = {"revid": int(rid) if rid.isdigit() else 0, "missing": True}
                continue
            p, i = hit
            parent = p.revisions[i - 1].revid if i else 0
            pages.append(
                {
                    "pageid": p.pageid,
                    "ns": 0,
                    "title": p.title,
                    "revisions": [self.rev_json(p.revisions[i], parent)],
                }
            )
        query: dict[str, Any] = {"pages": pages}
        if bad:
            query["badrevids"] = bad
        return self.ok({"batchcomplete": True, "query": query})
